#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
public import SystemPackage

/// pssh's `-o DIR` / `-e DIR`: each host's stdout (and/or stderr) into `DIR/HOST`, byte for byte,
/// written as it arrives. A stream without a directory goes to `fallback` (prefixed lines, usually).
///
/// Directories are created with mode 0700 when missing; files are created (or truncated) with mode
/// 0600 when the host starts. A `/` or `%` in a host name is written `%2F` / `%25`, so that a
/// name can never reach outside the directory.
public final class FileSink: OutputSink {
    private let stdoutDirectory: FilePath?
    private let stderrDirectory: FilePath?
    private let fallback: (any OutputSink)?
    private let files = Mutex<[FileKey: FileDescriptor]>([:])

    private struct FileKey: Hashable {
        let host: Host
        let stream: OutputStreamKind
    }

    /// A sink writing stdout into `stdoutDirectory` and stderr into `stderrDirectory` (either may
    /// be `nil`: that stream goes to `fallback`).
    ///
    /// - Throws: ``PasshError`` with code ``PasshError/Code/unreadableFile`` when a directory cannot
    ///   be created or is not a directory.
    public init(stdoutDirectory: FilePath?, stderrDirectory: FilePath?, fallback: (any OutputSink)?) throws(PasshError) {
        self.stdoutDirectory = stdoutDirectory
        self.stderrDirectory = stderrDirectory
        self.fallback = fallback
        for directory in [stdoutDirectory, stderrDirectory].compactMap({ $0 }) {
            try Self.makeDirectory(directory)
        }
    }

    /// The file a host's stream goes to inside `directory`.
    public static func path(for host: Host, in directory: FilePath) -> FilePath {
        var name = ""
        for character in host.name {
            switch character {
            case "/": name += "%2F"
            case "%": name += "%25"
            default: name.append(character)
            }
        }
        return directory.appending(name)
    }

    /// Creates (or truncates) the host's files.
    public func hostStarted(_ host: Host) async {
        for (stream, directory) in [(OutputStreamKind.stdout, stdoutDirectory), (.stderr, stderrDirectory)] {
            guard let directory else { continue }
            let path = Self.path(for: host, in: directory)
            if let fd = try? FileDescriptor.open(
                path, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
            {
                files.withLock { $0[FileKey(host: host, stream: stream)] = fd }
            }
        }
        await fallback?.hostStarted(host)
    }

    /// Appends the chunk to the host's file, or passes it to the fallback sink.
    public func output(_ chunk: OutputChunk) async {
        let directory = chunk.stream == .stdout ? stdoutDirectory : stderrDirectory
        guard directory != nil else {
            await fallback?.output(chunk)
            return
        }
        guard let fd = files.withLock({ $0[FileKey(host: chunk.host, stream: chunk.stream)] }) else { return }
        _ = try? fd.writeAll(chunk.bytes)
    }

    /// Closes the host's files.
    public func hostFinished(_ result: HostResult) async {
        let open = files.withLock { files in
            [OutputStreamKind.stdout, .stderr].compactMap { files.removeValue(forKey: FileKey(host: result.host, stream: $0)) }
        }
        for fd in open { try? fd.close() }
        await fallback?.hostFinished(result)
    }

    /// Tells the fallback sink.
    public func runFinished(_ results: [HostResult]) async {
        await fallback?.runFinished(results)
    }

    /// Creates `directory` and any missing parents (mode 0700), like `mkdir -p`.
    private static func makeDirectory(_ directory: FilePath) throws(PasshError) {
        var info = stat()
        if stat(directory.string, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw PasshError(.unreadableFile, "Not a directory: \(directory.string)")
            }
            return
        }
        if let parent = directory.removingLastComponent() as FilePath?, parent != directory, !parent.isEmpty {
            try makeDirectory(parent)
        }
        if mkdir(directory.string, 0o700) != 0 && errno != EEXIST {
            throw PasshError(.unreadableFile, "Cannot create directory: \(directory.string): \(Errno(rawValue: errno))")
        }
    }
}
