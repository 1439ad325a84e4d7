/// What the runner does on each host: run a command (``CommandOperation``), send the copy archive
/// (``CopyOperation``) or receive one (``GatherOperation``). Every operation goes through the
/// same runner and the same ``Transport``: fanout, timeouts, fail-fast and the sinks apply alike.
protocol HostOperation: Sendable {
    /// Whether each host gets a stdin file (it costs descriptors).
    func sendsStdin(_ options: RunOptions) -> Bool
    /// The descriptors a host's job holds beside its session's.
    var descriptorsPerJob: Int { get }
    /// Starts the work on one host: what its session runs, or why it cannot start.
    func job(for host: Host, options: RunOptions) -> JobStart
}

/// How an operation's work on one host starts.
enum JobStart {
    /// The job, ready to run.
    case ready(any HostJob)
    /// The host cannot run it (its directory cannot be made, say): the host fails with this.
    case failed(HostFailure)
}

/// One host's part of an operation.
protocol HostJob: Sendable {
    /// The remote command's words.
    var command: [String] { get }
    /// The session's options, from the run's.
    func session(_ options: SessionOptions) -> SessionOptions
    /// Whether the job takes the host's stdout (``receive(_:)``) instead of the sink.
    var takesStdout: Bool { get }
    /// Some of the host's stdout; `false` when the job has failed and the session must stop.
    func receive(_ chunk: OutputChunk) async -> Bool
    /// The host's outcome, given the session's, and what it moved.
    func finish(_ outcome: HostOutcome) async -> (HostOutcome, TransferTotals?)
    /// Lines for the host's stderr once it finished (after ``finish(_:)``): what the job itself has
    /// to say, such as a gather's skipped members.
    func warnings() -> [String]
}

extension HostOperation {
    var descriptorsPerJob: Int { 0 }
}

extension HostJob {
    var takesStdout: Bool { false }
    func receive(_ chunk: OutputChunk) async -> Bool { true }
    func warnings() -> [String] { [] }
}

/// Runs a command on every host.
struct CommandOperation: HostOperation, HostJob {
    let command: [String]

    func sendsStdin(_ options: RunOptions) -> Bool { options.stdinFile != nil }

    func job(for host: Host, options: RunOptions) -> JobStart { .ready(self) }

    func session(_ options: SessionOptions) -> SessionOptions { options }

    func finish(_ outcome: HostOutcome) -> (HostOutcome, TransferTotals?) { (outcome, nil) }
}
