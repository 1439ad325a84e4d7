import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// `--failed-to FILE`: the failed hosts, one a line, for a retry with `-h FILE`.
///
/// The list is written atomically: into a new temporary file in FILE's directory (created
/// exclusively, mode 0600), synced, then renamed over FILE. A reader sees the old list or the new
/// one, never half of one, and a symbolic link at FILE is replaced, never written through.
/// Only what cannot be replaced is written (appended) through: a pipe, a terminal or a device (a
/// FIFO, `/dev/stdout`, `/dev/fd/N`, a link to one of them).
///
/// Synchronous and self-contained, so that any exit path can call it.
struct FailedHostsFile {
    let path: FilePath

    /// Writes `names`; on failure prints `passh: cannot write FILE: REASON` on stderr and returns
    /// `false`.
    @discardableResult
    func write(_ names: [String]) -> Bool {
        do {
            try save(Array(names.map { $0 + "\n" }.joined().utf8))
            return true
        } catch {
            printError("passh: cannot write \(path.string): \(error)")
            return false
        }
    }

    private func save(_ bytes: [UInt8]) throws(Errno) {
        guard let name = path.lastComponent?.string, name != ".", name != ".." else { throw Errno.isDirectory }
        var parent = path.removingLastComponent()
        if parent.isEmpty { parent = "." }
        let directory: FileDescriptor
        do {
            directory = try FileDescriptor.open(parent, .readOnly, options: [.directory, .closeOnExec])
        } catch {
            throw error as? Errno ?? Errno.ioError
        }
        defer { try? directory.close() }
        if Self.writesThrough(name, in: directory) {
            try writeThrough(bytes, name, in: directory)
        } else {
            try replace(bytes, name, in: directory)
        }
    }

    /// Whether `name` is a stream to write into rather than a file to replace: a FIFO, a terminal,
    /// a device or a socket, or a link to one, or a descriptor link of /proc (`/dev/stdout`,
    /// `/dev/fd/3`), which renaming would destroy or cannot touch.
    private static func writesThrough(_ name: String, in directory: FileDescriptor) -> Bool {
        var info = stat()
        guard fstatat(directory.rawValue, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        switch info.st_mode & S_IFMT {
        case S_IFREG, S_IFDIR: return false
        case S_IFLNK: break
        default: return true
        }
        // `/dev/fd/3` is in /proc/self/fd; `/dev/stdout` links to /proc/self/fd/1.
        if link(at: "/proc/self/fd/\(directory.rawValue)", in: nil)?.hasPrefix("/proc/") == true
            || link(at: name, in: directory)?.hasPrefix("/proc/") == true
        {
            return true
        }
        guard fstatat(directory.rawValue, name, &info, 0) == 0 else { return false }  // dangling: replaced
        return info.st_mode & S_IFMT != S_IFREG && info.st_mode & S_IFMT != S_IFDIR
    }

    /// The target of the symbolic link at `path` (relative to `directory`, or absolute).
    private static func link(at path: String, in directory: FileDescriptor?) -> String? {
        var target = [CChar](repeating: 0, count: 4096)
        let count = readlinkat(directory?.rawValue ?? AT_FDCWD, path, &target, target.count)
        guard count > 0 else { return nil }
        return String(decoding: target[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes into the stream at `name`, never creating a file; appends, so that `/dev/stdout`
    /// redirected to a file keeps what passh printed before.
    private func writeThrough(_ bytes: [UInt8], _ name: String, in directory: FileDescriptor) throws(Errno) {
        let raw = openat(directory.rawValue, name, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard raw >= 0 else { throw Errno(rawValue: errno) }
        let fd = FileDescriptor(rawValue: raw)
        do {
            _ = try fd.writeAll(bytes)
            try fd.close()
        } catch {
            try? fd.close()
            throw error as? Errno ?? Errno.ioError
        }
    }

    /// Replaces `name` with `bytes` through a temporary file and `renameat`.
    private func replace(_ bytes: [UInt8], _ name: String, in directory: FileDescriptor) throws(Errno) {
        let (temporary, fd) = try createTemporary(near: name, in: directory)
        do throws(Errno) {
            defer { _ = try? fd.close() }
            if fchmod(fd.rawValue, 0o600) != 0 { throw Errno(rawValue: errno) }
            do {
                _ = try fd.writeAll(bytes)
            } catch {
                throw error as? Errno ?? Errno.ioError
            }
            if fsync(fd.rawValue) != 0 { throw Errno(rawValue: errno) }
            if renameat(directory.rawValue, temporary, directory.rawValue, name) != 0 { throw Errno(rawValue: errno) }
        } catch {
            unlinkat(directory.rawValue, temporary, 0)
            throw error
        }
        _ = fsync(directory.rawValue)  // the rename itself survives a crash; best effort
    }

    /// A new file `.NAME.XXXXXXXX` in `directory`, created exclusively with mode 0600.
    private func createTemporary(
        near name: String, in directory: FileDescriptor
    ) throws(Errno) -> (String, FileDescriptor) {
        // Keep the temporary name within NAME_MAX when FILE's own name is close to it.
        let stem = String(decoding: Array(name.utf8.prefix(200)), as: UTF8.self)
        for _ in 0..<100 {
            let temporary = ".\(stem).\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
            let raw = openat(directory.rawValue, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if raw >= 0 { return (temporary, FileDescriptor(rawValue: raw)) }
            if errno != EEXIST { throw Errno(rawValue: errno) }
        }
        throw Errno.fileExists
    }
}
