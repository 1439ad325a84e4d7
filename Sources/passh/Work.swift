import Passh

/// What a run does on every host.
enum Work: Sendable {
    case command([String])
    case copy(CopyOperation)
    case gather(GatherOperation)

    /// Runs it.
    func run(with passh: ParallelSSH, on hosts: [Host], sink: any OutputSink) async throws(PasshError) -> [HostResult] {
        switch self {
        case .command(let command): try await passh.run(command, on: hosts, sink: sink)
        case .copy(let copy): try await passh.copy(copy, to: hosts, sink: sink)
        case .gather(let gather): try await passh.gather(gather, from: hosts, sink: sink)
        }
    }
}
