import CPasshShims
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A client of OpenSSH's connection multiplexing protocol (`PROTOCOL.mux` in OpenSSH's sources),
/// spoken straight to a master's control socket.
///
/// A host whose master connection is up needs no `ssh` process at all: passh greets the master,
/// then either asks it to exit (``terminate(deadline:)``) or turns the connection into proxy mode
/// (``startProxy(deadline:)``) and runs the session itself with ``MuxProxySession`` — which, unlike
/// a mux session (`MUX_C_NEW_SESSION`, descriptors passed with `SCM_RIGHTS`), can signal the remote
/// command and see how it ended.
///
/// Every exchange has a deadline and ends when the calling task is cancelled: a master that accepts
/// and never answers (wedged, stopped, a stale socket with a live process) is a failure
/// (``Failure/Kind/silent``), never a hang.
struct MuxClient: ~Copyable {
    private enum Message: UInt32 {
        case hello = 0x0000_0001
        case terminate = 0x1000_0005
        case proxy = 0x1000_000F
        case proxyStarted = 0x8000_000F
        case ok = 0x8000_0001
        case permissionDenied = 0x8000_0002
        case failure = 0x8000_0003
    }

    struct Failure: Error {
        enum Kind: Sendable {
            /// No master listens at the socket (none there, or a stale one).
            case noMaster
            /// The master did not answer before the deadline (or does not accept at all).
            case silent
            /// The calling task was cancelled.
            case cancelled
            /// The master refused, or the connection broke.
            case failed
        }

        let kind: Kind
        let reason: String

        init(_ kind: Kind, _ reason: String) {
            self.kind = kind
            self.reason = reason
        }
    }

    /// The control socket (non-blocking); ``MuxProxySession`` drives it after ``startProxy(deadline:)``.
    let fd: Int32
    /// Where the socket's waits end: the transport's.
    let poller: Poller
    private(set) var received: [UInt8] = []

    /// Takes over `fd`, a connected, non-blocking stream socket (a socketpair's end, in tests).
    /// Whether a cancellation of the calling task ends the client's waits (else their deadline does).
    private var cancellable = true

    init(connected fd: Int32, poller: Poller) {
        self.fd = fd
        self.poller = poller
    }

    /// Connects to the master listening at `path` and exchanges greetings, which must be over by
    /// `deadline`.
    ///
    /// `cancellable: false`: a client for a teardown that must go on after a cancellation (asking a
    /// private master to exit); its waits end at `deadline` alone.
    static func connect(
        path: String, poller: Poller, deadline: ContinuousClock.Instant, cancellable: Bool = true
    ) async throws(Failure) -> MuxClient {
        let fd = passh_unix_connect(path)
        guard fd >= 0 else {
            if errno == EAGAIN { throw Failure(.silent, "the master connection does not accept") }
            throw Failure(.noMaster, "no master connection: \(Errno(rawValue: errno))")
        }
        var client = MuxClient(connected: fd, poller: poller)  // owns the descriptor from here on
        client.cancellable = cancellable
        try await client.greet(deadline: deadline)
        return client
    }

    deinit {
        poller.forget(fd)
        close(fd)
    }

    /// The hello exchange: the master's, then ours.
    mutating func greet(deadline: ContinuousClock.Instant) async throws(Failure) {
        var hello = MuxMessage(rawType: Message.hello.rawValue)
        hello.u32(4)  // protocol version
        try await send(hello, deadline: deadline)
        let reply = try await receive(deadline: deadline)
        guard reply.type == Message.hello.rawValue else {
            throw Failure(.failed, "the master connection did not greet")
        }
    }

    /// Turns the connection into a pipe for the SSH connection protocol through the master
    /// (`MUX_C_PROXY`): from here on, ``MuxProxySession`` speaks on ``fd``.
    mutating func startProxy(deadline: ContinuousClock.Instant) async throws(Failure) {
        var request = MuxMessage(rawType: Message.proxy.rawValue)
        request.u32(1)  // request id
        try await send(request, deadline: deadline)
        var reply = try await receive(deadline: deadline)
        guard reply.type == Message.proxyStarted.rawValue else {
            _ = reply.u32()
            throw Failure(.failed, "the master connection refused proxy mode: \(reply.text())")
        }
    }

    /// What arrived after the last message read: the start of the proxy stream.
    mutating func takeReceived() -> [UInt8] {
        defer { received = [] }
        return received
    }

    /// Asks the master to exit. It may close the connection before its reply arrives: that is a
    /// yes too.
    mutating func terminate(deadline: ContinuousClock.Instant) async throws(Failure) {
        var request = MuxMessage(rawType: Message.terminate.rawValue)
        request.u32(1)
        try await send(request, deadline: deadline)
        var reply: MuxMessage.Reader
        do throws(Failure) {
            reply = try await receive(deadline: deadline)
        } catch  where error.kind == .failed {
            return  // gone: it exited
        }
        if reply.type != Message.ok.rawValue {
            _ = reply.u32()
            throw Failure(.failed, "the master connection refused to exit: \(reply.text())")
        }
    }

    // MARK: - Wire

    private func send(_ message: MuxMessage, deadline: ContinuousClock.Instant) async throws(Failure) {
        let bytes = message.framed
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a master gone away is an error here, not a SIGPIPE for the program.
            let sent = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent >= 0 {
                offset += sent
                continue
            }
            let error = Errno(rawValue: errno)
            switch error {
            case .resourceTemporarilyUnavailable: try await wait(for: .writable, until: deadline)
            case .interrupted: continue
            default: throw Failure(.failed, "lost the master connection: \(error)")
            }
        }
    }

    /// The next whole message.
    private mutating func receive(deadline: ContinuousClock.Instant) async throws(Failure) -> MuxMessage.Reader {
        while true {
            if let message = try MuxMessage.take(from: &received) { return message }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n > 0 {
                received += buffer[..<n]
                continue
            }
            if n == 0 { throw Failure(.failed, "the master connection closed") }
            if errno == EINTR { continue }
            guard errno == EAGAIN else {
                throw Failure(.failed, "lost the master connection: \(Errno(rawValue: errno))")
            }
            try await wait(for: .readable, until: deadline)
        }
    }

    private func wait(for interest: PollInterest, until deadline: ContinuousClock.Instant) async throws(Failure) {
        let outcome =
            cancellable
            ? await poller.wait(fd, for: interest, until: deadline)
            : await poller.waitOut(fd, for: interest, until: deadline)
        switch outcome {
        case .ready: return
        case .timedOut: throw Failure(.silent, "the master connection did not answer")
        case .cancelled: throw Failure(.cancelled, "cancelled")
        case .refused: throw Failure(.failed, "the master connection is busy")
        }
    }
}

/// One message of the multiplexing protocol: big-endian `u32`s and length-prefixed strings.
struct MuxMessage {
    private var payload: [UInt8] = []

    init(rawType: UInt32) {
        u32(rawType)
    }

    mutating func u32(_ value: UInt32) {
        payload += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    mutating func string(_ bytes: [UInt8]) {
        u32(UInt32(bytes.count))
        payload += bytes
    }

    /// The first whole message of `received` (removed from it), or `nil` until one has arrived.
    static func take(from received: inout [UInt8]) throws(MuxClient.Failure) -> Reader? {
        guard received.count >= 4 else { return nil }
        let length = Int(received[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard length <= 256 << 10 else { throw MuxClient.Failure(.failed, "oversized multiplexing message") }
        guard length >= 4 else { throw MuxClient.Failure(.failed, "multiplexing message without a type") }
        guard received.count >= 4 + length else { return nil }
        var reader = Reader(bytes: Array(received[4..<(4 + length)]))
        received.removeFirst(4 + length)
        reader.type = reader.u32() ?? 0
        return reader
    }

    /// Length-prefixed, ready to send.
    var framed: [UInt8] {
        var message = MuxMessage(rawType: UInt32(payload.count))
        message.payload += payload
        return message.payload
    }

    /// Reads a received message's fields in order.
    struct Reader {
        var bytes: [UInt8]
        var position = 0
        var type: UInt32 = 0

        mutating func u32() -> UInt32? {
            guard position + 4 <= bytes.count else { return nil }
            defer { position += 4 }
            return bytes[position..<(position + 4)].reduce(0) { $0 << 8 | UInt32($1) }
        }

        /// The rest of a message read as one string (a failure's reason).
        mutating func text() -> String {
            guard let length = u32().map(Int.init), position + length <= bytes.count else { return "" }
            return String(decoding: bytes[position..<(position + length)], as: UTF8.self)
        }
    }
}
