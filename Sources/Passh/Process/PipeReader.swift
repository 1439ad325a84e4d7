#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads one non-blocking pipe to its end and hands on whole lines (``LineSplitter``), in chunks,
/// as they arrive.
///
/// Memory per reader: nothing while waiting; while data flows, one read buffer (64 KiB, or the
/// length of the line being assembled, up to ``RunOptions/maximumLineLength``). The next read does
/// not start until `deliver` returns: that is the backpressure from the output sink to the pipe
/// (and, through the full pipe, to ssh and the remote command). A binary stream (a gather's) is
/// handed on as read, one buffer of what the pipe holds (up to `maximumLineLength`) per read.
///
/// The session's end (``SessionEnd``) ends the reader: it reads what the pipe holds now, hands on
/// the unfinished last line, and returns — without waiting for an end of file that a grandchild
/// holding the pipe may never send (a process that exited has written all it will).
///
/// Cancellation does not end it at once: a stopped session is being torn down (TERM, the grace,
/// KILL), and what the command prints meanwhile (a trap's last words) is its output too. From the
/// cancellation on, each wait has a deadline — `teardown`, the longest that teardown takes — after
/// which the reader drains and returns whether or not the session has ended.
struct PipeReader {
    static let readSize = 64 << 10

    let fd: Int32
    let poller: Poller
    var lines: LineSplitter
    /// Told when the session has returned.
    let end: SessionEnd
    /// How long reading goes on after a cancellation, at most.
    let teardown: Duration

    init(fd: Int32, poller: Poller, lines: LineSplitter, end: SessionEnd, teardown: Duration) {
        self.fd = fd
        self.poller = poller
        self.lines = lines
        self.end = end
        self.teardown = teardown
    }

    consuming func run(deliver: (OutputChunk) async -> Void) async {
        var draining = false
        var deadline: ContinuousClock.Instant?
        while true {
            if !draining {
                let outcome: PollOutcome
                if let deadline {
                    outcome = await poller.waitOut(fd, for: .readable, until: deadline)
                } else {
                    outcome = await poller.wait(fd, for: .readable)
                }
                switch outcome {
                case .cancelled:
                    deadline = .now + teardown
                    continue
                case .timedOut, .refused:
                    draining = true
                case .ready:
                    draining = end.hasEnded
                }
            }
            // Everything there now.
            while true {
                // Ask how much is there, so that a buffer is allocated only for data, at its size:
                // a pipe that only reports its end costs no allocation.
                var available: Int32 = 0
                let asked = ioctl(fd, UInt(FIONREAD), &available)
                let want =
                    asked == 0 && available > 0
                    ? (lines.binary
                        ? Swift.min(Int(available), lines.maximumLineLength)
                        : Swift.min(Int(available), Swift.max(Self.readSize, lines.pending.count)))
                    : (asked == 0 ? 1 : Self.readSize)  // nothing buffered: end of file, or a spurious wake-up
                var readErrno: Int32 = 0
                let (result, chunks) = lines.read(upTo: want) { space in
                    let count = read(fd, space.baseAddress, space.count)
                    if count < 0 { readErrno = errno }
                    return count
                }
                for chunk in chunks { await deliver(chunk) }
                if result > 0 {
                    // A pipe that always has data, delivered to a sink that never makes it wait, would
                    // keep this cooperative thread forever: let other tasks (a teardown) run.
                    await Task.yield()
                    continue
                }
                if result < 0 && readErrno == EINTR { continue }
                if result < 0 && (readErrno == EAGAIN || readErrno == EWOULDBLOCK) && !draining { break }
                // End of file, a read error, or nothing more while draining.
                if let last = lines.finish() { await deliver(last) }
                return
            }
        }
    }
}
