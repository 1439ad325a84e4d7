import Passh
import Synchronization
import SystemPackage
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// One run of the command-line tool: signals and a broken stdout stop it; on a terminal a progress
/// line shows how far it got; the results become the summary on stderr and the exit status.
struct Session {
    let passh: ParallelSSH
    let hosts: [Host]
    let command: [String]
    let sink: any OutputSink
    let writer: OutputWriter
    var failedTo: FilePath?
    var maxRC = false

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

        let onTerminal = isatty(2) == 1
        let progress = Progress(total: hosts.count)
        let ticker = onTerminal ? Task { await progress.show(on: writer) } : nil
        let run = Task { [passh, hosts, command, sink] in
            try await passh.run(command, on: hosts, sink: ProgressSink(inner: sink, progress: progress))
        }
        control.attach(run)
        let results: [HostResult]
        do {
            results = try await run.value
        } catch {
            ticker?.cancel()
            await writer.flush()
            return report(error as? PasshError ?? PasshError(.invalidOption, "\(error)"))
        }
        ticker?.cancel()
        _ = await ticker?.value
        writer.setStatus(nil)
        return await finish(results, stoppedBy: control.reason, onTerminal: onTerminal, elapsed: progress.elapsed)
    }

    /// Prints the summary lines after the hosts' output and picks the exit status.
    private func finish(_ results: [HostResult], stoppedBy reason: StopReason?, onTerminal: Bool, elapsed: Duration) async -> Int32 {
        if reason == .brokenPipe {
            await writer.flush()
            return 128 + SIGPIPE
        }
        // A host whose output could not be written to its file failed too.
        let lostOutput = (sink as? FileSink)?.failures ?? [:]
        let notOK = results.filter { !$0.isSuccess || lostOutput[$0.host] != nil }
        var summary: [String] = []
        if case .signal(let signal) = reason {
            let failed = notOK.filter { $0.outcome != .cancelled }
            if !failed.isEmpty { summary.append("failed at: " + failed.map(\.host.name).joined(separator: " ")) }
            summary.append("passh: interrupted by \(signalName(signal)); did not finish: "
                + results.filter { $0.outcome == .cancelled }.map(\.host.name).joined(separator: " "))
        } else if !notOK.isEmpty {
            summary.append("failed at: " + notOK.map(\.host.name).joined(separator: " "))
        }
        if onTerminal && reason == nil { summary.append(Self.terminalSummary(results, elapsed: elapsed)) }
        if !summary.isEmpty {
            await writer.write(Array((summary.joined(separator: "\n") + "\n").utf8), to: .stderr)
        }
        await writer.flush()
        let listWritten = failedTo.map { FailedHostsFile(path: $0).write(notOK.map(\.host.name)) } ?? true
        if case .signal(let signal) = reason { return 128 + signal }
        var status: Int32 = notOK.isEmpty ? 0 : 2
        if maxRC { status = lostOutput.isEmpty ? Self.largestStatus(results) : max(Self.largestStatus(results), 2) }
        return status == 0 && !listWritten ? 1 : status
    }

    /// `98 ok, 2 failed (h0031 h0077), 3.2 s`.
    static func terminalSummary(_ results: [HostResult], elapsed: Duration) -> String {
        var parts = ["\(results.filter(\.isSuccess).count) ok"]
        for status in ["failed", "timeout", "cancelled"] {
            let names = results.filter { $0.outcome.status == status }.map(\.host.name)
            guard !names.isEmpty else { continue }
            let word = status == "timeout" ? "timed out" : status
            let shown = names.count > 10 ? names.prefix(10).joined(separator: " ") + " …" : names.joined(separator: " ")
            parts.append("\(names.count) \(word) (\(shown))")
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return parts.joined(separator: ", ") + ", " + String(format1: seconds) + " s"
    }

    /// `--max-rc`: the largest remote exit status; 255 for a host without one (ssh could not start,
    /// a signal, a timeout), as clush and pdsh do. Cancelled hosts do not count.
    static func largestStatus(_ results: [HostResult]) -> Int32 {
        results.reduce(0) { largest, result in
            switch result.outcome {
            case .exited(let code): max(largest, code)
            case .signaled, .failedToStart, .timedOut: 255
            case .cancelled: largest
            }
        }
    }

    /// `--persist-stop`: closes the master connections (a host that has none is done already).
    static func stopMasters(on hosts: [Host], ssh: OpenSSHOptions) async -> Int32 {
        let results = await ParallelSSH.stopMasters(on: hosts, ssh: ssh, sink: PrefixedSink())
        let failed = results.filter { !$0.isSuccess }
        await OutputWriter.standard.flush()
        if !failed.isEmpty {
            printError("failed at: " + failed.map(\.host.name).joined(separator: " "))
            return 2
        }
        return 0
    }
}

extension String {
    /// A number with one decimal: `3.2`.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}

/// How far a run got: for the progress line on a terminal.
final class Progress: Sendable {
    private struct Counts {
        var started = 0
        var done = 0
        var failed = 0
    }

    let total: Int
    private let start = ContinuousClock.now
    private let counts = Mutex(Counts())

    init(total: Int) { self.total = total }

    var elapsed: Duration { ContinuousClock.now - start }

    func started() { counts.withLock { $0.started += 1 } }

    func finished(_ result: HostResult) {
        counts.withLock {
            $0.done += 1
            if !result.isSuccess { $0.failed += 1 }
        }
    }

    /// `passh: 37/100 done, 2 failed, 50 running, 3.2 s`
    var line: String {
        let counts = self.counts.withLock { $0 }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return "passh: \(counts.done)/\(total) done, \(counts.failed) failed, \(counts.started - counts.done) running, "
            + String(format1: seconds) + " s"
    }

    /// Shows the progress line from the first second on, a few times a second, until cancelled.
    func show(on writer: OutputWriter) async {
        do {
            try await Task.sleep(for: .seconds(1))
            while true {
                writer.setStatus(line)
                try await Task.sleep(for: .milliseconds(250))
            }
        } catch {
            return
        }
    }
}

/// Passes everything to `inner`, counting hosts for the progress line.
struct ProgressSink: OutputSink {
    let inner: any OutputSink
    let progress: Progress

    func hostStarted(_ host: Host) async {
        progress.started()
        await inner.hostStarted(host)
    }

    func output(_ chunk: OutputChunk) async {
        await inner.output(chunk)
    }

    func hostFinished(_ result: HostResult) async {
        if result.duration > .zero || result.outcome != .cancelled { progress.finished(result) }
        await inner.hostFinished(result)
    }

    func runFinished(_ results: [HostResult]) async {
        await inner.runFinished(results)
    }
}
