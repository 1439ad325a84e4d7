import ExtrasBase64

#if canImport(Glibc)
import Glibc
#endif

/// The few messages of the ssh-agent protocol (draft-miller-ssh-agent) the libssh transport's
/// agent filter speaks: list the keys, sign with one; every message a `uint32` length and a
/// payload whose first byte is its type.
enum AgentProtocol {
    /// A key the agent holds: its public key blob, and its comment.
    struct Identity: Sendable, Hashable {
        let blob: [UInt8]
        let comment: [UInt8]
        /// The blob in Base64, as `ssh_pki_export_pubkey_base64` writes a public key.
        var base64: String { Base64.encodeToString(bytes: blob) }
    }

    static let failure: UInt8 = 5
    static let requestIdentities: UInt8 = 11
    static let identitiesAnswerType: UInt8 = 12
    static let signRequest: UInt8 = 13
    /// Longer messages are not agent messages (OpenSSH's agent allows 256 KiB).
    static let maximumLength = 256 << 10
    /// How long an agent may take to answer: one that asks its user for confirmation may take a
    /// while, but not for ever.
    static let timeoutMilliseconds: Int32 = 30_000

    /// `payload` with its length in front.
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        let count = UInt32(payload.count)
        return [
            UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 8),
            UInt8(truncatingIfNeeded: count),
        ] + payload
    }

    /// The first whole message's payload, taken off `buffer`; `nil` while it is incomplete. A
    /// message longer than ``maximumLength`` empties the buffer and is an empty payload (answered
    /// with a failure).
    static func takeMessage(_ buffer: inout [UInt8]) -> [UInt8]? {
        guard buffer.count >= 4 else { return nil }
        let length = buffer[0..<4].reduce(0) { $0 << 8 | Int($1) }
        if length > maximumLength {
            buffer = []
            return []
        }
        guard buffer.count >= 4 + length else { return nil }
        let payload = Array(buffer[4..<(4 + length)])
        buffer.removeFirst(4 + length)
        return payload
    }

    /// A `string` (length and bytes) at `offset`, which moves past it; `nil` past the end.
    static func string(_ bytes: [UInt8], at offset: inout Int) -> [UInt8]? {
        guard offset + 4 <= bytes.count else { return nil }
        let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        offset += 4
        guard length <= bytes.count - offset else { return nil }
        defer { offset += length }
        return Array(bytes[offset..<(offset + length)])
    }

    /// `bytes` as a `string`.
    static func encode(_ bytes: [UInt8]) -> [UInt8] { frame(bytes) }

    /// The keys of an identities answer, in the agent's order; `nil` for anything else.
    static func identities(_ reply: [UInt8]) -> [Identity]? {
        guard reply.first == identitiesAnswerType, reply.count >= 5 else { return nil }
        let count = reply[1..<5].reduce(0) { $0 << 8 | Int($1) }
        var offset = 5
        var keys: [Identity] = []
        for _ in 0..<count {
            guard let blob = string(reply, at: &offset), let comment = string(reply, at: &offset) else { return nil }
            keys.append(Identity(blob: blob, comment: comment))
        }
        return keys
    }

    /// An identities answer listing `keys`.
    static func identitiesAnswer(_ keys: [Identity]) -> [UInt8] {
        var payload = [identitiesAnswerType] + Array(frame([]).prefix(4))
        let count = UInt32(keys.count)
        payload[1...4] = [
            UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 8),
            UInt8(truncatingIfNeeded: count),
        ]
        for key in keys { payload += encode(key.blob) + encode(key.comment) }
        return payload
    }

    /// The key blob a sign request names.
    static func signedKey(_ message: [UInt8]) -> [UInt8]? {
        guard message.first == signRequest else { return nil }
        var offset = 1
        return string(message, at: &offset)
    }

    /// Writes all of `bytes` to blocking `fd`.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }

    /// Reads exactly `count` bytes from `fd`, waiting at most ``timeoutMilliseconds`` for each.
    static func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, timeoutMilliseconds)
            if polled < 0 && errno == EINTR { continue }
            guard polled > 0 else { return nil }
            let got = bytes[offset...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { return nil }
            offset += got
        }
        return bytes
    }

    /// Sends `payload` to the agent on `fd` and reads its reply; `nil` when the agent is gone or
    /// silent.
    static func exchange(_ fd: Int32, _ payload: [UInt8]) -> [UInt8]? {
        guard writeAll(fd, frame(payload)), let header = readExactly(fd, 4) else { return nil }
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        guard length <= maximumLength else { return nil }
        return readExactly(fd, length)
    }
}
