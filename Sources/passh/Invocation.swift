import Passh
import Synchronization
import SystemPackage
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// One run of the command-line tool, from the parsed flags to the exit status: wires the run to its
/// stops (``RunControl``), the terminal's progress line, the report on stderr and the exit status.
struct Invocation {
    var passh: ParallelSSH
    let hosts: [Host]
    let work: Work
    let sink: any OutputSink
    let writer: OutputWriter
    var failedTo: FilePath?
    var maxRC = false
    /// Whether to explain each failed host on stderr (not with JSON output).
    var explainHosts = true
    /// Whether the hosts are reached with OpenSSH.
    var openSSH = true
    /// Whether a host is reached with a plain OpenSSH `ssh` (not libssh, not a master).
    var overPlainOpenSSH: @Sendable (Host) -> Bool = { _ in true }
    /// Hosts whose output could not be written to their files (known once the run is over).
    var outputFailures: @Sendable () -> Set<Host> = { [] }
    /// The shell's: the one-line summary after every run, on a terminal or not.
    var alwaysSummarize = false
    /// Told the results once the run is over (the shell's retry).
    var finished: @Sendable ([HostResult]) -> Void = { _ in }

    /// Runs and returns the exit status. `control` stops the run: a first signal (or stdout
    /// failing) cancels it, a second one triggers its emergency stop. The progress line on a
    /// terminal is a child task of the run's.
    func run(control: RunControl) async -> Int32 {
        writer.onError { stream, _ in
            if stream == .stdout { control.stop(.stdoutFailed) }
        }
        let onTerminal = isatty(2) == 1
        let copies: Bool
        if case .command = work { copies = false } else { copies = true }
        let progress = Progress(total: hosts.count, copies: copies)
        let tracker = TrackingSink(inner: sink, progress: progress)
        let resized = onTerminal ? await UnixSignalsSequence(trapping: .sigwinch) : nil
        var passh = self.passh
        passh.options.emergencyStop = control.emergencyStop
        let outcome = await withTaskGroup(of: Void.self) { [passh, hosts, work, writer] group in
            if onTerminal {
                group.addTask { await showProgress(progress, on: writer, resized: resized) }
            }
            let outcome: Result<[HostResult], PasshError>
            do throws(PasshError) {
                outcome = .success(try await work.run(with: passh, on: hosts, sink: tracker))
            } catch {
                outcome = .failure(error)
            }
            group.cancelAll()
            return outcome
        }
        let results: [HostResult]
        switch outcome {
        case .success(let value):
            results = value
            finished(value)
        case .failure(let error):
            await writer.flush()
            return report(error)
        }
        if control.escalated {
            // Every session was killed at once, and said so: nothing more is printed.
            await writer.flush()
            let unfinished =
                ExitStatus(results: results).failedHosts + results.filter { $0.outcome == .notStarted }.map(\.host)
            if let failedTo { FailedHostsFile(path: failedTo).write(unfinished.map(\.name)) }
            return control.stoppedStatus ?? 1
        }
        return await finish(
            results, stoppedBy: control.reason, onTerminal: onTerminal, progress: progress,
            wroteToStderr: tracker.wroteToStderr)
    }

    /// Writes `--failed-to`, the report after the hosts' output, and picks the exit status.
    private func finish(
        _ results: [HostResult], stoppedBy reason: StopReason?, onTerminal: Bool, progress: Progress,
        wroteToStderr: Set<Host>
    ) async -> Int32 {
        var status = ExitStatus(results: results, stoppedBy: reason, outputFailed: outputFailures(), maxRC: maxRC)
        let failedHosts = status.failedHosts
        if reason != .stdoutFailed {
            var report = Report(
                results: results, stoppedBy: reason, failedHosts: failedHosts, wroteToStderr: wroteToStderr,
                explainHosts: explainHosts, commandTimeout: passh.options.commandTimeout, openSSH: openSSH,
                notOverOpenSSH: openSSH ? Set(results.map(\.host).filter { !overPlainOpenSSH($0) }) : [],
                rollout: passh.options.rollout)
            if case .copy(let copy) = work { report.pushDestination = copy.destination }
            var lines = report.lines
            if (onTerminal || alwaysSummarize) && reason == nil {
                lines.append(terminalSummary(results, elapsed: progress.elapsed, copies: progress.copies))
            }
            if !lines.isEmpty {
                await writer.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: .stderr)
            }
        }
        await writer.flush()
        status.writeError = writer.error(on: .stdout) ?? writer.error(on: .stderr)
        if let error = writer.error(on: .stdout), error != .brokenPipe {
            printError("passh: cannot write to stdout: \(error)")
        }
        // Written however the run ended, so that a retry with `-h FILE` runs the right hosts.
        // Hosts a rollout did not start are in it too: they still need the command.
        let unfinished = failedHosts + results.filter { $0.outcome == .notStarted }.map(\.host)
        if let failedTo, !FailedHostsFile(path: failedTo).write(unfinished.map(\.name)) {
            status.fileError = true
        }
        return status.code
    }
}

/// Passes everything to `inner`, counting hosts for the progress line and noting which hosts
/// wrote to stderr (their failures explain themselves).
final class TrackingSink: OutputSink {
    let inner: any OutputSink
    let progress: Progress
    private let stderrWriters = Mutex<Set<Host>>([])

    init(inner: any OutputSink, progress: Progress) {
        self.inner = inner
        self.progress = progress
    }

    var wroteToStderr: Set<Host> { stderrWriters.withLock { $0 } }

    func hostStarted(_ host: Host) async {
        await hostStarted(host, transport: nil)
    }

    func hostStarted(_ host: Host, transport: String?) async {
        progress.started()
        await inner.hostStarted(host, transport: transport)
    }

    func output(_ chunk: OutputChunk) async {
        if chunk.stream == .stderr { _ = stderrWriters.withLock { $0.insert(chunk.host) } }
        await inner.output(chunk)
    }

    func hostFinished(_ result: HostResult) async {
        if result.started { progress.finished(result) }
        await inner.hostFinished(result)
    }

    func runFinished(_ results: [HostResult]) async {
        await inner.runFinished(results)
    }

    func flush() async {
        await inner.flush()
    }

    func waveStarted(_ number: Int, of total: Int) async {
        progress.wave(number, of: total)
        await inner.waveStarted(number, of: total)
    }
}
