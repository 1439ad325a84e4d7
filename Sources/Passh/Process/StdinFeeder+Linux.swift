import CPasshShims
import Glibc
import Synchronization
import SystemPackage

/// Feeds one host's stdin pipe: first the preamble (``SessionOptions/stdinPreamble``), then the
/// stdin file with `splice(2)`: the kernel moves the file's pages into the pipe; nothing passes
/// through passh's memory.
///
/// Why not give ssh the file itself, as the original did: with ssh and sshd sharing a machine's
/// cores, ssh reading a regular file (always readable) ran slower than ssh reading a pipe
/// (bench/run case 3; figures in bench/RESULTS.md and its history). The pipe also bounds how far
/// ahead of the host passh reads: 64 KiB. From ``SessionPipes/directStdinSize`` on, it is the other
/// way round (bench/run case 8), and the session gets the file itself.
///
/// The feeder owns the file and the pipe's write end, and closes both when it is done: at the end
/// of the file (the host then sees its stdin end), when the host stops reading (`EPIPE` — never a
/// `SIGPIPE` for the program), or when its task is cancelled because the host's session is over.
final class StdinFeeder: Sendable {
    private let file: Int32?
    private let preamble: [UInt8]
    private let pipe: Int32
    private let poller: Poller
    private let closed = Atomic<Bool>(false)

    /// A feeder of `preamble`, then of `file` (if any), into `pipe`, whose write end is non-blocking;
    /// its waits end on `poller`.
    init(file: Int32?, preamble: [UInt8] = [], pipe: Int32, poller: Poller) {
        self.file = file
        self.preamble = preamble
        self.pipe = pipe
        self.poller = poller
    }

    func run() async {
        defer {
            poller.forget(pipe)
            abandon()
        }
        guard await feedPreamble(), let file else { return }
        var offset: Int64 = 0
        while true {
            let moved = passh_splice_to_pipe(file, &offset, pipe, 1 << 16)
            if moved > 0 { continue }
            if moved == 0 { return }  // end of file
            switch errno {
            case EINTR: continue
            case EAGAIN: if await poller.wait(pipe, for: .writable) == .cancelled { return }
            default: return  // EPIPE: the host stopped reading
            }
        }
    }

    /// Writes the preamble; `false` when the host stopped reading or the feeder was cancelled.
    private func feedPreamble() async -> Bool {
        var rest = preamble[...]
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { passh_write_nosigpipe(pipe, $0.baseAddress, $0.count) }
            if written > 0 {
                rest = rest.dropFirst(written)
                continue
            }
            switch errno {
            case EINTR: continue
            case EAGAIN: if await poller.wait(pipe, for: .writable) == .cancelled { return false }
            default: return false  // EPIPE: the host stopped reading
            }
        }
        return true
    }

    /// Closes the descriptors (once): when ``run()`` is done, or instead of it when the session could
    /// not be set up.
    func abandon() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        close(pipe)
        if let file { close(file) }
    }
}
