import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One session channel spoken through an OpenSSH master in multiplexing proxy mode
/// (`MUX_C_PROXY`): passh writes the SSH connection protocol (RFC 4254) itself, so it can send the
/// `signal` request when it stops a host and tell an `exit-signal` from an exit status — which
/// neither the `ssh` client nor a mux session (`MUX_C_NEW_SESSION`) can.
///
/// The session is a ``SessionChannel`` (stdin, the stop ladder, the end, the lines) on this wire:
/// ``MuxProxyFrames`` over the control socket. This task drives it — reads and writes the socket,
/// takes the channel's actions, waits on the transport's ``Poller`` at most until the channel's
/// deadline — and a child task hands the output to the consumer through a ``SessionBridge``, so a
/// stop goes out on time however slow the consumer is.
///
/// Stopping: cancellation of the calling task starts the ladder (`signal TERM`, the grace, `signal
/// KILL`); an emergency stop sends `signal KILL` at once. Until the channel is stopping, every wait
/// ends on the task's cancellation; after, on the ladder's deadlines.
struct MuxProxySession: ~Copyable {
    /// The window passh grants the server (topped up once half of it was taken), and the largest
    /// packet it takes.
    static let window = 2 << 20
    static let maxPacket = 32 << 10
    /// The most passh queues for the socket (stdin) before waiting for it to drain.
    static let outboxLimit = 256 << 10
    static let readSize = 64 << 10

    private var mux: MuxClient
    private let host: Host
    private var frames: MuxProxyFrames
    private var outbox = Outbox()

    /// A session on `mux`, which ``MuxClient/startProxy(deadline:)`` made a proxy connection.
    init(_ mux: consuming MuxClient, host: Host) {
        frames = MuxProxyFrames(hostname: host.hostname, received: mux.takeReceived())
        self.mux = mux
        self.host = host
    }

    /// Runs `command` to its end, streaming its output to `output`.
    mutating func run(
        _ command: String, options: SessionOptions, output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        var file: StdinFileDescriptor?
        if let path = options.stdinFile {
            do throws(StdinFileDescriptor.Failure) {
                file = try StdinFileDescriptor.open(path)
            } catch {
                return .failed(error.failure)
            }
        }
        var settings = SessionChannel.Settings(command: command)
        settings.window = Self.window
        settings.maximumPacket = Self.maxPacket
        settings.terminationGrace = options.terminationGrace
        var channel = SessionChannel(
            host: host, settings: settings, stdin: StdinSource(preamble: options.stdinPreamble, file: file),
            maximumLineLength: options.maximumLineLength, binaryStdout: options.binaryStdout)
        let (fd, poller) = (mux.fd, mux.poller)
        let bridge = SessionBridge(wake: { poller.wake(fd) })
        return await withTaskGroup(of: Termination.self) { group in
            group.addTask { await bridge.deliver(to: output) }
            let termination: Termination
            if let stop = options.emergencyStop {
                termination = await stop.whileRegistered({ bridge.requestStop(.kill, receipt: $0) }) {
                    await drive(&channel, bridge)
                }
            } else {
                termination = await drive(&channel, bridge)
            }
            if channel.gaveUp && channel.signalSent != .none {
                await handOver(until: ContinuousClock.now + settings.killWait)
            }
            bridge.finish(termination)
            return await group.next() ?? termination
        }
    }

    /// Drives the channel on the socket until it is over.
    private mutating func drive(_ channel: inout SessionChannel, _ bridge: SessionBridge) async -> Termination {
        let clock = ContinuousClock()
        let fd = mux.fd
        var actions: [ChannelAction] = []
        var events: [ChannelEvent] = []
        var buffer = [UInt8](repeating: 0, count: Self.readSize)
        var killPending = false
        channel.start(now: clock.now, into: &actions)
        while true {
            var now = clock.now
            if Task.isCancelled { channel.handle(.stop(.terminate), now: now, into: &actions) }
            let requested = bridge.stopRequest
            if requested != .none { channel.handle(.stop(requested), now: now, into: &actions) }
            channel.poll(now: now, room: Self.outboxLimit - outbox.pending, into: &actions)
            if let end = perform(&actions, bridge, &killPending) { return end }
            // A master that stopped taking bytes is read on: what it sent before still arrives (to
            // the socket's end, or to what is there now), then the connection is reported lost.
            outbox.flush(fd)
            if killPending && outbox.pending == 0 {
                killPending = false
                bridge.killSent()
            }
            let reading = bridge.mayRead()
            if reading {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if count > 0 {
                    buffer.withUnsafeBytes { frames.receive(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                    frames.decode(into: &events)
                    now = clock.now
                    for event in events { channel.handle(event, now: now, into: &actions) }
                    events.removeAll(keepingCapacity: true)
                    if let end = perform(&actions, bridge, &killPending) { return end }
                    await Task.yield()
                    continue
                }
                if count < 0 && errno == EINTR { continue }
                if count == 0 || errno != EAGAIN || outbox.failure != nil {
                    let reason =
                        count == 0
                        ? "the master connection closed" : outbox.failure ?? "\(Errno(rawValue: errno))"
                    channel.handle(
                        .connectionLost("connection to \(host.hostname) lost: \(reason)"), now: now, into: &actions)
                    continue
                }
            }
            var interest: PollInterest = reading ? .readable : []
            if outbox.pending > 0 { interest.insert(.writable) }
            if channel.isStopping {
                _ = await mux.poller.waitOut(fd, for: interest, until: channel.deadline ?? clock.now + .seconds(1))
            } else {
                _ = await mux.poller.wait(fd, for: interest, until: channel.deadline)
            }
        }
    }

    /// Lets the master take what passh wrote — a `signal` the host has not answered — before the
    /// socket closes: passh's end is shut for writing, and the master's end of file follows once it
    /// has read everything before it. Otherwise a master stopped right after (the shell's ^D after ^C
    /// twice; the fleet closing its masters) could take the request to exit in the same round as the
    /// `signal` and leave without sending it: the host's command went on (seen once in ten runs of the
    /// tests, the machine loaded). Bounded by `deadline`, for a master that no longer reads.
    private mutating func handOver(until deadline: ContinuousClock.Instant) async {
        let fd = mux.fd
        guard shutdown(fd, Int32(SHUT_WR)) == 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count == 0 { return }
            if count > 0 || (count < 0 && errno == EINTR) { continue }
            if errno != EAGAIN || ContinuousClock.now >= deadline { return }
            _ = await mux.poller.waitOut(fd, for: .readable, until: deadline)
        }
    }

    /// Carries out the channel's actions; how the session ended once it is over (its last packet,
    /// the close, written as far as the socket takes it now).
    private mutating func perform(
        _ actions: inout [ChannelAction], _ bridge: SessionBridge, _ killPending: inout Bool
    ) -> Termination? {
        defer { actions.removeAll(keepingCapacity: true) }
        for action in actions {
            switch action {
            case .send(let message):
                if let bytes = frames.encode(message) { outbox.queue(bytes) }
                if message == .signal("KILL") { killPending = true }
            case .deliver(let chunks):
                bridge.push(chunks)
            case .finish(let termination):
                outbox.flush(mux.fd)
                return termination
            }
        }
        return nil
    }

    /// What passh has for the socket and the socket has not taken yet.
    private struct Outbox {
        private var bytes: [UInt8] = []
        private var start = 0
        /// Why the socket took no more, once it did not: from then on, what is queued is dropped.
        private(set) var failure: String?

        var pending: Int { bytes.count - start }

        mutating func queue(_ packet: [UInt8]) {
            if start == bytes.count {
                bytes.removeAll(keepingCapacity: true)
                start = 0
            }
            bytes += packet
        }

        /// Writes what the socket takes now; after a failure (``failure``), drops it.
        mutating func flush(_ fd: Int32) {
            if failure != nil { start = bytes.count }
            while start < bytes.count {
                let from = start
                // MSG_NOSIGNAL: a master gone away is an error here, not a SIGPIPE for the program.
                let written = bytes.withUnsafeBytes {
                    send(fd, $0.baseAddress! + from, $0.count - from, Int32(MSG_NOSIGNAL))
                }
                if written > 0 {
                    start += written
                    continue
                }
                if written < 0 && errno == EINTR { continue }
                if written < 0 && errno == EAGAIN { return }
                start = bytes.count
                failure = written < 0 ? "\(Errno(rawValue: errno))" : "the master connection closed"
            }
        }
    }
}
