import Passh

/// Waits until `fd` has something to read — data, or its end — or the calling task is cancelled:
/// `true` when it is readable, `false` when cancelled. For reads the command-line tool makes before
/// a run (stdin to spool, a FIFO with no writer yet, the terminal asked for a password), which a
/// signal must be able to interrupt: the read that follows does not block.
///
/// The wait is the library's ``Poller`` (one `epoll` and its thread, owned by the caller), not a
/// dispatch read source: a source made and cancelled for each read of a pipe crashed passh in
/// libdispatch's event loop about one run in ten (`-i <(seq 1 100000)`: status 139). `fd` is
/// forgotten by the poller before this returns, so the caller may close it right after.
func waitReadable(_ fd: Int32, on poller: Poller) async -> Bool {
    let outcome = await poller.wait(fd, for: .readable)
    poller.forget(fd)
    return outcome == .ready
}
