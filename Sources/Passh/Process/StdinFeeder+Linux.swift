import Glibc
import CPasshShims
import Synchronization

/// Feeds a regular file into one host's stdin pipe with `splice(2)`: the kernel moves the file's
/// pages into the pipe; nothing passes through passh's memory.
///
/// Why not give ssh the file itself, as the original did: with ssh and sshd sharing a machine's
/// cores, ssh reading a regular file (always readable) ran slower than ssh reading a pipe
/// (bench/run case 3; figures in bench/RESULTS.md and its history). The pipe also bounds how far
/// ahead of the host passh reads: 64 KiB.
///
/// The feeder owns the file and the pipe's write end, and closes both when it is done: at the end
/// of the file (the host then sees its stdin end), when the host stops reading (`EPIPE`), or when
/// ``stop()`` is called because the host's session is over.
final class StdinFeeder: Sendable {
    private let file: Int32
    private let pipe: Int32
    private struct State {
        var stopped = false
        var closed = false
    }

    private let state = Mutex(State())

    init(file: Int32, pipe: Int32) {
        self.file = file
        self.pipe = pipe
    }

    func run() async {
        defer {
            state.withLock { state in
                state.closed = true
                Poller.shared.deregister(pipe)
                close(pipe)
                close(file)
            }
        }
        var offset: Int64 = 0
        while !state.withLock({ $0.stopped }) {
            let moved = passh_splice_to_pipe(file, &offset, pipe, 1 << 16)
            if moved > 0 { continue }
            if moved == 0 { return }  // end of file
            switch errno {
            case EINTR: continue
            case EAGAIN: await Poller.shared.waitWritable(pipe)
            default: return  // EPIPE: the host stopped reading
            }
        }
    }

    /// Makes ``run()`` return soon, if it has not yet.
    func stop() {
        state.withLock { state in
            state.stopped = true
            if !state.closed { Poller.shared.wake(pipe) }
        }
    }

    /// Closes the descriptors when ``run()`` never will (the session could not be set up).
    func abandon() {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            close(pipe)
            close(file)
        }
    }
}
