import Passh
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Input that can be read only once — this process's stdin (`-I`), or an `-i` source that is a
/// pipe or a device (`-i <(seq 1 100)`) — read once into a private temporary file (mode 0600),
/// which every host then reads whole.
///
/// The file is unlinked as soon as it is made; hosts open it through `/proc/self/fd/N` (each open
/// gets its own offset), so nothing is left behind however passh ends, even on SIGKILL. Reading
/// happens before any host starts; every wait for input ends when the task is cancelled, so ^C or
/// SIGTERM while it waits for a writer that never comes end passh at once.
final class StdinSpool {
    private let fd: FileDescriptor
    let path: FilePath

    /// Whether `path` must be spooled: it exists and is not a regular file (nor a directory,
    /// which the run refuses).
    static func needsSpooling(_ path: FilePath) throws(PasshError) -> Bool {
        var info = stat()
        guard stat(path.string, &info) == 0 else {
            if errno == ENOENT { throw PasshError(.unreadableFile, "No such file: \(path.string)") }
            throw PasshError(.unreadableFile, "Cannot read file: \(path.string): \(Errno(rawValue: errno))")
        }
        let type = info.st_mode & S_IFMT
        return type != S_IFREG && type != S_IFDIR
    }

    /// Copies what `path` gives until its end. A FIFO is opened without waiting for its writer.
    convenience init(contentsOf path: FilePath) async throws(PasshError) {
        let source: FileDescriptor
        do {
            source = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec, .nonBlocking])
        } catch {
            throw PasshError(.unreadableFile, "Cannot read file: \(path.string): \(error)")
        }
        defer { try? source.close() }
        try await self.init(reading: source, name: path.string)
    }

    /// Copies what `source` gives until its end; `name` is for messages. Before each read it waits
    /// until there is something to read (a regular file always has), so that a cancellation ends
    /// the wait.
    ///
    /// - Throws: ``PasshError`` when a read or a write fails, and when the task is cancelled.
    init(reading source: FileDescriptor, name: String) async throws(PasshError) {
        let directory = environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(directory)/passh-stdin-XXXXXX".utf8CString)
        let raw = mkstemp(&template)  // mode 0600
        guard raw >= 0 else {
            throw PasshError(
                .unreadableFile, "Cannot create a temporary file in \(directory): \(Errno(rawValue: errno))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(raw, F_SETFD, FD_CLOEXEC)
        let spool = FileDescriptor(rawValue: raw)
        var info = stat()
        let regular = fstat(source.rawValue, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let poller = Poller()
        while true {
            let ready = regular ? !Task.isCancelled : await waitReadable(source.rawValue, on: poller)
            guard ready else {
                try? spool.close()
                throw PasshError(.unreadableFile, "Cannot read \(name): stopped")
            }
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try source.read(into: $0, retryOnInterrupt: true) }
            } catch Errno.resourceTemporarilyUnavailable {
                continue  // a non-blocking source with nothing after all
            } catch {
                try? spool.close()
                throw PasshError(.unreadableFile, "Cannot read \(name): \(error)")
            }
            if count == 0 { break }
            do {
                _ = try spool.writeAll(buffer[..<count])
            } catch {
                try? spool.close()
                throw PasshError(.unreadableFile, "Cannot copy \(name) to \(directory): \(error)")
            }
        }
        self.fd = spool
        self.path = FilePath("/proc/self/fd/\(raw)")
    }

    func close() {
        try? fd.close()
    }
}
