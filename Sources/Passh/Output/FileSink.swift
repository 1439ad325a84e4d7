import Synchronization
public import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// pssh's `-o DIR` / `-e DIR`: each host's stdout (and/or stderr) into `DIR/HOST`, byte for byte,
/// written as it arrives. A stream without a directory goes to `fallback` (prefixed lines, usually).
///
/// Directories are created with mode 0700 when missing. An existing directory must be a real
/// directory (not a symbolic link), owned by this user and not writable by group or others, and
/// stdout and stderr must go to different directories.
/// Each directory is opened once; the files are created (or truncated) relative to it when the
/// host starts, never through a symbolic link, and end up with mode 0600. A `/` or `%` in a host
/// name is written `%2F` / `%25`, so that a name can never reach outside the directory.
///
/// The files are opened, written and closed on a thread of the sink's own (``FileThread``), never
/// on the cooperative pool: a slow disk holds up the hosts writing to it, not every host's reads.
///
/// A file that cannot be opened or written (a full disk, a name too long, a directory in the
/// way) never loses output silently: the sink writes `[HOST] passh: cannot write PATH: REASON`
/// to stderr through its ``OutputWriter``, once per host and stream, and records it in
/// ``failures``.
public final class FileSink: OutputSink {
    private let stdoutDirectory: Directory?
    private let stderrDirectory: Directory?
    private let fallback: (any OutputSink)?
    private let writer: OutputWriter
    private let state = Mutex(State())
    private let files = FileThread(name: "passh-outdir")

    /// An output directory: the path as given, and the descriptor every file is opened relative to.
    private struct Directory: Sendable {
        let path: FilePath
        let fd: FileDescriptor
    }

    private struct FileKey: Hashable {
        let host: Host
        let stream: OutputStreamKind
    }

    /// A host's file for one stream: open, or given up on (the error is reported already).
    private enum File {
        case open(FileDescriptor)
        case failed
    }

    private struct State {
        var files: [FileKey: File] = [:]
        var failures: [Host: String] = [:]
    }

    /// The hosts whose output could not be written whole, each with the first message about it
    /// (`passh: cannot write PATH: REASON`).
    public var failures: [Host: String] { state.withLock { $0.failures } }

    /// A sink writing stdout into `stdoutDirectory` and stderr into `stderrDirectory` (either may
    /// be `nil`: that stream goes to `fallback`); errors about the files go to `writer`'s stderr.
    ///
    /// - Throws: ``PasshError`` with code ``PasshError/Code/unreadableFile`` when a directory cannot
    ///   be created or opened, is not a directory (or is a symbolic link), or is not private (owned
    ///   by someone else, or writable by group or others); with code
    ///   ``PasshError/Code/invalidOption`` when both streams would go to the same directory.
    public init(
        stdoutDirectory: FilePath?, stderrDirectory: FilePath?, fallback: (any OutputSink)?,
        writer: OutputWriter = OutputWriter()
    ) throws(PasshError) {
        self.fallback = fallback
        self.writer = writer
        let out = try stdoutDirectory.map { path throws(PasshError) in try Self.openDirectory(path) }
        let err: Directory?
        do throws(PasshError) {
            err = try stderrDirectory.map { path throws(PasshError) in try Self.openDirectory(path) }
            if let out, let err, try Self.isSameFile(out.fd, err.fd) {
                let names = out.path == err.path ? out.path.string : "\(out.path.string) and \(err.path.string)"
                throw PasshError(.invalidOption, "stdout and stderr cannot go into the same directory: \(names)")
            }
        } catch {
            try? out?.fd.close()
            throw error
        }
        self.stdoutDirectory = out
        self.stderrDirectory = err
    }

    deinit {
        try? stdoutDirectory?.fd.close()
        try? stderrDirectory?.fd.close()
    }

    /// The file a host's stream goes to inside `directory`.
    public static func path(for host: Host, in directory: FilePath) -> FilePath {
        directory.appending(fileName(for: host))
    }

    /// The host's name with `/` and `%` escaped.
    static func fileName(for host: Host) -> String {
        var name = ""
        for character in host.name {
            switch character {
            case "/": name += "%2F"
            case "%": name += "%25"
            default: name.append(character)
            }
        }
        return name
    }

    /// Creates (or truncates) the host's files.
    public func hostStarted(_ host: Host) async {
        for (stream, directory) in [(OutputStreamKind.stdout, stdoutDirectory), (.stderr, stderrDirectory)] {
            guard let directory else { continue }
            let key = FileKey(host: host, stream: stream)
            let (name, fd) = (Self.fileName(for: host), directory.fd)
            switch await files.run({ Self.openFile(name, in: fd) }) {
            case .success(let fd):
                state.withLock { $0.files[key] = .open(fd) }
            case .failure(let reason):
                state.withLock { $0.files[key] = .failed }
                await report(host, path: Self.path(for: host, in: directory.path), reason: reason.text)
            }
        }
        await fallback?.hostStarted(host)
    }

    /// Appends the chunk to the host's file, or passes it to the fallback sink.
    public func output(_ chunk: OutputChunk) async {
        guard let directory = chunk.stream == .stdout ? stdoutDirectory : stderrDirectory else {
            await fallback?.output(chunk)
            return
        }
        let key = FileKey(host: chunk.host, stream: chunk.stream)
        guard case .open(let fd) = state.withLock({ $0.files[key] }) else { return }
        let bytes = chunk.bytes
        let failure = await files.run { () -> String? in
            do {
                _ = try fd.writeAll(bytes)
                return nil
            } catch {
                try? fd.close()
                return "\(error)"
            }
        }
        if let failure {
            state.withLock { $0.files[key] = .failed }
            await report(chunk.host, path: Self.path(for: chunk.host, in: directory.path), reason: failure)
        }
    }

    /// Closes the host's files.
    public func hostFinished(_ result: HostResult) async {
        for (stream, directory) in [(OutputStreamKind.stdout, stdoutDirectory), (.stderr, stderrDirectory)] {
            guard let directory else { continue }
            let file = state.withLock { $0.files.removeValue(forKey: FileKey(host: result.host, stream: stream)) }
            guard case .open(let fd) = file else { continue }
            let failure = await files.run { () -> String? in
                do {
                    try fd.close()
                    return nil
                } catch {
                    return "\(error)"
                }
            }
            if let failure {
                // A file system that writes back late (NFS) reports a full disk here.
                await report(result.host, path: Self.path(for: result.host, in: directory.path), reason: failure)
            }
        }
        await fallback?.hostFinished(result)
    }

    /// Tells the fallback sink.
    public func runFinished(_ results: [HostResult]) async {
        await fallback?.runFinished(results)
    }

    /// Flushes the fallback sink and the writer of this sink's messages (the files are written
    /// and closed as each host finishes).
    public func flush() async {
        await fallback?.flush()
        await writer.flush()
    }

    /// Records and reports that the host's output could not be written to `path`.
    private func report(_ host: Host, path: FilePath, reason: String) async {
        let message = "passh: cannot write \(path.string): \(reason)"
        state.withLock { state in
            if state.failures[host] == nil { state.failures[host] = message }
        }
        await writer.write(Array("[\(host.name)] \(message)\n".utf8), to: .stderr)
    }

    /// Opens (creating or truncating) `name` inside `directory`: never through a symbolic link,
    /// only a regular file, mode 0600 whatever mode an old file had.
    private static func openFile(_ name: String, in directory: FileDescriptor) -> Result<FileDescriptor, Reason> {
        if name == "." || name == ".." { return .failure(Reason("Not a valid file name")) }
        // O_NONBLOCK: a FIFO in the way must not block the open; it is refused below.
        let flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK
        let raw = openat(directory.rawValue, name, flags, 0o600)
        guard raw >= 0 else {
            switch Errno(rawValue: errno) {
            case .tooManySymbolicLinkLevels: return .failure(Reason("Is a symbolic link"))
            case .noSuchAddressOrDevice: return .failure(Reason("Not a regular file"))  // a FIFO, a socket, a device
            case let error: return .failure(Reason(error.description))
            }
        }
        let fd = FileDescriptor(rawValue: raw)
        do {
            guard try fd.stat().type == .regular else {
                try? fd.close()
                return .failure(Reason("Not a regular file"))
            }
            if fchmod(raw, 0o600) != 0 { throw Errno(rawValue: errno) }
            // Writes block as usual (a regular file ignores O_NONBLOCK, but say what is meant).
            if fcntl(raw, F_SETFL, 0) != 0 { throw Errno(rawValue: errno) }
        } catch {
            try? fd.close()
            return .failure(Reason("\(error)"))
        }
        return .success(fd)
    }

    /// Why a file could not be opened: the text after `cannot write PATH: `.
    private struct Reason: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    /// Creates `directory` when missing and opens it, refusing a symbolic link, a non-directory and
    /// a directory that is not private (``PrivateDirectory``).
    private static func openDirectory(_ path: FilePath) throws(PasshError) -> Directory {
        Directory(path: path, fd: try PrivateDirectory.open(path))
    }

    /// Whether two descriptors are the same file (same device and inode).
    private static func isSameFile(_ a: FileDescriptor, _ b: FileDescriptor) throws(PasshError) -> Bool {
        do {
            let (first, second) = (try a.stat(), try b.stat())
            return first.deviceID == second.deviceID && first.inode == second.inode
        } catch {
            throw PasshError(.unreadableFile, "Cannot open directory: \(error)")
        }
    }
}
