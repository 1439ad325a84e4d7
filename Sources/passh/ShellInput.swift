import Passh

#if canImport(Glibc)
import Glibc
#endif

/// The shell's lines from stdin — a script, or a terminal where libedit could not start (then in
/// canonical mode: the kernel's line editing, erase, ^U, ^W; ^D on an empty line ends it) — waited
/// for on a poller, so that a wait
/// ends when the task is cancelled. Stdin's flags are left as they are (no O_NONBLOCK on a
/// terminal shared with the shell that started passh): it is read once each time it is ready.
final class ShellInput {
    private var buffer: [UInt8] = []
    private var ended = false
    private let poller = Poller()

    /// The next line without its end; `nil` at the end of the input or when cancelled.
    func next() async -> String? {
        while true {
            if let end = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeSubrange(...end)
                return line
            }
            if ended {
                guard !buffer.isEmpty else { return nil }
                defer { buffer = [] }
                return String(decoding: buffer, as: UTF8.self)
            }
            guard await waitReadable(0, on: poller) else { return nil }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if count <= 0 {
                ended = true
            } else {
                buffer += chunk[..<count]
            }
        }
    }
}
