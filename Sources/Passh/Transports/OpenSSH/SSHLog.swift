import CPasshShims

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// ssh's own messages, kept apart from the remote command's stderr.
///
/// ssh exits 255 for its own failures and for a remote command that exits 255, and both write to
/// the same stderr: a command printing `ssh: connect to host … Connection refused` (a nested `ssh`,
/// `rsync`) looked like passh's own connection failure, was retried, and could earn host-key advice
/// for a host whose key is fine. So each `ssh` writes its log (`-E FILE`) into an anonymous memory
/// file of passh's (`memfd_create`), which it opens as `/proc/PID/fd/N`; the remote command cannot
/// write there. When ssh exits, the log is read back: its lines alone classify ssh's failure
/// (``OpenSSHErrors``), and they reach the host's stderr as they always did — once, after the
/// command's own output, marked as the transport's (``OutputChunk/fromTransport``).
///
/// Nothing is left behind: the file has no name, and goes when passh and ssh have closed it.
enum SSHLog {
    /// Runs `body` with the path ssh is to log to (`-E PATH`); then passes the log's lines to
    /// `output` and returns how the session ended with what the log says of it. With
    /// `hidingChatter` (passh chose the log level), the informational lines that `LogLevel=ERROR`
    /// used to hide are left out (`Warning: Permanently added … to the list of known hosts`).
    static func capture(
        host: Host, hidingChatter: Bool,
        output: @escaping @Sendable (OutputChunk) async -> Void,
        _ body: (String) async -> Termination
    ) async -> (Termination, OpenSSHErrors) {
        let errors = OpenSSHErrors()
        let fd = passh_memfd("passh-ssh-log")
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            return (.failed(HostFailure(.cannotStart, "cannot make a log file for ssh: \(reason)")), errors)
        }
        defer { close(fd) }
        let termination = await body("/proc/\(getpid())/fd/\(fd)")
        for chunk in chunks(of: read(fd), host: host, hidingChatter: hidingChatter) {
            errors.look(at: chunk)
            await output(chunk)
        }
        return (termination, errors)
    }

    /// At most this much of a log is read back (a master's `LogLevel=DEBUG3` can write megabytes).
    static let maximumSize = 16 << 20

    private static func read(_ fd: Int32) -> [UInt8] {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { return [] }
        let size = Swift.min(Int(info.st_size), maximumSize)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let got = pread(fd, buffer.baseAddress! + count, size - count, off_t(count))
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { break }
                count += got
            }
        }
    }

    /// The log's lines as stderr chunks of at most 1 MiB of whole lines each (the last line may
    /// lack its newline).
    static func chunks(of log: [UInt8], host: Host, hidingChatter: Bool) -> [OutputChunk] {
        var kept: [UInt8] = []
        kept.reserveCapacity(log.count)
        var start = log.startIndex
        while start < log.endIndex {
            let end = log[start...].firstIndex(of: 0x0A).map { $0 + 1 } ?? log.endIndex
            let line = log[start..<end]
            if !(hidingChatter && line.starts(with: permanentlyAdded)) { kept += line }
            start = end
        }
        var chunks: [OutputChunk] = []
        var from = kept.startIndex
        while from < kept.endIndex {
            var to = Swift.min(from + (1 << 20), kept.endIndex)
            if to < kept.endIndex, let newline = kept[from..<to].lastIndex(of: 0x0A) { to = newline + 1 }
            chunks.append(
                OutputChunk(
                    host: host, stream: .stderr, bytes: kept[from..<to], endsWithNewline: kept[to - 1] == 0x0A,
                    fromTransport: true))
            from = to
        }
        return chunks
    }

    /// `output` without the line ssh prints on stderr at the end of a session with a terminal
    /// (`Connection to HOST closed.`) at `LogLevel=INFO`, which `ERROR` used to hide. With a
    /// terminal the remote command's stderr arrives merged into stdout, so ssh's stderr holds
    /// ssh's words only: dropping that line there can hide nothing of the command's.
    static func droppingTerminalChatter(
        _ output: @escaping @Sendable (OutputChunk) async -> Void
    ) -> @Sendable (OutputChunk) async -> Void {
        { chunk in
            guard chunk.stream == .stderr, chunk.bytes.contains(subsequence: connectionTo) else {
                return await output(chunk)
            }
            var kept: [UInt8] = []
            for line in chunk.lines where !isTerminalChatter(line) { kept += line + [0x0A] }
            if !chunk.endsWithNewline, !kept.isEmpty { kept.removeLast() }
            guard !kept.isEmpty else { return }
            await output(
                OutputChunk(
                    host: chunk.host, stream: .stderr, bytes: kept[...], endsWithNewline: chunk.endsWithNewline))
        }
    }

    /// `Connection to HOST closed.`, with its CR (a terminal's line end).
    static func isTerminalChatter(_ line: ArraySlice<UInt8>) -> Bool {
        var line = line
        if line.last == 0x0D { line.removeLast() }
        return line.starts(with: connectionTo) && line.reversed().starts(with: " closed.".utf8.reversed())
            && !line.dropFirst(connectionTo.count).dropLast(" closed.".utf8.count).contains(0x20)
    }

    private static let connectionTo = Array("Connection to ".utf8)

    /// What ssh says at `LogLevel=INFO` each time it learns a host key (every host, with
    /// `--insecure`'s `UserKnownHostsFile=/dev/null`).
    private static let permanentlyAdded = Array("Warning: Permanently added ".utf8)
}
