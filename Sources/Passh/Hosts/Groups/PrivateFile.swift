import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A configuration file passh trusts: one the user owns and no one else can write, as passh
/// requires of its control directories.
enum PrivateFile {
    /// The file's content, refusing a file owned by another user or writable by its group or
    /// by others (`Not private: PATH must be owned by you and writable by no one else`).
    ///
    /// The file is checked after it is opened (`fstat`), so that it cannot be swapped in between.
    static func read(_ path: FilePath) throws(PasshError) -> [UInt8] {
        let fd = open(path.string, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            let error = Errno(rawValue: errno)
            if error == .noSuchFileOrDirectory { throw PasshError(.unreadableFile, "No such file: \(path.string)") }
            throw PasshError(.unreadableFile, "Cannot read file: \(path.string): \(error)")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw PasshError(.unreadableFile, "Cannot read file: \(path.string): \(Errno(rawValue: errno))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw PasshError(.unreadableFile, "Cannot read file: \(path.string): not a regular file")
        }
        guard info.st_uid == getuid(), info.st_mode & 0o022 == 0 else {
            throw PasshError(
                .unreadableFile, "Not private: \(path.string) must be owned by you and writable by no one else")
        }
        return try HostList.read(FileDescriptor(rawValue: fd), path: path)
    }
}
