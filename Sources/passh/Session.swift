import Passh
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// One run of the command-line tool: signals and a broken stdout stop it; the results become
/// the summary on stderr and the exit status.
struct Session {
    let passh: ParallelSSH
    let hosts: [Host]
    let command: [String]
    var writer: OutputWriter = .standard

    /// Runs and returns the exit status.
    func run() async -> Int32 {
        // A reader that goes away (`passh … | head -1`) must be an error passh handles, not a kill.
        signal(SIGPIPE, SIG_IGN)
        let control = RunControl()
        writer.onError { stream, _ in
            if stream == .stdout { control.stop(.brokenPipe) }
        }
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm, .sighup)
        let watcher = Task { await control.watch(signals) }
        defer { watcher.cancel() }

        let run = Task { [passh, hosts, command] in
            try await passh.run(command, on: hosts, sink: PrefixedSink(writer: writer))
        }
        control.attach(run)
        let results: [HostResult]
        do {
            results = try await run.value
        } catch let error as PasshError {
            await writer.flush()
            // A file that cannot be read: "No such file: F", exit 1, as the original passh.
            if error.code == .unreadableFile {
                printError(error.message)
                return 1
            }
            printError("passh: \(error.message)")
            return 64
        } catch {
            await writer.flush()
            printError("passh: \(error)")
            return 1
        }
        return await finish(results, stoppedBy: control.reason)
    }

    /// Prints the summary lines after the hosts' output and picks the exit status.
    private func finish(_ results: [HostResult], stoppedBy reason: StopReason?) async -> Int32 {
        if reason == .brokenPipe {
            await writer.flush()
            return 128 + SIGPIPE
        }
        var summary: [String] = []
        let failed = results.filter { !$0.isSuccess && $0.outcome != .cancelled }
        let unfinished = results.filter { $0.outcome == .cancelled }
        if case .signal(let signal) = reason {
            if !failed.isEmpty { summary.append("failed at: " + failed.map(\.host.name).joined(separator: " ")) }
            summary.append("passh: interrupted by \(signalName(signal)); did not finish: "
                + unfinished.map(\.host.name).joined(separator: " "))
        } else if failed.count + unfinished.count > 0 {
            let notOK = results.filter { !$0.isSuccess }
            summary.append("failed at: " + notOK.map(\.host.name).joined(separator: " "))
        }
        if !summary.isEmpty {
            await writer.write(Array((summary.joined(separator: "\n") + "\n").utf8), to: .stderr)
        }
        await writer.flush()
        if case .signal(let signal) = reason { return 128 + signal }
        return results.allSatisfy(\.isSuccess) ? 0 : 2
    }
}
