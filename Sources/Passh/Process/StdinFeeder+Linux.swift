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
/// of the file (the host then sees its stdin end), when the host stops reading (`EPIPE`), or when
/// ``stop()`` is called because the host's session is over.
final class StdinFeeder: Sendable {
    private let file: Int32?
    private let preamble: [UInt8]
    private let pipe: Int32
    private struct State {
        var stopped = false
        var closed = false
    }

    private let state = Mutex(State())

    /// A feeder of `preamble`, then of `file` (if any), into `pipe`, whose write end is non-blocking.
    init(file: Int32?, preamble: [UInt8] = [], pipe: Int32) {
        self.file = file
        self.preamble = preamble
        self.pipe = pipe
    }

    func run() async {
        defer {
            state.withLock { state in
                state.closed = true
                Poller.shared.deregister(pipe)
                close(pipe)
                if let file { close(file) }
            }
        }
        guard await feedPreamble(), let file else { return }
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

    /// Writes the preamble; `false` when the host stopped reading or the feeder was stopped.
    private func feedPreamble() async -> Bool {
        let pipe = FileDescriptor(rawValue: self.pipe)
        var rest = preamble[...]
        while !rest.isEmpty {
            if state.withLock({ $0.stopped }) { return false }
            do {
                let written = try rest.withUnsafeBytes { try pipe.write($0, retryOnInterrupt: true) }
                rest = rest.dropFirst(written)
            } catch .wouldBlock {
                await Poller.shared.waitWritable(self.pipe)
            } catch {
                return false  // EPIPE: the host stopped reading
            }
        }
        return true
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
            if let file { close(file) }
        }
    }
}
