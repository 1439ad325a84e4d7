import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The one tar archive a copy sends to every host: made once by the local `tar`
/// (`tar -cf - -C PARENT BASE …`) into a private temporary file (mode 0600) that is unlinked at
/// once. Every host reads it whole through `/proc/self/fd/N`, as a stdin file; nothing is left
/// behind however the process ends.
final class LocalArchive: Sendable {
    /// The archive, open.
    let fd: FileDescriptor
    /// A path any session can open it by (each open reads from the start).
    let path: FilePath
    /// The archive's size.
    let size: Int64
    /// The regular files in it and their bytes.
    let totals: TransferTotals

    /// Runs `tar` on `paths` (each checked first: it must exist and be readable).
    ///
    /// - Throws: ``PasshError`` with code ``PasshError/Code/unreadableFile`` for a missing or
    ///   unreadable path, a `tar` that fails (with its first error line), or a temporary file that
    ///   cannot be made.
    init(paths: [CopyPath], temporaryDirectory: String, tar: String = "tar") async throws(PasshError) {
        for path in paths { try Self.checkReadable(path.trimmed) }
        let archive = try Self.temporaryFile(in: temporaryDirectory)
        let messages: FileDescriptor
        do {
            messages = try Self.temporaryFile(in: temporaryDirectory)
        } catch {
            try? archive.close()
            throw error
        }
        defer { try? messages.close() }
        var arguments = ["-c", "-f", "-"]
        for path in paths { arguments += ["-C", path.parent, path.member] }
        let status: TerminationStatus
        do {
            status = try await Subprocess.run(
                .name(tar), arguments: Arguments(arguments), input: .none,
                output: .fileDescriptor(archive, closeAfterSpawningProcess: false),
                error: .fileDescriptor(messages, closeAfterSpawningProcess: false)
            ).terminationStatus
        } catch {
            try? archive.close()
            throw PasshError(.unreadableFile, "Cannot run \(tar): \(error)")
        }
        guard status == .exited(0) else {
            try? archive.close()
            let why = Self.firstLine(of: messages) ?? "\(status)"
            throw PasshError(.unreadableFile, "Cannot archive the files to copy: \(why)")
        }
        let counted: (size: Int64, totals: TransferTotals)
        do throws(PasshError) {
            counted = try TarCounter.count(archive)
        } catch {
            try? archive.close()
            throw error
        }
        self.fd = archive
        self.path = FilePath("/proc/self/fd/\(archive.rawValue)")
        self.size = counted.size
        self.totals = counted.totals
    }

    deinit {
        try? fd.close()
    }

    /// Refuses a path that is missing or that this user cannot read (a directory must also be
    /// searchable).
    static func checkReadable(_ path: String) throws(PasshError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { throw PasshError(.unreadableFile, "No such file: \(path)") }
            throw PasshError(.unreadableFile, "Cannot read file: \(path): \(Errno(rawValue: errno))")
        }
        let type = info.st_mode & S_IFMT
        if type == S_IFLNK { return }  // copied as a link
        let wanted = type == S_IFDIR ? R_OK | X_OK : R_OK
        if access(path, wanted) != 0 {
            throw PasshError(.unreadableFile, "Cannot read file: \(path): \(Errno(rawValue: errno))")
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

    /// The first non-empty line written to `file`, if any.
    private static func firstLine(of file: FileDescriptor) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = (try? buffer.withUnsafeMutableBytes { try file.read(fromAbsoluteOffset: 0, into: $0) }) ?? 0
        let line = buffer[..<count].split(separator: 0x0A).first { !$0.isEmpty }
        return line.map { String(decoding: $0, as: UTF8.self) }
    }

    /// `$TMPDIR` when set, else `/tmp`.
    static var defaultTemporaryDirectory: String {
        if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
        return "/tmp"
    }
}
