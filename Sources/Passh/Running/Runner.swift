import Synchronization

/// Runs one command on many hosts: a task group that keeps at most `fanout` hosts running,
/// starting the next host each time one finishes.
///
/// Cancellation flows down the task tree by itself: cancelling the caller, or fail-fast's
/// `cancelAll()`, cancels every host task, and each transport tears its process down. No `Task`
/// handle is stored anywhere.
struct Runner: Sendable {
    let transport: any Transport
    let options: RunOptions

    func run(_ command: [String], on hosts: [Host], sink: (any OutputSink)?) async -> [HostResult] {
        await run(CommandOperation(command: command), on: hosts, sink: sink)
    }

    /// Runs `operation` on every host, in the waves of ``RunOptions/rollout``.
    func run(_ operation: any HostOperation, on hosts: [Host], sink: (any OutputSink)?) async -> [HostResult] {
        var results = [HostResult?](repeating: nil, count: hosts.count)
        // Never more hosts at once than there are descriptors for: a host that cannot get a pipe
        // would fail with "Too many open files".
        let perHost =
            transport.descriptorsPerHost(
                sendingStdin: operation.sendsStdin(options) || options.sudo?.password != nil, on: hosts)
            + operation.descriptorsPerJob
        let fanout = OpenFileLimit.hostsAtOnce(
            options.requestedHostsAtOnce(of: hosts.count), descriptorsPerHost: perHost)
        let rollout = options.rollout
        let waves = rollout.waves(count: hosts.count)
        let budget = rollout.maxFailures?.of(hosts.count)
        var failures = 0
        var halted = false  // the rollout stopped (a canary failed, the budget is spent): start no more
        var stopping = false  // fail-fast: the running hosts are being torn down
        for (number, wave) in waves.enumerated() {
            if halted || stopping || Task.isCancelled { break }
            if waves.count > 1 { await sink?.waveStarted(number + 1, of: waves.count) }
            await withTaskGroup(of: (Int, HostResult).self) { group in
                var next = wave.lowerBound
                func startNext() {
                    let index = next
                    next += 1
                    group.addTask { (index, await runHost(hosts[index], operation: operation, sink: sink)) }
                }
                while next < wave.upperBound && next - wave.lowerBound < fanout { startNext() }
                while let (index, result) = await group.next() {
                    results[index] = result
                    await sink?.hostFinished(result)
                    if !result.isSuccess {
                        failures += 1
                        if options.failFast && !stopping {
                            stopping = true
                            group.cancelAll()
                        }
                        if let budget, failures > budget { halted = true }
                    }
                    if !stopping && !halted && !Task.isCancelled && next < wave.upperBound { startNext() }
                }
            }
            // The canaries are the first wave: the rest goes on only if every one succeeded.
            if number == 0 && rollout.canaries > 0 && wave.contains(where: { results[$0]?.isSuccess != true }) {
                halted = true
            }
        }
        // Hosts never started: the rollout's stop, or the run's cancellation (a signal, fail-fast).
        let unstarted: HostOutcome = halted && !stopping && !Task.isCancelled ? .notStarted : .cancelled
        var final: [HostResult] = []
        final.reserveCapacity(hosts.count)
        for (index, result) in results.enumerated() {
            if let result {
                final.append(result)
            } else {
                let notStarted = HostResult.unstarted(hosts[index], outcome: unstarted)
                await sink?.hostFinished(notStarted)
                final.append(notStarted)
            }
        }
        await sink?.runFinished(final)
        await sink?.flush()
        return final
    }

    /// Runs one host: once, or again while it could not be reached and retries are left.
    private func runHost(_ host: Host, operation: any HostOperation, sink: (any OutputSink)?) async -> HostResult {
        await sink?.hostStarted(host, transport: transport.transportName(for: host))
        let started = ContinuousClock.now
        let retries = options.rollout.retries
        var attempt = 1
        while true {
            // An attempt that may be retried holds the transport's own messages back (ssh's
            // "Connection refused") until the command shows it ran or the attempt ends: a retried
            // attempt's are dropped, the last attempt's passed on. The command's output flows.
            let held = attempt <= retries ? HeldOutput() : nil
            let result = await runAttempt(host, operation: operation, started: started, sink: sink, held: held)
            let retry = attempt <= retries && result.mayBeRetried && !Task.isCancelled
            if !retry {
                if let held { for chunk in held.release() { await sink?.output(chunk) } }
                return result.after(attempts: attempt)
            }
            do {
                try await Task.sleep(for: options.rollout.delay(beforeRetry: attempt))
            } catch {
                return HostResult(
                    host: host, outcome: .cancelled, duration: ContinuousClock.now - started, attempts: attempt)
            }
            attempt += 1
        }
    }

    /// One try at a host: a new job (a gather's fresh extractor), one session.
    private func runAttempt(
        _ host: Host, operation: any HostOperation, started: ContinuousClock.Instant, sink: (any OutputSink)?,
        held: HeldOutput?
    ) async -> HostResult {
        let job: any HostJob
        switch operation.job(for: host, options: options) {
        case .ready(let made):
            job = made
        case .failed(let failure):
            return HostResult(
                host: host, outcome: .failed(failure), duration: ContinuousClock.now - started,
                errorMessage: failure.message)
        }
        let collector = OutputCollector(keepAll: options.collectOutput)
        let stop = job.takesStdout ? StopSignal() : nil
        let deliver: @Sendable (OutputChunk) async -> Void = { chunk in
            if chunk.stream == .stdout && job.takesStdout {
                if let held { for chunk in held.pass(chunk, keeping: false) { await sink?.output(chunk) } }
                if await !job.receive(chunk) { stop?.fire() }
                return
            }
            collector.record(chunk)
            if let held {
                for chunk in held.pass(chunk) { await sink?.output(chunk) }
            } else {
                await sink?.output(chunk)
            }
        }
        let session = job.session(options.session)
        let command = options.sudo.map { $0.wrap(job.command) } ?? job.command
        let (termination, timedOut) = await runSession(limit: options.commandTimeout, stop: stop) {
            await transport.run(command, on: host, options: session, output: deliver)
        }
        var outcome: HostOutcome
        switch termination {
        case .exited(0): outcome = .exited(0)
        case _ where timedOut: outcome = .timedOut
        case .exited(let code): outcome = .exited(code)
        case .signaled(let signal): outcome = .signaled(signal)
        case .failed(let failure): outcome = .failed(failure)
        case .cancelled: outcome = .cancelled
        }
        let transfer: TransferTotals?
        (outcome, transfer) = await job.finish(outcome)
        for line in job.warnings() {
            await deliver(
                OutputChunk(host: host, stream: .stderr, bytes: Array((line + "\n").utf8)[...], endsWithNewline: true))
        }
        let collected = collector.take()
        var message: String?
        switch outcome {
        case .exited(0), .timedOut, .cancelled, .notStarted: message = nil
        case .failed(let failure): message = failure.message
        case .exited, .signaled: message = collected.lastErrorLine
        }
        return HostResult(
            host: host, outcome: outcome, duration: ContinuousClock.now - started,
            stdout: collected.stdout, stderr: collected.stderr, errorMessage: message, transfer: transfer)
    }

    /// Runs `body` alone when there is neither a time limit nor a stop signal; else beside them,
    /// cancelling it when `limit` passes or `stop` fires first. Says whether the limit passed.
    private func runSession(
        limit: Duration?, stop: StopSignal?, _ body: @escaping @Sendable () async -> Termination
    ) async -> (Termination, Bool) {
        guard limit != nil || stop != nil else { return (await body(), false) }
        enum Event: Sendable {
            case finished(Termination)
            case timerFired
            case stopped
            case idle
        }
        return await withTaskGroup(of: Event.self) { group in
            group.addTask { .finished(await body()) }
            if let limit {
                group.addTask {
                    do {
                        try await Task.sleep(for: limit)
                        return .timerFired
                    } catch {
                        return .idle
                    }
                }
            }
            if let stop {
                group.addTask { await stop.wait() ? .stopped : .idle }
            }
            var fired = false
            while let event = await group.next() {
                switch event {
                case .finished(let termination):
                    group.cancelAll()
                    return (termination, fired)
                case .timerFired:
                    fired = true
                    group.cancelAll()  // tears the host's process down
                case .stopped:
                    group.cancelAll()
                case .idle:
                    break
                }
            }
            preconditionFailure("the host task always finishes")
        }
    }
}

/// The output of an attempt that may be retried: the transport's own messages
/// (``OutputChunk/fromTransport``) are held back until the command shows it ran — any output of
/// its own — or the attempt ends; the command's output is never held. At most
/// ``maximumHeld`` bytes are held: past that, they are let through.
final class HeldOutput: Sendable {
    private struct State {
        var held: [OutputChunk] = []
        var heldBytes = 0
        var passing = false
    }

    /// What an attempt holds back at most (ssh's messages are a few lines; its `LogLevel=DEBUG3`
    /// can be megabytes).
    static let maximumHeld = 64 << 10

    private let state = Mutex(State())

    /// What to pass on now that `chunk` came: nothing while held, else what was held and (when
    /// `keeping`: the chunk goes elsewhere otherwise) `chunk`.
    func pass(_ chunk: OutputChunk, keeping: Bool = true) -> [OutputChunk] {
        state.withLock { state in
            if state.passing { return keeping ? [chunk] : [] }
            if chunk.fromTransport && state.heldBytes + chunk.bytes.count <= Self.maximumHeld {
                state.held.append(chunk)
                state.heldBytes += chunk.bytes.count
                return []
            }
            state.passing = true
            defer {
                state.held = []
                state.heldBytes = 0
            }
            return keeping ? state.held + [chunk] : state.held
        }
    }

    /// What is still held: the attempt is the host's last.
    func release() -> [OutputChunk] {
        state.withLock { state in
            state.passing = true
            defer {
                state.held = []
                state.heldBytes = 0
            }
            return state.held
        }
    }
}

extension HostResult {
    /// This result, as the host's after `attempts` tries.
    func after(attempts: Int) -> HostResult {
        attempts == self.attempts
            ? self
            : HostResult(
                host: host, outcome: outcome, started: started, duration: duration,
                stdout: stdout, stderr: stderr, errorMessage: errorMessage, attempts: attempts, transfer: transfer)
    }
}

/// What the runner keeps of a host's output: all of it when asked, and the last stderr line
/// (ssh's own error message when ssh failed).
final class OutputCollector: Sendable {
    struct Collected {
        var stdout: [UInt8]?
        var stderr: [UInt8]?
        var lastErrorLine: String?
    }

    private struct State {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var lastErrorLine: [UInt8]?
    }

    private let keepAll: Bool
    private let state = Mutex(State())

    init(keepAll: Bool) { self.keepAll = keepAll }

    func record(_ chunk: OutputChunk) {
        let lastLine = chunk.stream == .stderr ? Self.lastLine(of: chunk.bytes) : nil
        guard keepAll || lastLine != nil else { return }
        state.withLock { state in
            if let lastLine { state.lastErrorLine = Array(lastLine) }
            guard keepAll else { return }
            switch chunk.stream {
            case .stdout: state.stdout.append(contentsOf: chunk.bytes)
            case .stderr: state.stderr.append(contentsOf: chunk.bytes)
            }
        }
    }

    func take() -> Collected {
        state.withLock { state in
            var text: String?
            if let line = state.lastErrorLine {
                var bytes = line[...]
                while bytes.last == 0x0D { bytes.removeLast() }
                text = String(decoding: bytes, as: UTF8.self)
            }
            return Collected(
                stdout: keepAll ? state.stdout : nil, stderr: keepAll ? state.stderr : nil, lastErrorLine: text)
        }
    }

    /// The last non-empty line of `bytes`, without its newline, at most 4 KiB of it.
    private static func lastLine(of bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var end = bytes.endIndex
        while end > bytes.startIndex && bytes[end - 1] == 0x0A { end -= 1 }
        guard end > bytes.startIndex else { return nil }
        let start = bytes[..<end].lastIndex(of: 0x0A).map { $0 + 1 } ?? bytes.startIndex
        return bytes[start..<Swift.min(end, start + 4096)]
    }
}
