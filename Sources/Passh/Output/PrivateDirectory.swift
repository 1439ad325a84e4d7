import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The directories passh writes its files into (``FileSink``'s, a gather's destination and each
/// host's directory in it): created with mode 0700 when missing; an existing one must be a real
/// directory (not a symbolic link), owned by this user and not writable by group or others, so
/// that no other user can plant a link or a file in it.
enum PrivateDirectory {
    /// Creates `path` when missing (mode 0700, parents too, like `mkdir -p`) and opens it, never
    /// through a symbolic link, refusing a directory that is not private.
    ///
    /// - Throws: ``PasshError`` with code ``PasshError/Code/unreadableFile`` and a one-line message:
    ///   `Not a directory: PATH` (`… is a symbolic link`), `Not private: PATH must be owned by you
    ///   and not writable by group or others`, `Cannot create directory: …`, `Cannot open directory: …`.
    static func open(_ path: FilePath) throws(PasshError) -> FileDescriptor {
        try makeDirectory(path)
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readOnly, options: [.directory, .noFollow, .closeOnExec])
        } catch Errno.tooManySymbolicLinkLevels, Errno.notDirectory {
            throw PasshError(.unreadableFile, "Not a directory: \(path.string) is a symbolic link")
        } catch {
            throw PasshError(.unreadableFile, "Cannot open directory: \(path.string): \(error)")
        }
        try check(fd, path)
        return fd
    }

    /// Creates the directory `name` in `parent` when missing (mode 0700) and opens it the same way:
    /// relative to the parent's descriptor, so that nothing above it is looked up again. `path`
    /// names it in messages.
    static func open(_ name: String, in parent: FileDescriptor, path: FilePath) throws(PasshError) -> FileDescriptor {
        if mkdirat(parent.rawValue, name, 0o700) != 0 && errno != EEXIST {
            throw PasshError(.unreadableFile, "Cannot create directory: \(path.string): \(Errno(rawValue: errno))")
        }
        let raw = openat(parent.rawValue, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard raw >= 0 else {
            let error = Errno(rawValue: errno)
            var info = stat()
            if error == .tooManySymbolicLinkLevels || error == .notDirectory {
                if fstatat(parent.rawValue, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFLNK {
                    throw PasshError(.unreadableFile, "Not a directory: \(path.string) is a symbolic link")
                }
                throw PasshError(.unreadableFile, "Not a directory: \(path.string)")
            }
            throw PasshError(.unreadableFile, "Cannot open directory: \(path.string): \(error)")
        }
        let fd = FileDescriptor(rawValue: raw)
        try check(fd, path)
        return fd
    }

    /// Refuses (and closes) a directory that another user owns or that group or others may write.
    private static func check(_ fd: FileDescriptor, _ path: FilePath) throws(PasshError) {
        do {
            let info = try fd.stat()
            let othersWrite = !info.permissions.intersection([.groupWrite, .otherWrite]).isEmpty
            guard info.userID.rawValue == geteuid(), !othersWrite else {
                throw PasshError(
                    .unreadableFile,
                    "Not private: \(path.string) must be owned by you and not writable by group or others")
            }
        } catch let error as PasshError {
            try? fd.close()
            throw error
        } catch {
            try? fd.close()
            throw PasshError(.unreadableFile, "Cannot open directory: \(path.string): \(error)")
        }
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
