/// The codec of a session channel spoken through an OpenSSH master in multiplexing proxy mode
/// (`MUX_C_PROXY`): RFC 4254 messages in proxy framing, to and from a ``SessionChannel``'s terms.
///
/// Proxy framing, both ways: `uint32 L | byte 0 | byte type | payload`, L = 2 + the payload's
/// length; no encryption, MAC or sequence numbers (the master adds them). The master relays
/// channel messages without checking their channel ids, and a message for a channel the server
/// does not know ends the whole connection: the codec uses exactly the ids it was given, encodes
/// nothing before the channel is confirmed, and never a global request.
struct MuxProxyFrames {
    enum Kind: UInt8 {
        case open = 90, openConfirmation = 91, openFailure = 92, windowAdjust = 93, data = 94
        case extendedData = 95, eof = 96, close = 97, request = 98, success = 99, failure = 100
    }

    /// Our channel id: one channel per proxy connection.
    static let localID: UInt32 = 0
    /// The largest packet taken (the master closes on longer ones).
    static let maximumLength = 256 << 10 + 64

    /// The server's id for the channel, once confirmed.
    private(set) var remoteID: UInt32?
    private var inbox: [UInt8]
    private var inboxStart = 0
    /// For messages: `connection to HOST lost: …`.
    let hostname: String

    /// A codec whose first received bytes are `received` (what followed the master's proxy reply).
    init(hostname: String, received: [UInt8] = []) {
        self.hostname = hostname
        self.inbox = received
    }

    // MARK: In

    /// Keeps received bytes until their packets are whole.
    mutating func receive(_ bytes: UnsafeRawBufferPointer) {
        if inboxStart > 0 && inboxStart >= inbox.count / 2 {
            inbox.removeFirst(inboxStart)
            inboxStart = 0
        }
        inbox.append(contentsOf: bytes)
    }

    /// The events of every whole packet received; a malformed one ends them with the connection's loss.
    mutating func decode(into events: inout [ChannelEvent]) {
        while inbox.count - inboxStart >= 4 {
            let length = inbox[inboxStart..<(inboxStart + 4)].reduce(0) { $0 << 8 | Int($1) }
            guard length >= 2, length <= Self.maximumLength else {
                events.append(.connectionLost("connection to \(hostname) lost: a malformed proxy packet"))
                inboxStart = inbox.count
                return
            }
            guard inbox.count - inboxStart >= 4 + length else { return }
            let type = inbox[inboxStart + 5]
            var packet = Reader(bytes: inbox[(inboxStart + 6)..<(inboxStart + 4 + length)])
            inboxStart += 4 + length
            // Not for our channel
            guard let kind = Kind(rawValue: type), packet.u32() == Self.localID else { continue }
            switch kind {
            case .openConfirmation:
                guard let id = packet.u32() else { continue }
                remoteID = id
                events.append(
                    .opened(window: Int(packet.u32() ?? 0), maximumPacket: Int(packet.u32() ?? 0)))
            case .openFailure:
                _ = packet.u32()
                events.append(.openRefused(String(decoding: packet.string() ?? [], as: UTF8.self)))
            case .windowAdjust:
                events.append(.windowAdjusted(Int(packet.u32() ?? 0)))
            case .data:
                if let data = packet.string() { events.append(.output(.stdout, data)) }
            case .extendedData:
                let code = packet.u32()
                if let data = packet.string() {
                    events.append(code == 1 ? .output(.stderr, data) : .discarded(data.count))
                }
            case .eof:
                events.append(.outputEnded)
            case .close:
                events.append(.closed)
            case .request:
                let name = String(decoding: packet.string() ?? [], as: UTF8.self)
                let wantsReply = packet.byte() != 0
                if name == "exit-status", let status = packet.u32() {
                    events.append(.exitStatus(Int32(bitPattern: status)))
                } else if name == "exit-signal", let signal = packet.string() {
                    events.append(.exitSignal(String(decoding: signal, as: UTF8.self)))
                }
                if wantsReply { events.append(.request(wantsReply: true)) }
            case .success:
                events.append(.execAccepted)  // the one request that wants a reply
            case .failure:
                events.append(.execRefused(nil))
            case .open:
                break
            }
        }
    }

    // MARK: Out

    /// `message` framed for the master; `nil` for what cannot go yet (before the channel is
    /// confirmed) or at all (a terminal: through a master, one is had with an `ssh -tt` process).
    func encode(_ message: ChannelMessage) -> [UInt8]? {
        if case .open(let window, let maximumPacket) = message {
            var open = Payload(.open)
            open.string(Array("session".utf8))
            open.u32(Self.localID)
            open.u32(UInt32(clamping: window))
            open.u32(UInt32(clamping: maximumPacket))
            return open.framed()
        }
        guard let remoteID else { return nil }
        var packet: Payload
        switch message {
        case .open, .terminal:
            return nil
        case .exec(let command):
            packet = Payload(.request)
            packet.u32(remoteID)
            packet.string(Array("exec".utf8))
            packet.bool(true)
            packet.string(Array(command.utf8))
        case .data(let bytes):
            packet = Payload(.data, capacity: bytes.count + 8)
            packet.u32(remoteID)
            packet.string(bytes)
        case .eof:
            packet = Payload(.eof)
            packet.u32(remoteID)
        case .signal(let name):
            packet = Payload(.request)
            packet.u32(remoteID)
            packet.string(Array("signal".utf8))
            packet.bool(false)
            packet.string(Array(name.utf8))
        case .windowAdjust(let count):
            packet = Payload(.windowAdjust)
            packet.u32(remoteID)
            packet.u32(UInt32(clamping: count))
        case .requestFailed:
            packet = Payload(.failure)
            packet.u32(remoteID)
        case .close:
            packet = Payload(.close)
            packet.u32(remoteID)
        }
        return packet.framed()
    }

    // MARK: Wire

    /// A packet being built: its length (filled in by ``framed()``), padding, type, then big-endian
    /// `u32`s and length-prefixed strings.
    struct Payload {
        private var bytes: [UInt8]

        init(_ kind: Kind, capacity: Int = 0) {
            bytes = []
            bytes.reserveCapacity(capacity + 6)
            bytes += [0, 0, 0, 0, 0, kind.rawValue]
        }

        mutating func u32(_ value: UInt32) {
            bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }

        mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

        mutating func string<Bytes: Collection<UInt8>>(_ value: Bytes) {
            u32(UInt32(value.count))
            bytes += value
        }

        /// With its length in front.
        consuming func framed() -> [UInt8] {
            let length = UInt32(bytes.count - 4)
            bytes[0] = UInt8(length >> 24)
            bytes[1] = UInt8(length >> 16 & 0xFF)
            bytes[2] = UInt8(length >> 8 & 0xFF)
            bytes[3] = UInt8(length & 0xFF)
            return bytes
        }
    }

    /// Reads a received packet's fields in order.
    struct Reader {
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
