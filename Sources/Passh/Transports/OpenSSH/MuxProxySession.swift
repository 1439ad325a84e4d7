import Synchronization
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
/// Proxy framing, both ways: `uint32 L | byte 0 | byte type | payload`, L = 2 + the payload's
/// length; no encryption, MAC or sequence numbers (the master adds them). The master relays
/// channel messages without checking their channel ids, and a message for a channel the server
/// does not know ends the whole connection: the session uses exactly the ids it was given, sends
/// nothing after the channel is closed, and never sends a global request.
///
/// Stopping (cancellation of the calling task): `signal TERM` (the server signals the command's
/// whole process group), then after ``SessionOptions/terminationGrace`` `signal KILL`, then the
/// channel is closed. An emergency stop sends KILL at once.
struct MuxProxySession: ~Copyable {
    fileprivate enum Kind: UInt8 {
        case open = 90, openConfirmation = 91, openFailure = 92, windowAdjust = 93, data = 94
        case extendedData = 95, eof = 96, close = 97, request = 98, success = 99, failure = 100
    }

    private enum Phase { case opening, executing, running }

    /// The window passh grants the server, and when it tops it up.
    static let window: UInt32 = 2 << 20
    static let maxPacket: UInt32 = 32 << 10
    /// How long after a KILL the session waits for the channel to close before giving up on it.
    static let killWait: Duration = .seconds(1)
    /// The most passh queues for the socket (stdin) before waiting for it to drain.
    private static let outboxLimit = 256 << 10
    private static let localID: UInt32 = 0

    private var mux: MuxClient
    private let host: Host
    private var inbox: [UInt8]
    private var inboxStart = 0
    private let outbox: ProxyOutbox
    private var readBuffer = [UInt8](repeating: 0, count: 64 << 10)

    private var phase = Phase.opening
    private var remoteID: UInt32?
    private var remoteWindow = 0
    private var remoteMaxPacket = 0
    private var consumed = 0
    private var closeReceived = false
    private var exitStatus: Int32?
    private var exitSignal: String?
    private var failure: HostFailure?

    private var stdinFile: Int32 = -1
    /// What stdin starts with (``SessionOptions/stdinPreamble``), while it is not all queued.
    private var preamble: [UInt8] = []
    private var stdinOffset = 0
    private var eofSent = false

    private let stdoutSplitter: LineSplitter
    private let stderrSplitter: LineSplitter
    private var stdoutPending: [UInt8] = []
    private var stderrPending: [UInt8] = []

    /// A session on `mux`, which ``MuxClient/startProxy()`` made a proxy connection.
    init(_ mux: consuming MuxClient, host: Host, maximumLineLength: Int) {
        self.inbox = mux.takeReceived()
        self.outbox = ProxyOutbox(fd: mux.fd)
        self.mux = mux
        self.host = host
        stdoutSplitter = LineSplitter(host: host, stream: .stdout, maximumLineLength: maximumLineLength)
        stderrSplitter = LineSplitter(host: host, stream: .stderr, maximumLineLength: maximumLineLength)
    }

    /// Runs `command` to its end (the channel's close), streaming its output to `output`.
    mutating func run(
        _ command: String, options: SessionOptions, output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        preamble = options.stdinPreamble
        if let path = options.stdinFile {
            stdinFile = open(path.string, O_RDONLY | O_CLOEXEC)
            if stdinFile < 0 {
                return .failed(HostFailure(.cannotStart, "cannot open \(path.string): \(Errno(rawValue: errno))"))
            }
        }
        defer {
            if stdinFile >= 0 { close(stdinFile) }
            outbox.finish()
        }
        var open = Payload(.open)
        open.string(Array("session".utf8))
        open.u32(Self.localID)
        open.u32(Self.window)
        open.u32(Self.maxPacket)
        queue(open)
        // Stops are sent from outside the loop, which may be waiting for a slow consumer of the
        // output (an abandoned event stream, a full terminal).
        let outbox = self.outbox
        let grace = options.terminationGrace
        return await withTaskCancellationHandler {
            guard let stop = options.emergencyStop else {
                return await loop(command, options: options, output: output)
            }
            return await stop.whileRegistered({ outbox.stop(.kill, grace: grace) }) {
                await loop(command, options: options, output: output)
            }
        } onCancel: {
            outbox.stop(.terminate, grace: grace)
        }
    }

    private mutating func loop(
        _ command: String, options: SessionOptions, output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        let fd = mux.fd
        while true {
            let (stop, closeDue) = outbox.stopState
            if stop != .none && remoteID == nil { return .cancelled }  // nothing runs yet
            if closeDue {
                outbox.sendClose()
                await deliverRest(output)
                return .cancelled
            }
            feedStdin()
            flush()
            if let failure { return finished(failure, stopped: outbox.stopState.stop != .none) }
            // Reading: everything there, up to a buffer's worth, then the output goes on.
            let count = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count > 0 {
                if inboxStart > 0 && inboxStart >= inbox.count / 2 {
                    inbox.removeFirst(inboxStart)
                    inboxStart = 0
                }
                inbox += readBuffer[..<count]
                let (out, err) = takePackets(command)
                if let failure { return finished(failure, stopped: outbox.stopState.stop != .none) }
                await deliver(out, stderr: false, output)
                await deliver(err, stderr: true, output)
                consumed += out.count + err.count
                if consumed >= Int(Self.window / 2) && !closeReceived, let remoteID {
                    var adjust = Payload(.windowAdjust)
                    adjust.u32(remoteID)
                    adjust.u32(UInt32(consumed))
                    queue(adjust)
                    consumed = 0
                }
                if closeReceived {
                    outbox.sendClose()
                    await deliverRest(output)
                    return ended()
                }
                await Task.yield()
                continue
            }
            if count == 0 || (errno != EAGAIN && errno != EINTR) {
                let reason = count == 0 ? "the master connection closed" : "\(Errno(rawValue: errno))"
                await deliverRest(output)
                return finished(
                    HostFailure(.connectionLost, "connection to \(host.hostname) lost: \(reason)"),
                    stopped: outbox.stopState.stop != .none)
            }
            if count < 0 && errno == EINTR { continue }
            await Poller.shared.waitReady(fd, orWritable: outbox.isWriting)
        }
    }

    /// How the session ended once the channel closed.
    private func ended() -> Termination {
        if outbox.stopState.stop != .none && exitStatus != 0 { return .cancelled }
        if let exitSignal { return .signaled(Signal(name: exitSignal)) }
        if let exitStatus { return .exited(exitStatus) }
        return .failed(HostFailure(.connectionLost, "the host closed the session without an exit status"))
    }

    private func finished(_ failure: HostFailure, stopped: Bool) -> Termination {
        stopped ? .cancelled : .failed(failure)
    }

    // MARK: Packets in

    /// Handles every whole packet received; returns the stdout and stderr bytes they carried.
    private mutating func takePackets(_ command: String) -> (stdout: [UInt8], stderr: [UInt8]) {
        var out: [UInt8] = []
        var err: [UInt8] = []
        while inbox.count - inboxStart >= 4 {
            let length = inbox[inboxStart..<(inboxStart + 4)].reduce(0) { $0 << 8 | Int($1) }
            guard length >= 2, length <= 256 << 10 + 64 else {
                failure = HostFailure(.connectionLost, "connection to \(host.hostname) lost: a malformed proxy packet")
                break
            }
            guard inbox.count - inboxStart >= 4 + length else { break }
            let type = inbox[inboxStart + 5]
            var packet = Reader(bytes: inbox[(inboxStart + 6)..<(inboxStart + 4 + length)])
            inboxStart += 4 + length
            // Not for our channel
            guard let kind = Kind(rawValue: type), packet.u32() == Self.localID else { continue }
            switch kind {
            case .openConfirmation:
                remoteID = packet.u32()
                remoteWindow = Int(packet.u32() ?? 0)
                remoteMaxPacket = Int(packet.u32() ?? 0)
                guard let remoteID else { continue }
                var exec = Payload(.request)
                exec.u32(remoteID)
                exec.string(Array("exec".utf8))
                exec.bool(true)
                exec.string(Array(command.utf8))
                queue(exec)
                outbox.start(remoteID)  // a stop asked for before now is sent after the exec
                phase = .executing
            case .openFailure:
                _ = packet.u32()
                let reason = String(decoding: packet.string() ?? [], as: UTF8.self)
                failure = HostFailure(.other, "the host refused a session channel: \(reason)")
            case .windowAdjust:
                remoteWindow += Int(packet.u32() ?? 0)
            case .data:
                if let data = packet.string() { out += data }
            case .extendedData:
                let code = packet.u32()
                if let data = packet.string() {
                    if code == 1 { err += data } else { consumed += data.count }
                }
            case .eof:
                break
            case .close:
                closeReceived = true
                outbox.closeReceived()
            case .request:
                let name = String(decoding: packet.string() ?? [], as: UTF8.self)
                let wantsReply = packet.byte() != 0
                if name == "exit-status", let status = packet.u32() {
                    exitStatus = Int32(bitPattern: status)
                } else if name == "exit-signal", let signal = packet.string() {
                    exitSignal = String(decoding: signal, as: UTF8.self)
                }
                if wantsReply, let remoteID {
                    var no = Payload(.failure)
                    no.u32(remoteID)
                    queue(no)
                }
            case .success:
                if phase == .executing {
                    phase = .running
                    if stdinFile < 0 && preamble.isEmpty { sendEOF() }
                }
            case .failure:
                if phase == .executing {
                    failure = HostFailure(.other, "the host refused to run the command")
                }
            case .open:
                break
            }
        }
        return (out, err)
    }

    // MARK: Output

    private mutating func deliver(
        _ bytes: [UInt8], stderr: Bool, _ output: @Sendable (OutputChunk) async -> Void
    ) async {
        guard !bytes.isEmpty else { return }
        let pending = stderr ? stderrPending : stdoutPending
        let buffer = pending + bytes
        let (chunks, rest) = (stderr ? stderrSplitter : stdoutSplitter).split(buffer, searchFrom: pending.count)
        if stderr { stderrPending = rest } else { stdoutPending = rest }
        for chunk in chunks { await output(chunk) }
    }

    /// The streams' unterminated last lines.
    private mutating func deliverRest(_ output: @Sendable (OutputChunk) async -> Void) async {
        if let last = stdoutSplitter.finish(stdoutPending) { await output(last) }
        if let last = stderrSplitter.finish(stderrPending) { await output(last) }
        stdoutPending = []
        stderrPending = []
    }

    // MARK: Packets out

    private mutating func sendEOF() {
        guard let remoteID, !eofSent, !closeReceived else { return }
        eofSent = true
        var eof = Payload(.eof)
        eof.u32(remoteID)
        queue(eof)
    }

    /// Queues the preamble, then as much of the stdin file as the server's window takes; EOF at
    /// the end.
    private mutating func feedStdin() {
        guard phase == .running, stdinFile >= 0 || !preamble.isEmpty, let remoteID, !closeReceived else { return }
        let size = min(remoteMaxPacket, Int(Self.maxPacket))
        if !preamble.isEmpty {
            let count = min(remoteWindow, size, preamble.count)
            guard count > 0 else { return }
            var data = Payload(.data)
            data.u32(remoteID)
            data.string(preamble[..<count])
            queue(data)
            preamble.removeFirst(count)
            remoteWindow -= count
            if !preamble.isEmpty { return }
            if stdinFile < 0 {
                sendEOF()
                return
            }
        }
        while remoteWindow > 0, size > 0, outbox.pending < Self.outboxLimit {
            let want = min(remoteWindow, size)
            let got = readBuffer.withUnsafeMutableBytes { pread(stdinFile, $0.baseAddress!, want, stdinOffset) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 {  // the end of the file (or a read error: the host sees its stdin end)
                close(stdinFile)
                stdinFile = -1
                sendEOF()
                return
            }
            var data = Payload(.data)
            data.u32(remoteID)
            data.string(readBuffer[..<got])
            queue(data)
            stdinOffset += got
            remoteWindow -= got
        }
    }

    private func queue(_ payload: Payload) {
        outbox.queue(payload.framed)
    }

    private mutating func flush() {
        if let reason = outbox.flush() {
            failure = failure ?? HostFailure(.connectionLost, "connection to \(host.hostname) lost: \(reason)")
        }
    }

    // MARK: Wire

    /// A packet being built: big-endian `u32`s, length-prefixed strings.
    fileprivate struct Payload {
        var bytes: [UInt8]

        init(_ kind: Kind) { bytes = [0, 0, 0, 0, 0, kind.rawValue] }

        mutating func u32(_ value: UInt32) {
            bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }

        mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

        mutating func string<Bytes: Collection<UInt8>>(_ value: Bytes) {
            u32(UInt32(value.count))
            bytes += value
        }

        /// With its length in front.
        var framed: [UInt8] {
            var framed = bytes
            let length = UInt32(bytes.count - 4)
            framed[0] = UInt8(length >> 24)
            framed[1] = UInt8(length >> 16 & 0xFF)
            framed[2] = UInt8(length >> 8 & 0xFF)
            framed[3] = UInt8(length & 0xFF)
            return framed
        }
    }

    /// Reads a received packet's fields in order.
    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var position: Int

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            position = bytes.startIndex
        }

        mutating func byte() -> UInt8? {
            guard position < bytes.endIndex else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func u32() -> UInt32? {
            guard position + 4 <= bytes.endIndex else { return nil }
            defer { position += 4 }
            return bytes[position..<(position + 4)].reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func string() -> ArraySlice<UInt8>? {
            guard let length = u32().map(Int.init), position + length <= bytes.endIndex else { return nil }
            defer { position += length }
            return bytes[position..<(position + length)]
        }
    }
}

/// How far a stop has gone.
private enum Stop: Int, Comparable, Sendable {
    case none, terminate, kill
    static func < (a: Stop, b: Stop) -> Bool { a.rawValue < b.rawValue }
}

/// What a proxy session sends, shared between its loop and whoever stops it (a cancellation, an
/// emergency stop, the grace's timer), so that a stop goes out at once even while the loop waits
/// for the output's consumer. Everything non-blocking, under one lock: packets never interleave.
private final class ProxyOutbox: Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var start = 0
        var remoteID: UInt32?
        var closeSent = false
        var closeReceived = false
        var stop = Stop.none
        var signalled = Stop.none
        var closeDue = false
        var finished = false
        var timer: Task<Void, Never>?
    }

    private let fd: Int32
    private let state = Mutex(State())

    init(fd: Int32) { self.fd = fd }

    var stopState: (stop: Stop, closeDue: Bool) { state.withLock { ($0.stop, $0.closeDue) } }
    var pending: Int { state.withLock { $0.bytes.count - $0.start } }
    var isWriting: Bool { pending > 0 }

    func queue(_ packet: [UInt8]) {
        state.withLock { state in
            if state.start == state.bytes.count {
                state.bytes.removeAll(keepingCapacity: true)
                state.start = 0
            }
            state.bytes += packet
        }
    }

    /// Writes what the socket takes now; the reason when the connection is gone.
    func flush() -> String? {
        state.withLock { Self.flush(&$0, fd) }
    }

    /// The channel is confirmed and its command asked for: stops can go out.
    func start(_ remoteID: UInt32) {
        state.withLock { state in
            state.remoteID = remoteID
            Self.sendSignal(&state, fd)
        }
    }

    func closeReceived() {
        state.withLock { $0.closeReceived = true }
    }

    /// Closes the channel (once), and writes what the socket takes.
    func sendClose() {
        state.withLock { state in
            guard let remoteID = state.remoteID, !state.closeSent else { return }
            state.closeSent = true
            var close = MuxProxySession.Payload(.close)
            close.u32(remoteID)
            state.bytes += close.framed
            _ = Self.flush(&state, fd)
        }
    }

    /// TERM, then after `grace` KILL; or KILL at once. The channel is closed a second after the KILL.
    func stop(_ level: Stop, grace: Duration) {
        state.withLock { state in
            guard !state.finished, level > state.stop else { return }
            state.stop = level
            Self.sendSignal(&state, fd)
            state.timer?.cancel()
            state.timer = Task { [weak self] in
                if level == .terminate {
                    guard (try? await Task.sleep(for: grace)) != nil else { return }
                    self?.stop(.kill, grace: grace)
                    return
                }
                guard (try? await Task.sleep(for: MuxProxySession.killWait)) != nil else { return }
                self?.dueClose()
            }
            Poller.shared.wake(fd)
        }
    }

    private func dueClose() {
        state.withLock { state in
            guard !state.finished else { return }
            state.closeDue = true
            Poller.shared.wake(fd)
        }
    }

    /// The session is over (its socket is about to close): no more wake-ups.
    func finish() {
        state.withLock { state in
            state.finished = true
            state.timer?.cancel()
        }
    }

    private static func sendSignal(_ state: inout State, _ fd: Int32) {
        guard state.signalled < state.stop, let remoteID = state.remoteID, !state.closeSent, !state.closeReceived else {
            return
        }
        state.signalled = state.stop
        var request = MuxProxySession.Payload(.request)
        request.u32(remoteID)
        request.string(Array("signal".utf8))
        request.bool(false)
        request.string(Array((state.stop == .kill ? "KILL" : "TERM").utf8))
        state.bytes += request.framed
        _ = flush(&state, fd)
    }

    private static func flush(_ state: inout State, _ fd: Int32) -> String? {
        while state.start < state.bytes.count {
            let start = state.start
            let written = state.bytes.withUnsafeBytes {
                send(fd, $0.baseAddress! + start, $0.count - start, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                state.start += written
                continue
            }
            if written < 0 && errno == EINTR { continue }
            if written < 0 && errno == EAGAIN { return nil }
            let reason = written < 0 ? "\(Errno(rawValue: errno))" : "the master connection closed"
            state.start = state.bytes.count
            return reason
        }
        return nil
    }
}
