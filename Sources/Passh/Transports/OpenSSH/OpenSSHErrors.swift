import Synchronization

/// Tells why `ssh` failed from its log.
///
/// ssh exits 255 for its own errors, and for a remote command that exited 255 or was killed by a
/// signal; only its message tells them apart. The classifier sees ssh's log alone (``SSHLog``),
/// never the remote command's stderr: it keeps the log's last few lines (and whether ssh warned
/// of a changed or revoked host key, which it does many lines before failing) and, for an exit
/// 255, matches them against ssh's messages, which have been stable across OpenSSH releases.
final class OpenSSHErrors: Sendable {
    private struct Seen {
        var lastLines: [String] = []
        var hostKeyChanged = false
        var hostKeyRevoked = false
    }

    private static let keptLines = 4
    private static let changedWarning = Array("REMOTE HOST IDENTIFICATION HAS CHANGED".utf8)
    private static let revokedWarning = Array("REVOKED HOST KEY DETECTED".utf8)
    private let seen = Mutex(Seen())

    /// Looks at a chunk of ssh's log.
    func look(at chunk: OutputChunk) {
        let changed = chunk.bytes.contains(subsequence: Self.changedWarning)
        let revoked = chunk.bytes.contains(subsequence: Self.revokedWarning)
        var lines: [String] = []
        var end = chunk.bytes.endIndex
        while lines.count < Self.keptLines, end > chunk.bytes.startIndex {
            var lineEnd = end
            if chunk.bytes[lineEnd - 1] == 0x0A { lineEnd -= 1 }
            let start =
                chunk.bytes[chunk.bytes.startIndex..<lineEnd].lastIndex(of: 0x0A).map { $0 + 1 }
                ?? chunk.bytes.startIndex
            var line = chunk.bytes[start..<Swift.min(lineEnd, start + 1024)]
            while line.last == 0x0D { line.removeLast() }
            if !line.isEmpty { lines.append(String(decoding: line, as: UTF8.self)) }
            end = start
        }
        seen.withLock { seen in
            seen.hostKeyChanged = seen.hostKeyChanged || changed
            seen.hostKeyRevoked = seen.hostKeyRevoked || revoked
            seen.lastLines = Array((seen.lastLines + lines.reversed()).suffix(Self.keptLines))
        }
    }

    /// The failure ssh reported, for an exit status of 255; `nil` when its last lines are none of
    /// ssh's known messages (the remote command's own 255, or a message passh does not know).
    func failure() -> HostFailure? {
        let seen = self.seen.withLock { $0 }
        for line in seen.lastLines.reversed() {
            if seen.hostKeyRevoked && line.contains("Host key verification failed") {
                // Neither unknown nor changed: known_hosts marks this very key @revoked.
                return HostFailure(
                    .other, "Host key verification failed: the host's key is marked @revoked in known_hosts",
                    commandMayHaveRun: false)
            }
            if let kind = Self.kind(of: line, hostKeyChanged: seen.hostKeyChanged) {
                return HostFailure(
                    kind, line, commandMayHaveRun: kind == .connectionLost && !Self.duringHandshake(line))
            }
        }
        return nil
    }

    private static let patterns: [(String, HostFailure.Kind)] = [
        ("Host key verification failed", .hostKeyUnknown),
        ("Connection refused", .connectionRefused),
        ("Connection timed out", .connectionTimedOut),
        ("Operation timed out", .connectionTimedOut),
        ("Could not resolve hostname", .hostUnreachable),
        ("No route to host", .hostUnreachable),
        ("Network is unreachable", .hostUnreachable),
        ("Permission denied (", .authenticationRefused),
        ("Too many authentication failures", .authenticationRefused),
        ("closed by remote host", .connectionLost),
        ("Connection reset", .connectionLost),
        ("Connection closed by", .connectionLost),
        ("kex_exchange_identification", .connectionLost),
        ("Broken pipe", .connectionLost),
    ]

    /// Whether a lost connection was lost before the login: ssh says so in words of its own
    /// (`kex_exchange_identification: …`, `Connection closed by 10.0.0.1 port 22`), where a session
    /// that had started says `Connection to HOST closed by remote host` or `… Broken pipe`.
    private static func duringHandshake(_ line: String) -> Bool {
        line.contains("kex_exchange_identification") || line.contains("banner exchange")
            || line.hasPrefix("Connection closed by ") || line.hasPrefix("Connection reset by ")
    }

    private static func kind(of line: String, hostKeyChanged: Bool) -> HostFailure.Kind? {
        for (text, kind) in patterns where line.contains(text) {
            return kind == .hostKeyUnknown && hostKeyChanged ? .hostKeyChanged : kind
        }
        return nil
    }
}

extension ArraySlice where Element == UInt8 {
    /// Whether `needle` occurs in the bytes.
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= count else { return false }
        var index = startIndex
        while let found = self[index...].firstIndex(of: first) {
            if found + needle.count > endIndex { return false }
            if self[found..<(found + needle.count)].elementsEqual(needle) { return true }
            index = found + 1
        }
        return false
    }
}
