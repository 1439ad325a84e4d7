import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// `--failed-to FILE`: the hosts that did not succeed, one per line, written atomically — into a
/// new private file beside FILE, then renamed over it — so that a reader never sees half a list,
/// and a symlink at FILE is replaced, never followed.
struct FailedHostsFile {
    let path: FilePath

    /// Writes `names`; returns what went wrong, if anything.
    func write(_ names: [String]) -> String? {
        let directory = path.removingLastComponent()
        let name = path.lastComponent?.string ?? ""
        let prefix = directory.isEmpty ? "" : directory.string + "/"
        var template = Array("\(prefix).\(name).XXXXXX".utf8CString)
        let fd = mkstemp(&template)  // mode 0600, O_EXCL
        guard fd >= 0 else { return "cannot write \(path.string): \(Errno(rawValue: errno))" }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let file = FileDescriptor(rawValue: fd)
        do {
            _ = try file.writeAll(Array(names.map { $0 + "\n" }.joined().utf8))
            guard fsync(fd) == 0 else { throw Errno(rawValue: errno) }
            try file.close()
        } catch {
            try? file.close()
            unlink(temporary)
            return "cannot write \(path.string): \(error)"
        }
        guard rename(temporary, path.string) == 0 else {
            let error = Errno(rawValue: errno)
            unlink(temporary)
            return "cannot write \(path.string): \(error)"
        }
        return nil
    }
}
