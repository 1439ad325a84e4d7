import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The files a gateway received (stdin files the root sent once for all its hosts): in a private
/// directory of its own (`mkdtemp`, mode 0700) under `$TMPDIR`, removed when the gateway is done.
final class GatewayFiles: Sendable {
    let directory: String

    init() throws(PasshError) {
        let base = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp"
        var template = Array((base + "/passh-gateway-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw PasshError(.unreadableFile, "Cannot create a directory in \(base): \(Errno(rawValue: errno))")
        }
        directory = String(cString: made)
    }

    func path(_ id: Int) -> FilePath { FilePath(directory + "/\(id)") }

    /// Creates the file `id` (never through a link, never one that exists).
    func create(_ id: Int) throws(PasshError) -> FileDescriptor {
        let fd = open(path(id).string, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw PasshError(.unreadableFile, "Cannot create \(path(id).string): \(Errno(rawValue: errno))")
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Removes the files and the directory.
    func remove() {
        if let entries = opendir(directory) {
            while let entry = readdir(entries) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { unlink(directory + "/" + name) }
            }
            closedir(entries)
        }
        rmdir(directory)
    }
}
