import CPasshShims

#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking pipe that wakes a thread's `poll(2)` loop: another thread calls ``wake()``,
/// the loop polls ``descriptor`` for `POLLIN` and ``drain()``s it. The loop's owner closes it
/// (``close()``) once the loop has ended.
struct WakePipe: Sendable {
    /// The end the loop polls.
    let descriptor: Int32
    private let writer: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        precondition(passh_pipe_cloexec(&fds) == 0, "pipe failed: \(errno)")
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        descriptor = fds[0]
        writer = fds[1]
    }

    /// Wakes the loop (a full pipe already does).
    func wake() {
        var one: UInt8 = 1
        _ = write(writer, &one, 1)
    }

    /// Empties the pipe, after a wake-up.
    func drain() {
        var drain = [UInt8](repeating: 0, count: 64)
        while read(descriptor, &drain, drain.count) > 0 {}
    }

    func close() {
        _ = Glibc.close(descriptor)
        _ = Glibc.close(writer)
    }
}
