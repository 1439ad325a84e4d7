import Glibc
import SystemPackage

/// A stdin file opened for one session (``StdinFile``), closed with its last reference.
final class StdinFileDescriptor: StdinFile {
    private let fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// How opening one failed: what the host reports.
    struct Failure: Error {
        let failure: HostFailure
    }

    /// Opens `path` for reading.
    static func open(_ path: FilePath) throws(Failure) -> StdinFileDescriptor {
        let fd = Glibc.open(path.string, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw Failure(failure: HostFailure(.cannotStart, "cannot open \(path.string): \(Errno(rawValue: errno))"))
        }
        return StdinFileDescriptor(fd: fd)
    }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let count = pread(fd, buffer.baseAddress, buffer.count, Int(offset))
            if count < 0 && errno == EINTR { continue }
            return count
        }
    }
}
