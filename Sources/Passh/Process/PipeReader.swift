import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Set once a process has exited: its readers then stop at the first "no data right now"
/// instead of waiting for an end of file that a grandchild holding the pipe may never send.
final class ExitLatch: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}

/// Reads one non-blocking pipe to its end and hands on whole lines, in chunks, as they arrive.
///
/// Memory per reader: nothing while waiting; while data flows, one read buffer (64 KiB, or the
/// length of the line being assembled, up to ``RunOptions/maximumLineLength``). The next read does
/// not start until `deliver` returns: that is the backpressure from the output sink to the pipe
/// (and, through the full pipe, to ssh and the remote command). A binary stream (a gather's) is
/// handed on as read, one buffer of what the pipe holds (up to `maximumLineLength`) per read.
struct PipeReader {
    static let readSize = 64 << 10

    let fd: Int32
    let host: Host
    let stream: OutputStreamKind
    let maximumLineLength: Int
    /// The stream is data, not text: each read is handed on as it is (at most
    /// `maximumLineLength` bytes), without looking for line ends.
    var binary = false

    func run(until exited: ExitLatch, deliver: (OutputChunk) async -> Void) async {
        if binary { return await runBinary(until: exited, deliver: deliver) }
        var pending: [UInt8] = []  // the start of a line whose newline has not arrived yet
        await Poller.shared.waitReadable(fd)
        while true {
            // Ask how much is there, so that a buffer is allocated only for data, at its size:
            // a pipe that only reports its end costs no allocation.
            var available: Int32 = 0
            let asked = ioctl(fd, UInt(FIONREAD), &available)
            let want =
                asked == 0 && available > 0
                ? Swift.min(Int(available), Swift.max(Self.readSize, pending.count))
                : (asked == 0 ? 0 : Self.readSize)
            var result = 0
            var readErrno: Int32 = 0
            var buffer: [UInt8] = []
            if want == 0 {
                // Nothing buffered: end of file, or a spurious wake-up.
                var probe: UInt8 = 0
                result = read(fd, &probe, 1)
                if result < 0 { readErrno = errno }
                if result == 1 { buffer = pending + [probe] }
            } else {
                buffer = [UInt8](unsafeUninitializedCapacity: pending.count + want) { space, count in
                    let base = space.baseAddress!
                    pending.withUnsafeBytes { old in
                        if let from = old.baseAddress {
                            UnsafeMutableRawPointer(base).copyMemory(from: from, byteCount: old.count)
                        }
                    }
                    result = read(fd, base + pending.count, want)
                    if result < 0 { readErrno = errno }
                    count = pending.count + Swift.max(result, 0)
                }
            }
            if result > 0 {
                pending = await split(buffer, searchFrom: pending.count, deliver: deliver)
                // A pipe that always has data, delivered to a sink that never makes it wait, would
                // keep this cooperative thread forever: let other tasks (a teardown) run.
                await Task.yield()
                continue
            }
            if await readsAgain(after: result, errno: readErrno, until: exited) { continue }
            // End of file, or the process is gone and nothing more is buffered, or a read error.
            if !pending.isEmpty {
                await deliver(OutputChunk(host: host, stream: stream, bytes: pending[...], endsWithNewline: false))
            }
            return
        }
    }

    /// ``run(until:deliver:)`` for data: every read is one chunk of what the pipe holds (at most
    /// `maximumLineLength` bytes), in a buffer of that size: no line search, no bytes carried over
    /// from one read to the next.
    private func runBinary(until exited: ExitLatch, deliver: (OutputChunk) async -> Void) async {
        await Poller.shared.waitReadable(fd)
        while true {
            var available: Int32 = 0
            let asked = ioctl(fd, UInt(FIONREAD), &available)
            let want = asked == 0 ? Swift.max(1, Swift.min(Int(available), maximumLineLength)) : Self.readSize
            var result = 0
            var readErrno: Int32 = 0
            let buffer = [UInt8](unsafeUninitializedCapacity: want) { space, count in
                result = read(fd, space.baseAddress!, want)
                if result < 0 { readErrno = errno }
                count = Swift.max(result, 0)
            }
            if result > 0 {
                await deliver(OutputChunk(host: host, stream: stream, bytes: buffer[...], endsWithNewline: false))
                await Task.yield()
                continue
            }
            if await readsAgain(after: result, errno: readErrno, until: exited) { continue }
            return
        }
    }

    /// After a read that gave no data: whether to read again — it was interrupted, or the pipe is
    /// empty while the process runs (then once there is data) — or stop: end of file, the process
    /// gone and nothing buffered, or a read error.
    private func readsAgain(after result: Int, errno readErrno: Int32, until exited: ExitLatch) async -> Bool {
        guard result < 0 else { return false }
        if readErrno == EINTR { return true }
        guard readErrno == EAGAIN || readErrno == EWOULDBLOCK, !exited.isSet else { return false }
        await Poller.shared.waitReadable(fd)
        return true
    }

    private func split(
        _ buffer: [UInt8], searchFrom: Int, deliver: (OutputChunk) async -> Void
    ) async -> [UInt8] {
        let splitter = LineSplitter(host: host, stream: stream, maximumLineLength: maximumLineLength)
        let (chunks, rest) = splitter.split(buffer, searchFrom: searchFrom)
        for chunk in chunks { await deliver(chunk) }
        return rest
    }
}
