import CPasshShims
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The root's end of one gateway: the passh it runs there over ssh (``serve()``, for the run's
/// life), and the hosts it runs through it (``run(_:on:options:output:)``, from the runner's host
/// tasks). The gateway's events are decoded as they come and handed to the host that waits for
/// them; a gateway that cannot be reached, dies, or writes what cannot be read fails its hosts
/// with ``HostFailure/Kind/gatewayLost``.
///
/// A host whose task is cancelled (a timeout, fail-fast, a signal) is told to stop at the gateway
/// and returns ``Termination/cancelled`` at once; the gateway stops it (its command asked to end,
/// the grace, then ended), and ``serve()`` returns only once the gateway has exited, every host
/// it ran stopped.
final class GatewayLink: Sendable {
    let gateway: Host
    private let transport: any Transport
    private let command: [String]
    /// A passh to copy there when the gateway has none of this release.
    private let push: GatewayPush?
    /// Told when ``push`` was copied to the gateway.
    private let pushed: (@Sendable (Host) -> Void)?
    private let grace: Duration
    /// How long each start of the gateway's passh has to say hello (``helloTimeout(connectTimeout:)``).
    private let helloTimeout: Duration
    private let emergencyStop: EmergencyStop?
    /// The longest event line read from the gateway: a host's longest line, in JSON.
    private let maximumEventLine: Int
    private let outbox = GatewayOutbox()
    private let stop = StopSignal()
    private let finishing = StopSignal()
    /// Raised when the gateway is needed: at once for a gateway with hosts of its own, at its
    /// first host for a spare (or at ``finish()``, when it is not needed after all).
    private let wanted = StopSignal()
    private let state = Mutex(State())
    private let decoder: Mutex<JSONLinesDecoder>
    private let setup: GatewaySetup

    private enum Phase {
        case connecting
        case ready
        case lost(String)
    }

    private struct State {
        var phase = Phase.connecting
        var readyWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
        var hosts: [String: Registration] = [:]
        /// Runs the root stopped whose `finished` has not come yet: their late events are dropped.
        var stale: [String: Int] = [:]
        var files: [FilePath: Int] = [:]
        var errors: [String] = []
        var finishing = false
        /// Whether a host was given to the link (a spare starts only then).
        var used = false
        /// Lost before its hello because ssh could not reach it (nothing was sent to it).
        var unreachable = false
        /// The gateways (or `""`: directly) its hosts were told to go through instead.
        var reroutes: Set<String> = []
        /// The gateway's passh is started again (another one) when this one cannot be: a hello
        /// that does not match then ends the attempt (``attemptStop``) instead of the link.
        var retriesHello = false
        /// Why the attempt's passh was not the one wanted (its hello).
        var helloProblem: String?
        /// The session running now (its output is dropped once another starts) and its stop.
        var attempt = 0
        var attemptStop = StopSignal()
    }

    /// The kinds of ssh failures that mean the gateway could not be reached at all.
    static let unreachableKinds: Set<HostFailure.Kind> = [
        .connectionRefused, .connectionTimedOut, .hostUnreachable, .authenticationRefused, .hostKeyUnknown,
        .hostKeyChanged,
    ]

    /// A link to `gateway`, reached by `transport` (it must spawn a process: ``SessionOptions``'s
    /// stdin stream), running `command` there (the gateway's passh and its serve flag).
    /// `helloTimeout`: how long each start of the gateway's passh has to say hello.
    init(
        gateway: Host, transport: any Transport, command: [String], setup: GatewaySetup, grace: Duration,
        maximumLineLength: Int, emergencyStop: EmergencyStop?, spare: Bool = false, push: GatewayPush? = nil,
        pushed: (@Sendable (Host) -> Void)? = nil,
        helloTimeout: Duration = helloTimeout(connectTimeout: OpenSSHOptions().connectTimeout)
    ) {
        self.gateway = gateway
        self.transport = transport
        self.command = command
        self.push = push
        self.pushed = pushed
        self.setup = setup
        self.grace = grace
        self.helloTimeout = helloTimeout
        self.emergencyStop = emergencyStop
        self.maximumEventLine = maximumLineLength * 6 + (64 << 10)
        var decoder = JSONLinesDecoder()
        decoder.keepsTransports = false
        self.decoder = Mutex(decoder)
        if !spare { wanted.fire() }
        outbox.send(.bytes(GatewayRequest.hello(.current).line()))
        outbox.send(.bytes(GatewayRequest.setup(setup).line()))
    }

    /// The time a gateway's passh has to say hello: ssh's connect timeout, and 30 s for the login
    /// and for passh to start there. Past it, the gateway is lost: something holds the connection
    /// (a wrapper whose passh never started) without answering, and its hosts would wait for ever.
    static func helloTimeout(connectTimeout: Int) -> Duration { .seconds(connectTimeout + 30) }

    // MARK: The gateway's session

    /// Runs the gateway's passh until it exits: after ``finish()``, once it has stopped its hosts
    /// (at most the grace and 2 s more), or when the calling task is cancelled (its ssh is then
    /// stopped, and the gateway, seeing its stdin end, stops its hosts).
    func serve() async {
        guard await wanted.wait() else {
            lose("stopped")
            return
        }
        if state.withLock({ !$0.used && $0.finishing }) {
            lose("not needed")
            return
        }
        // With a passh to push: the gateway's own passh, else the one cached there, else this
        // one copied there, then started.
        enum Step { case own, cached, copied }
        var step = Step.own
        var command = self.command
        while true {
            state.withLock { $0.retriesHello = push != nil && step != .copied }
            let termination = await session(command)
            let retry = state.withLock { state -> Bool in
                // Not once the run is done with the gateway (its hosts stopped while it started).
                guard case .connecting = state.phase, !state.finishing else { return false }
                if state.helloProblem != nil { return true }
                if case .exited? = termination { return true }
                return false
            }
            guard let push, retry, !Task.isCancelled else {
                end(termination)
                return
            }
            switch step {
            case .own:
                step = .cached
            case .cached:
                if let problem = await installUnlessFinished(push) {
                    lose(problem)
                    return
                }
                pushed?(gateway)
                step = .copied
            case .copied:
                end(termination)
                return
            }
            command = push.cachedCommand
            state.withLock { state in
                state.helloProblem = nil
                state.errors = []
            }
            outbox.restart(with: [
                .bytes(GatewayRequest.hello(.current).line()), .bytes(GatewayRequest.setup(setup).line()),
            ])
        }
    }

    /// Runs `command` (a passh in gateway mode) on the gateway until it exits, the link is stopped,
    /// or the attempt is (a hello that is not the one wanted, when another passh can be tried).
    private func session(_ command: [String]) async -> Termination? {
        let (attempt, attemptStop) = state.withLock { state in
            state.attempt += 1
            state.attemptStop = StopSignal()
            return (state.attempt, state.attemptStop)
        }
        var fds: [Int32] = [-1, -1]
        guard passh_pipe_cloexec(&fds) == 0 else {
            return .failed(HostFailure(.cannotStart, "cannot create a pipe: \(Errno(rawValue: errno))"))
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
        let poller = Poller()
        var options = SessionOptions()
        options.stdinStream = readEnd
        options.terminationGrace = grace
        options.emergencyStop = emergencyStop
        options.maximumLineLength = maximumEventLine
        let session = options
        enum Ended: Sendable {
            case session(Termination)
            case deadline
            case other
        }
        let termination = await withTaskGroup(of: Ended.self) { group -> Termination? in
            group.addTask {
                .session(
                    await self.transport.run(command, on: self.gateway, options: session) { chunk in
                        await self.take(chunk, attempt: attempt)
                    })
            }
            group.addTask {
                await self.outbox.drain(to: writeEnd, poller: poller)
                poller.forget(writeEnd)
                close(writeEnd)  // the gateway's stdin ends: it stops its hosts and exits
                return .other
            }
            group.addTask {
                // Garbage from the gateway stops it.
                _ = await self.stop.wait()
                return .other
            }
            group.addTask {
                // A hello that is not the one wanted, when another passh can be tried.
                _ = await attemptStop.wait()
                return .other
            }
            group.addTask {
                // A passh that never says hello is not one: the wait for it ends at its deadline.
                do {
                    try await Task.sleep(for: self.helloTimeout)
                } catch {
                    return .other
                }
                let silent = self.state.withLock { state in
                    guard case .connecting = state.phase else { return false }
                    return state.attempt == attempt
                }
                if silent {
                    self.helloError("its passh did not answer within \(self.helloTimeout.components.seconds) s")
                }
                return .other
            }
            group.addTask {
                // Finished, the gateway has the grace and 2 s to stop its hosts and exit.
                guard await self.finishing.wait() else { return .other }
                do {
                    try await Task.sleep(for: self.grace + .seconds(2))
                    return .deadline
                } catch {
                    return .other
                }
            }
            var ended: Termination?
            while let next = await group.next() {
                switch next {
                case .session(let termination):
                    ended = termination
                    group.cancelAll()
                case .deadline:
                    group.cancelAll()
                case .other:
                    if stop.fired || attemptStop.fired { group.cancelAll() }
                }
            }
            return ended
        }
        close(readEnd)
        return termination
    }

    /// The session is over for good: the hosts waiting on the gateway fail, saying why.
    private func end(_ termination: Termination?) {
        let reason: String
        switch termination {
        case .exited(0)?: reason = "the gateway's passh exited"
        case .exited(let code)?: reason = "the gateway's passh exited with status \(code)"
        case .signaled(let signal)?: reason = "the ssh to it was killed by \(signal.name)"
        case .failed(let failure)?: reason = failure.message
        case .cancelled?, nil: reason = "stopped"
        }
        // ssh's own failure is its message; else the last thing the gateway (or ssh) said.
        var said: String?
        if case .failed? = termination {} else { said = state.withLock { state in state.errors.last } }
        var unreachable = false
        if case .failed(let failure)? = termination, Self.unreachableKinds.contains(failure.kind) {
            unreachable = !failure.commandMayHaveRun
        }
        lose(said.map { "\(reason): \($0)" } ?? reason, unreachable: unreachable)
    }

    /// No more hosts: the gateway's stdin is closed once what is queued is written.
    func finish() {
        state.withLock { $0.finishing = true }
        outbox.finish()
        finishing.fire()
        wanted.fire()
    }

    /// Why the gateway could not be reached, when ssh could not reach it before it was sent anything
    /// (its hosts can go another way); `nil` otherwise.
    var unreachableReason: String? {
        state.withLock { state in
            guard state.unreachable, case .lost(let reason) = state.phase else { return nil }
            return reason
        }
    }

    /// Whether this is the first time its hosts are sent to `replacement` (`nil`: directly).
    func firstReroute(to replacement: Host?) -> Bool {
        state.withLock { $0.reroutes.insert(replacement?.name ?? "").inserted }
    }

    /// The bytes the link holds of what the gateway wrote on stderr (kept for the message that
    /// fails its hosts): bounded, whatever the gateway writes.
    var heldErrorBytes: Int { state.withLock { $0.errors.reduce(0) { $0 + $1.utf8.count } } }

    /// The hosts the link's decoder remembers: none, whatever the gateway names.
    var heldHostNames: Int { decoder.withLock { $0.transports.count } }

    /// Lines of the gateway's passh (stdout: events) or of ssh and the gateway (stderr: kept for
    /// the message that fails the hosts).
    private func take(_ chunk: OutputChunk, attempt: Int) async {
        // A session that is over (another passh is being tried) has nothing more to say.
        guard state.withLock({ $0.attempt == attempt && !$0.attemptStop.fired }) else { return }
        if chunk.stream == .stderr {
            let lines = chunk.lines.map { String(decoding: $0, as: UTF8.self) }.filter { !$0.isEmpty }
            state.withLock { state in
                state.errors.append(contentsOf: lines.map { String($0.prefix(500)) })
                if state.errors.count > 4 { state.errors.removeFirst(state.errors.count - 4) }
            }
            return
        }
        var remaining = chunk.lineCount
        for line in chunk.lines {
            remaining -= 1
            if remaining == 0 && !chunk.endsWithNewline {
                // A piece of a line: one cut at the longest line, or the last one, unfinished.
                protocolError(
                    line.count >= maximumEventLine
                        ? "it sent a line longer than \(maximumEventLine) bytes"
                        : "it stopped in the middle of a line")
                return
            }
            guard await event(line) else { return }
        }
    }

    /// Handles one line of the gateway's stdout; `false` once it broke the protocol.
    private func event(_ line: ArraySlice<UInt8>) async -> Bool {
        let connecting = state.withLock { state in
            if case .connecting = state.phase { return true }
            return false
        }
        if connecting {
            guard let hello = GatewayHello.parseEvent(line) else {
                helloError("its passh did not answer as a gateway")
                return false
            }
            guard hello.matches(.current) else {
                helloError("it runs \(hello.description), this passh \(GatewayHello.current.description)")
                return false
            }
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.phase = .ready
                defer { state.readyWaiters = [:] }
                return Array(state.readyWaiters.values)
            }
            for waiter in waiters { waiter.resume() }
            return true
        }
        let decoded: RunEvent?
        do throws(PasshError) {
            decoded = try decoder.withLock { decoder throws(PasshError) in try decoder.decode(line: line) }
        } catch {
            protocolError("it sent what cannot be read: \(error.message)")
            return false
        }
        switch decoded {
        case .line(let line)?:
            let registration = state.withLock { state in
                (state.stale[line.host.name] ?? 0) > 0 ? nil : state.hosts[line.host.name]
            }
            guard let registration else { return true }
            var bytes = Array(line.bytes)
            if line.hadNewline { bytes.append(0x0A) }
            await registration.output(
                OutputChunk(
                    host: registration.host, stream: line.stream, bytes: bytes[...], endsWithNewline: line.hadNewline))
        case .finished(let result)?:
            let registration = state.withLock { state -> Registration? in
                let name = result.host.name
                if let stale = state.stale[name], stale > 0 {
                    state.stale[name] = stale == 1 ? nil : stale - 1
                    return nil
                }
                return state.hosts.removeValue(forKey: name)
            }
            let termination: Termination
            switch result.outcome {
            case .exited(let code): termination = .exited(code)
            case .signaled(let signal): termination = .signaled(signal)
            case .failed(let failure): termination = .failed(failure)
            case .timedOut, .cancelled, .notStarted: termination = .cancelled
            }
            registration?.resolve(termination)
        default:
            break
        }
        return true
    }

    /// The gateway's passh is not one this passh can speak with: another is tried when there is
    /// one, else the gateway is lost.
    private func helloError(_ message: String) {
        let retried = state.withLock { state -> StopSignal? in
            guard state.retriesHello else { return nil }
            state.helloProblem = message
            return state.attemptStop
        }
        if let retried { retried.fire() } else { protocolError(message) }
    }

    /// Copies ``push`` to the gateway's cache, stopping the copy when the run is done with the
    /// gateway first (its hosts stopped: `--timeout`, fail-fast); why it could not, or `nil`.
    private func installUnlessFinished(_ push: GatewayPush) async -> String? {
        enum Ended: Sendable {
            case installed(String?)
            case finished
            case cancelled
        }
        return await withTaskGroup(of: Ended.self) { group in
            group.addTask { .installed(await self.install(push)) }
            group.addTask { await self.finishing.wait() ? .finished : .cancelled }
            let first = await group.next()
            group.cancelAll()
            if case .installed(let problem)? = first { return problem }
            return "stopped"  // the run is done with the gateway, or the link is being stopped
        }
    }

    /// Copies ``push`` to the gateway's cache; why it could not, or `nil`.
    private func install(_ push: GatewayPush) async -> String? {
        var options = SessionOptions()
        options.stdinFile = push.binary
        options.terminationGrace = grace
        options.emergencyStop = emergencyStop
        let said = Mutex<String?>(nil)
        let termination = await transport.run(push.installCommand, on: gateway, options: options) { chunk in
            guard chunk.stream == .stderr else { return }
            if let last = chunk.lines.reversed().first(where: { !$0.isEmpty }) {
                said.withLock { $0 = String(String(decoding: last, as: UTF8.self).prefix(500)) }
            }
        }
        let words = said.withLock { $0 }
        switch termination {
        case .exited(0):
            return nil
        case .exited(let code):
            let prefix = "passh: cannot install passh here: "
            if let words, words.hasPrefix(prefix) { return "cannot copy passh to it: " + words.dropFirst(prefix.count) }
            return "cannot copy passh to it: the copy exited with status \(code)" + (words.map { ": " + $0 } ?? "")
        case .signaled(let signal):
            return "cannot copy passh to it: the ssh to it was killed by \(signal.name)"
        case .failed(let failure):
            return "cannot copy passh to it: " + failure.message
        case .cancelled:
            return "stopped"
        }
    }

    private func protocolError(_ message: String) {
        lose(message)
        stop.fire()
    }

    /// The gateway is gone: every host waiting on it fails, and so does every later one.
    private func lose(_ reason: String, unreachable: Bool = false) {
        let (hosts, waiters) = state.withLock { state in
            switch state.phase {
            case .lost: break
            case .connecting:
                state.phase = .lost(reason)
                state.unreachable = unreachable
            case .ready:
                state.phase = .lost(reason)
            }
            defer {
                state.hosts = [:]
                state.readyWaiters = [:]
            }
            return (Array(state.hosts.values), Array(state.readyWaiters.values))
        }
        for waiter in waiters { waiter.resume() }
        for host in hosts { host.resolve(.failed(failure(reason, sent: true))) }
        outbox.finish()
    }

    private func failure(_ reason: String, sent: Bool) -> HostFailure {
        HostFailure(.gatewayLost, "gateway \(gateway.name) lost: \(reason)", commandMayHaveRun: sent)
    }

    // MARK: Hosts

    /// Runs `command` on `host` through the gateway.
    func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        state.withLock { $0.used = true }
        wanted.fire()
        if let reason = await ready() { return .failed(failure(reason, sent: false)) }
        if Task.isCancelled { return .cancelled }
        var size: Int64 = 0
        if let path = options.stdinFile {
            var info = stat()
            guard stat(path.string, &info) == 0 else {
                return .failed(HostFailure(.cannotStart, "cannot read \(path.string): \(Errno(rawValue: errno))"))
            }
            size = Int64(info.st_size)
        }
        let registration = Registration(host: host, output: output)
        let refused = state.withLock { state -> String? in
            if case .lost(let reason) = state.phase { return reason }
            if state.hosts[host.name] != nil { return "" }
            state.hosts[host.name] = registration
            var file: Int?
            if let path = options.stdinFile {
                // Sent once, by the first host that needs it: later runs name it.
                if let id = state.files[path] {
                    file = id
                } else {
                    let id = state.files.count + 1
                    state.files[path] = id
                    file = id
                    outbox.send(.bytes(GatewayRequest.file(id: id, size: size).line()))
                    outbox.send(.file(path, size: size))
                }
            }
            let job = GatewayJob(host: host, command: command, options: options, stdinFile: file)
            outbox.send(.bytes(GatewayRequest.run(job).line()))
            return nil
        }
        if let refused {
            if refused.isEmpty {
                return .failed(HostFailure(.other, "\(host.name) is already running through gateway \(gateway.name)"))
            }
            return .failed(failure(refused, sent: false))
        }
        let result = await withTaskCancellationHandler {
            await registration.wait()
        } onCancel: {
            let stopped = state.withLock { state -> Bool in
                guard state.hosts[host.name] === registration else { return false }
                state.hosts[host.name] = nil
                state.stale[host.name, default: 0] += 1
                return true
            }
            if stopped { outbox.send(.bytes(GatewayRequest.stop(host: host.name).line())) }
            registration.resolve(nil)
        }
        return result ?? .cancelled
    }

    /// Waits for the gateway's hello; the reason it is lost, if it is.
    private func ready() async -> String? {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if case .connecting = state.phase, !Task.isCancelled {
                        state.readyWaiters[id] = continuation
                        return false
                    }
                    return true
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.readyWaiters.removeValue(forKey: id) }?.resume()
        }
        return state.withLock { state in
            if case .lost(let reason) = state.phase { return reason }
            return nil
        }
    }

    /// One host's run through the gateway: where its lines go, and how it ended.
    final class Registration: Sendable {
        let host: Host
        let output: @Sendable (OutputChunk) async -> Void
        private let state = Mutex<
            (done: Bool, result: Termination?, waiter: CheckedContinuation<Termination?, Never>?)
        >(
            (false, nil, nil))

        init(host: Host, output: @escaping @Sendable (OutputChunk) async -> Void) {
            self.host = host
            self.output = output
        }

        /// Ends the wait with `result` (`nil`: stopped), once.
        func resolve(_ result: Termination?) {
            let waiter = state.withLock { state -> CheckedContinuation<Termination?, Never>? in
                guard !state.done else { return nil }
                state.done = true
                state.result = result
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: result)
        }

        func wait() async -> Termination? {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> (Bool, Termination?) in
                    if state.done { return (true, state.result) }
                    state.waiter = continuation
                    return (false, nil)
                }
                if now.0 { continuation.resume(returning: now.1) }
            }
        }
    }
}
