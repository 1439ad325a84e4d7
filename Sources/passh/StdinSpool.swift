import Passh
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// `-I`: this process's stdin read once into a private temporary file (mode 0600), which every
/// host then reads like an `-i` file.
///
/// The file is unlinked as soon as it is written; hosts open it through `/proc/self/fd/N` (each
/// open gets its own offset), so nothing is left behind however passh ends, even on SIGKILL.
final class StdinSpool {
    private let fd: Int32
    let path: FilePath

    init() throws(PasshError) {
        let directory = environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(directory)/passh-stdin-XXXXXX".utf8CString)
        let fd = mkstemp(&template)  // mode 0600
        guard fd >= 0 else {
            throw PasshError(.unreadableFile, "Cannot create a temporary file in \(directory): \(Errno(rawValue: errno))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(0, &buffer, buffer.count)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                let error = Errno(rawValue: errno)
                Glibc.close(fd)
                throw PasshError(.unreadableFile, "Cannot read stdin: \(error)")
            }
            var offset = 0
            while offset < count {
                let written = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + offset, count - offset) }
                if written < 0 {
                    if errno == EINTR { continue }
                    let error = Errno(rawValue: errno)
                    Glibc.close(fd)
                    throw PasshError(.unreadableFile, "Cannot spool stdin: \(error)")
                }
                offset += written
            }
        }
        self.fd = fd
        self.path = FilePath("/proc/self/fd/\(fd)")
    }

    func close() {
        Glibc.close(fd)
    }
}
