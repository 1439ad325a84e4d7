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
/// then either asks it to exit (``terminate()``) or turns the connection into proxy mode
/// (``startProxy()``) and runs the session itself with ``MuxProxySession`` — which, unlike a mux
/// session (`MUX_C_NEW_SESSION`, descriptors passed with `SCM_RIGHTS`), can signal the remote
/// command and see how it ended.
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
        let reason: String
    }

    /// The control socket (non-blocking); ``MuxProxySession`` drives it after ``startProxy()``.
    let fd: Int32
    private(set) var received: [UInt8] = []

    private init(fd: Int32) {
        self.fd = fd
    }

    /// Connects to the master listening at `path` and exchanges greetings; `nil` when no master
    /// answers there (no socket, or a stale one).
    static func connect(path: String) async -> MuxClient? {
        let fd = passh_unix_connect(path)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var client = MuxClient(fd: fd)  // owns the descriptor from here on
        var hello = MuxMessage(rawType: Message.hello.rawValue)
        hello.u32(4)  // protocol version
        guard (try? await client.send(hello)) != nil, let reply = try? await client.receive(),
            reply.type == Message.hello.rawValue
        else {
            return nil
        }
        return client
    }

    deinit {
        Poller.shared.deregister(fd)
        close(fd)
    }

    /// Turns the connection into a pipe for the SSH connection protocol through the master
    /// (`MUX_C_PROXY`): from here on, ``MuxProxySession`` speaks on ``fd``.
    mutating func startProxy() async throws(Failure) {
        var request = MuxMessage(rawType: Message.proxy.rawValue)
        request.u32(1)  // request id
        try await send(request)
        guard var reply = try await receive() else { throw Failure(reason: "no reply to the proxy request") }
        guard reply.type == Message.proxyStarted.rawValue else {
            _ = reply.u32()
            throw Failure(reason: "the master connection refused proxy mode: \(reply.text())")
        }
    }

    /// What arrived after the last message read: the start of the proxy stream.
    mutating func takeReceived() -> [UInt8] {
        defer { received = [] }
        return received
    }

    /// Asks the master to exit. It may close the connection before its reply arrives: that is a
    /// yes too.
    mutating func terminate() async throws(Failure) {
        var request = MuxMessage(rawType: Message.terminate.rawValue)
        request.u32(1)
        try await send(request)
        let reply: MuxMessage.Reader?
        do throws(Failure) {
            reply = try await receive()
        } catch {
            return
        }
        if var reply, reply.type != Message.ok.rawValue {
            _ = reply.u32()
            throw Failure(reason: "the master connection refused to exit: \(reply.text())")
        }
    }

    // MARK: - Wire

    private func send(_ message: MuxMessage) async throws(Failure) {
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
            case .resourceTemporarilyUnavailable: await Poller.shared.waitWritable(fd)
            case .interrupted: continue
            default: throw Failure(reason: "lost the master connection: \(error)")
            }
        }
    }

    /// The next whole message.
    private mutating func receive() async throws(Failure) -> MuxMessage.Reader? {
        while true {
            if let message = try MuxMessage.take(from: &received) { return message }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n > 0 {
                received += buffer[..<n]
                continue
            }
            if n == 0 { throw Failure(reason: "the master connection closed") }
            if errno == EINTR { continue }
            guard errno == EAGAIN else {
                throw Failure(reason: "lost the master connection: \(Errno(rawValue: errno))")
            }
            await Poller.shared.waitReadable(fd)
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
        guard length <= 256 << 10 else { throw MuxClient.Failure(reason: "oversized multiplexing message") }
        guard length >= 4 else { throw MuxClient.Failure(reason: "multiplexing message without a type") }
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
