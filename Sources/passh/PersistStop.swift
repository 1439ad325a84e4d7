import Passh

/// `--persist-stop`: closes the master connections `--persist` left open (a host that has none is
/// done already); returns the exit status.
func stopMasters(on hosts: [Host], ssh: OpenSSHOptions, writer: OutputWriter) async -> Int32 {
    let results = await ParallelSSH.stopMasters(on: hosts, ssh: ssh, sink: PrefixedSink(writer: writer))
    let failed = results.filter { !$0.isSuccess }
    if !failed.isEmpty {
        let lines =
            failed.map { "[\($0.host.name)] passh: \($0.outcome)" } + [
                "failed at: " + failed.map(\.host.name).joined(separator: " ")
            ]
        await writer.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: .stderr)
    }
    await writer.flush()
    return failed.isEmpty ? 0 : 2
}
