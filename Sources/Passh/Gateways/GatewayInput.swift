import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Reads a gateway's stdin: request lines, and the bytes of a file after its header. Its waits
/// end on the calling task's cancellation (``Poller``).
struct GatewayInput: ~Copyable {
    /// Why reading stopped.
    enum Stop: Error, Equatable {
        /// The end of the stream (the root closed it, or is gone), or the task was cancelled.
        case ended
        /// A line longer than allowed, a read error.
        case broken(String)
    }

    private let fd: Int32
    private let poller: Poller
    private var buffer: [UInt8] = []
    private var start = 0

    /// Reads `fd`, made non-blocking, waiting on `poller`.
    init(fd: Int32, poller: Poller) {
        self.fd = fd
        self.poller = poller
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// The next line, without its newline; ``Stop/ended`` at the end of the stream (a last line
    /// without a newline is no request).
    mutating func line(maximum: Int) async throws(Stop) -> [UInt8] {
        var searched = start
        while true {
            if let newline = buffer[searched...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                compact()
                return line
            }
            searched = buffer.count
            if buffer.count - start > maximum { throw .broken("a request line longer than \(maximum) bytes") }
            try await fill()
        }
    }

    /// Copies the next `count` bytes to `out`.
    mutating func copy(_ count: Int64, to out: FileDescriptor) async throws(Stop) {
        var left = count
        while left > 0 {
            if start == buffer.count { try await fill() }
            let take = min(Int(clamping: left), buffer.count - start)
            do {
                _ = try buffer[start..<start + take].withUnsafeBytes { try out.writeAll($0) }
            } catch {
                throw .broken("cannot write a file: \(error)")
            }
            start += take
            left -= Int64(take)
            compact()
        }
    }

    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 1 << 16 {
            buffer.removeFirst(start)
            start = 0
        }
    }

    /// Reads what is there, waiting for it.
    private mutating func fill() async throws(Stop) {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer.append(contentsOf: chunk[..<count])
                return
            }
            if count == 0 { throw .ended }
            switch errno {
            case EINTR: continue
            case EAGAIN:
                if await poller.wait(fd, for: .readable) == .cancelled { throw .ended }
            default:
                throw .broken("cannot read the requests: \(Errno(rawValue: errno))")
            }
        }
    }
}
