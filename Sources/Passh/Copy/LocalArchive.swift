import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The one tar archive a copy sends to every host: made by the local `tar` into a private
/// temporary file (mode 0600) that is unlinked at once. Every host reads it whole through
/// `/proc/self/fd/N`, as a stdin file; nothing is left behind however the process ends.
///
/// Each path is archived by its own `tar -cf - -C PARENT BASE`, one after the other into the file,
/// each archive's end-of-archive blocks cut off before the next begins: the result is one archive
/// that any tar unpacks. One `tar` per path because `-C` is cumulative (a relative `-C` after
/// another is taken from the first: `-C dist a -C . b` would look for `dist/b`) and busybox tar
/// honours only its last `-C`; and because a path that is a symbolic link is copied as what it
/// points to (`-h` for a file, `BASE/.` for a directory, whose links inside stay links), which one
/// `tar` for all paths cannot do for one of them alone.
final class LocalArchive: Sendable {
    /// The archive, open.
    let fd: FileDescriptor
    /// A path any session can open it by (each open reads from the start).
    let path: FilePath
    /// The archive's size.
    let size: Int64
    /// The regular files in it and their bytes.
    let totals: TransferTotals
    /// What `tar` said while it succeeded (`tar: ./sock: socket ignored`): the first lines, then
    /// how many more there were.
    let warnings: [String]

    /// The most lines of `tar`'s messages kept as ``warnings``.
    static let maximumWarnings = 20

    /// Runs `tar` on `paths` (each checked first: it must exist and be readable).
    ///
    /// - Throws: ``PasshError`` with code ``PasshError/Code/unreadableFile`` for a missing or
    ///   unreadable path, a file that reports a size of 0 but has contents (tar would send it
    ///   empty), a `tar` that fails (with its reason), or a temporary file that cannot be made.
    init(paths: [CopyPath], temporaryDirectory: String, tar: String = "tar") async throws(PasshError) {
        var runs: [[String]] = []
        for path in paths { runs.append(try Self.arguments(for: path)) }
        let archive = try Self.temporaryFile(in: temporaryDirectory)
        var end: Int64 = 0
        var totals = TransferTotals(files: 0, bytes: 0)
        var messages: [String] = []
        var moreMessages = 0
        var cut = false
        do throws(PasshError) {
            for (index, arguments) in runs.enumerated() {
                // The next archive starts where the members of the previous one end.
                guard ftruncate(archive.rawValue, off_t(end)) == 0, lseek(archive.rawValue, off_t(end), SEEK_SET) == end
                else {
                    throw PasshError(.unreadableFile, "Cannot write the archive to copy: \(Errno(rawValue: errno))")
                }
                let (status, lines, linesCut) = try await Self.run(tar, arguments, into: archive)
                guard status == .exited(0) else {
                    throw PasshError(
                        .unreadableFile,
                        "Cannot archive the files to copy: "
                            + Self.reason(lines, status: status, archive: archive, directory: temporaryDirectory))
                }
                for line in lines {
                    if messages.count < Self.maximumWarnings { messages.append(line) } else { moreMessages += 1 }
                }
                cut = cut || linesCut
                let walked = try TarCounter.walk(archive, from: end)
                totals.files += walked.totals.files
                totals.bytes += walked.totals.bytes
                if index < runs.count - 1 { end = walked.end }
            }
        } catch {
            try? archive.close()
            throw error
        }
        let size: Int64
        do {
            size = try archive.seek(offset: 0, from: .end)
        } catch {
            try? archive.close()
            throw PasshError(.unreadableFile, "Cannot read the archive to copy: \(error)")
        }
        if moreMessages > 0 || cut { messages.append("tar: (and \(moreMessages)\(cut ? " or more" : "") more lines)") }
        self.fd = archive
        self.path = FilePath("/proc/self/fd/\(archive.rawValue)")
        self.size = size
        self.totals = totals
        self.warnings = messages
    }

    deinit {
        try? fd.close()
    }

    /// `tar`'s arguments for `path`, after checking it: it must exist (a symbolic link must point
    /// to something) and be readable, and a file must not report a size of 0 while it has contents
    /// (`/proc/cpuinfo`: tar would send it empty).
    static func arguments(for path: CopyPath) throws(PasshError) -> [String] {
        var info = stat()
        guard lstat(path.trimmed, &info) == 0 else {
            if errno == ENOENT { throw PasshError(.unreadableFile, "No such file: \(path.trimmed)") }
            throw PasshError(.unreadableFile, "Cannot read file: \(path.trimmed): \(Errno(rawValue: errno))")
        }
        let isLink = info.st_mode & S_IFMT == S_IFLNK
        if isLink {
            guard stat(path.trimmed, &info) == 0 else {
                if errno == ENOENT {
                    throw PasshError(.unreadableFile, "No such file: \(path.trimmed) (a dangling symbolic link)")
                }
                throw PasshError(.unreadableFile, "Cannot read file: \(path.trimmed): \(Errno(rawValue: errno))")
            }
        }
        let type = info.st_mode & S_IFMT
        let wanted = type == S_IFDIR ? R_OK | X_OK : R_OK
        if access(path.trimmed, wanted) != 0 {
            throw PasshError(.unreadableFile, "Cannot read file: \(path.trimmed): \(Errno(rawValue: errno))")
        }
        if type == S_IFREG, info.st_size == 0, hasContents(path.trimmed) {
            throw PasshError(
                .unreadableFile,
                "Cannot copy \(path.trimmed): it reports a size of 0 but is not empty (a /proc or /sys file), and tar would send it empty"
            )
        }
        var arguments = ["-c", "-f", "-"]
        if isLink && type != S_IFDIR { arguments.append("-h") }
        arguments += ["-C", path.parent, isLink && type == S_IFDIR ? path.member + "/." : path.member]
        return arguments
    }

    /// Whether a file that reports a size of 0 gives a byte when read (without waiting for one).
    private static func hasContents(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var byte: UInt8 = 0
        return read(fd, &byte, 1) == 1
    }

    /// Runs `tar` with its output into `archive`; its status and messages: the lines of its first
    /// 64 KiB, and whether there was more.
    private static func run(_ tar: String, _ arguments: [String], into archive: FileDescriptor) async throws(PasshError)
        -> (TerminationStatus, [String], Bool)
    {
        do {
            let result = try await Subprocess.run(
                // argv[0] as named, not the path found: its messages say `tar: …`.
                .name(tar), arguments: Arguments(executablePathOverride: tar, remainingValues: arguments), input: .none,
                output: .fileDescriptor(archive, closeAfterSpawningProcess: false), error: .sequence
            ) { execution in
                var text: [UInt8] = []
                var dropped = 0
                for try await buffer in execution.standardError {
                    buffer.withUnsafeBytes { bytes in
                        let room = max(0, 64 * 1024 - text.count)
                        text += bytes.prefix(room)
                        dropped += max(0, bytes.count - room)
                    }
                }
                var lines = text.split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
                if dropped > 0 { lines.removeLast() }  // cut in the middle
                return (lines, dropped > 0)
            }
            let (lines, cut) = result.closureResult
            return (result.terminationStatus, lines, cut)
        } catch {
            throw PasshError(.unreadableFile, "Cannot run \(tar): \(error)")
        }
    }

    /// Why `tar` failed: its last message other than its closing words, and a full temporary
    /// directory when it is (GNU tar says only `Wrote only 4096 of 10240 bytes`).
    private static func reason(
        _ lines: [String], status: TerminationStatus, archive: FileDescriptor, directory: String
    ) -> String {
        let closing = ["Exiting with failure status due to previous errors", "Error is not recoverable: exiting now"]
        var reason = lines.last { line in !closing.contains { line.hasSuffix($0) } } ?? "\(tarStatus(status))"
        var space = statvfs()
        if fstatvfs(archive.rawValue, &space) == 0, UInt64(space.f_bavail) * UInt64(space.f_frsize) < 10240 {
            reason += " (no space left in \(directory))"
        }
        return reason
    }

    private static func tarStatus(_ status: TerminationStatus) -> String {
        switch status {
        case .exited(let code): "tar exited with status \(code)"
        case .signaled(let signal): "tar was killed by signal \(signal)"
        }
    }

    /// A new private file in `directory` (mode 0600, already unlinked, closed on exec).
    static func temporaryFile(in directory: String) throws(PasshError) -> FileDescriptor {
        var template = Array("\(directory)/passh-copy-XXXXXX".utf8CString)
        let raw = mkstemp(&template)
        guard raw >= 0 else {
            throw PasshError(
                .unreadableFile, "Cannot create a temporary file in \(directory): \(Errno(rawValue: errno))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(raw, F_SETFD, FD_CLOEXEC)
        return FileDescriptor(rawValue: raw)
    }

    /// `$TMPDIR` when set, else `/tmp`.
    static var defaultTemporaryDirectory: String {
        if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
        return "/tmp"
    }
}
