import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// `--failed-to FILE`: the failed hosts, one a line, for a retry with `-h FILE`.
///
/// The list is written atomically: into a new temporary file in FILE's directory (created
/// exclusively, mode 0600), synced, then renamed over FILE. A reader sees the old list or the new
/// one, never half of one, and a symbolic link at FILE is replaced, never written through.
/// Synchronous and self-contained, so that any exit path can call it.
struct FailedHostsFile {
    let path: FilePath

    /// Writes `names`; on failure prints `passh: cannot write FILE: REASON` on stderr and returns
    /// `false`.
    @discardableResult
    func write(_ names: [String]) -> Bool {
        do {
            try replace(with: Array(names.map { $0 + "\n" }.joined().utf8))
            return true
        } catch {
            printError("passh: cannot write \(path.string): \(error)")
            return false
        }
    }

    /// Replaces the file with `bytes` through a temporary file and `renameat`.
    private func replace(with bytes: [UInt8]) throws(Errno) {
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
