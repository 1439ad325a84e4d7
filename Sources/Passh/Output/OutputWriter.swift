#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import DequeModule
import Dispatch
import Synchronization
public import SystemPackage

/// The one writer of a process's standard output and standard error.
///
/// Every buffer handed to ``write(_:to:)`` is written whole before the next one starts, by one
/// thread of its own, so lines from different hosts never interleave and no task of the
/// cooperative pool ever blocks on a slow terminal or pipe. Writers are told to wait — their
/// `write` call suspends — while more than ``highWater`` bytes are queued: that is how a slow
/// reader of passh's output slows the hosts down, with memory bounded.
///
/// A write error (EPIPE when the reader went away) is reported once per stream to the handler set
/// with ``onError(_:)``; later writes to that stream are dropped.
///
/// A status line (``setStatus(_:)``, for a terminal) stays below the output on stderr: the writer
/// clears it before writing anything and draws it again when the queue is empty.
public final class OutputWriter: Sendable {
    /// The writer of this process's stdout (fd 1) and stderr (fd 2).
    public static let standard = OutputWriter(stdout: .standardOutput, stderr: .standardError)

    /// Bytes queued beyond which writers wait.
    public let highWater: Int
    private let stdoutFD: Int32
    private let stderrFD: Int32

    private struct Job {
        let fd: Int32
        let bytes: [UInt8]
    }

    private struct State {
        var jobs = Deque<Job>()
        var queuedBytes = 0
        var writerIdle = true
        var threadStarted = false
        var spaceWaiters: [CheckedContinuation<Void, Never>] = []
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        var failed: Set<Int32> = []
        var errorHandler: (@Sendable (OutputStreamKind, Errno) -> Void)?
        /// The status line to show, whether it is on the screen, whether it changed.
        var status: [UInt8]?
        var statusShown = false
        var statusChanged = false
    }

    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)

    /// A writer for the given descriptors. passh never closes them.
    public init(stdout: FileDescriptor, stderr: FileDescriptor, highWater: Int = 1 << 20) {
        self.stdoutFD = stdout.rawValue
        self.stderrFD = stderr.rawValue
        self.highWater = highWater
    }

    /// Sets the handler told, once per stream, that writing to it failed (e.g. `EPIPE`).
    public func onError(_ handler: @escaping @Sendable (OutputStreamKind, Errno) -> Void) {
        state.withLock { $0.errorHandler = handler }
    }

    /// Queues `bytes` for `stream`; suspends while the queue is over ``highWater``.
    public func write(_ bytes: [UInt8], to stream: OutputStreamKind) async {
        if enqueue(bytes, to: stream) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.queuedBytes <= highWater / 2 { return true }
                    state.spaceWaiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    /// Queues `bytes` for `stream` without waiting; says whether the queue is now over
    /// ``highWater`` (the caller should then wait, as ``write(_:to:)`` does). For a writer that
    /// must queue something in order while holding a lock.
    @discardableResult
    func enqueue(_ bytes: [UInt8], to stream: OutputStreamKind) -> Bool {
        guard !bytes.isEmpty else { return false }
        let fd = stream == .stdout ? stdoutFD : stderrFD
        return update { state -> Bool in
            guard !state.failed.contains(fd) else { return false }  // dropped: the stream is gone
            state.jobs.append(Job(fd: fd, bytes: bytes))
            state.queuedBytes += bytes.count
            return state.queuedBytes > highWater
        }
    }

    /// Shows `text` as the status line at the bottom of stderr (which should be a terminal), or
    /// removes it (`nil`). The line is cleared before any output is written and drawn again after.
    public func setStatus(_ text: String?) {
        update { state in
            state.status = text.map { Array($0.utf8) }
            state.statusChanged = true
        }
    }

    /// Applies `change` to the state, then makes sure the writer thread is up and awake to act on it.
    @discardableResult
    private func update<Result>(_ change: (inout State) -> Result) -> Result {
        let (result, startThread, signal) = state.withLock { state -> (Result, Bool, Bool) in
            let result = change(&state)
            let startThread = !state.threadStarted
            state.threadStarted = true
            let signal = state.writerIdle
            state.writerIdle = false
            return (result, startThread, signal)
        }
        if startThread { startWriterThread() }
        if signal { wakeup.signal() }
        return result
    }

    /// Waits until everything queued so far has been written (or dropped after an error).
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.jobs.isEmpty && state.writerIdle { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func startWriterThread() {
        let context = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<OutputWriter>.fromOpaque(raw!).takeRetainedValue().writerLoop()
        }, context.toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
        pthread_detach(thread)
    }

    private enum Step {
        /// Write these jobs, after clearing the status line if it is shown.
        case write([Job], clearStatus: Bool)
        /// Bring the status line up to date: clear the old one, draw the new one.
        case status(clear: Bool, draw: [UInt8]?)
        /// Nothing left: tell those waiting for a flush, and sleep.
        case idle([CheckedContinuation<Void, Never>])
    }

    private func nextStep() -> Step {
        state.withLock { state in
            if !state.jobs.isEmpty {
                let clear = state.statusShown
                state.statusShown = false
                defer { state.jobs.removeAll(keepingCapacity: true) }
                return .write(Array(state.jobs), clearStatus: clear)
            }
            let redraw = state.statusChanged || (state.status != nil && !state.statusShown)
            state.statusChanged = false
            if redraw && (state.statusShown || state.status != nil) {
                let clear = state.statusShown
                state.statusShown = state.status != nil
                return .status(clear: clear, draw: state.status)
            }
            state.writerIdle = true
            defer { state.drainWaiters = [] }
            return .idle(state.drainWaiters)
        }
    }

    private func writerLoop() -> Never {
        let clearLine = Array("\r\u{1B}[K".utf8)
        while true {
            wakeup.wait()
            drain: while true {
                switch nextStep() {
                case .write(let batch, let clearStatus):
                    if clearStatus { _ = Self.writeAll(clearLine, to: stderrFD) }
                    var written = 0
                    for job in batch {
                        written += job.bytes.count
                        if let error = Self.writeAll(job.bytes, to: job.fd) { report(error, fd: job.fd) }
                    }
                    let released = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                        state.queuedBytes -= written
                        guard state.queuedBytes <= highWater / 2 else { return [] }
                        defer { state.spaceWaiters = [] }
                        return state.spaceWaiters
                    }
                    for waiter in released { waiter.resume() }
                case .status(let clear, let draw):
                    if clear { _ = Self.writeAll(clearLine, to: stderrFD) }
                    if let draw { _ = Self.writeAll(draw, to: stderrFD) }
                case .idle(let waiters):
                    for waiter in waiters { waiter.resume() }
                    break drain
                }
            }
        }
    }

    private func report(_ error: Errno, fd: Int32) {
        let handler = state.withLock { state -> (@Sendable (OutputStreamKind, Errno) -> Void)? in
            guard state.failed.insert(fd).inserted else { return nil }
            let dropped = state.jobs.filter { $0.fd == fd }
            state.queuedBytes -= dropped.reduce(0) { $0 + $1.bytes.count }
            state.jobs.removeAll { $0.fd == fd }
            return state.errorHandler
        }
        handler?(fd == stdoutFD ? .stdout : .stderr, error)
    }

    /// Writes all of `bytes`, waiting out `EAGAIN` on a non-blocking descriptor; returns the error
    /// that stopped it, if any.
    private static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Errno? {
        bytes.withUnsafeBytes { raw -> Errno? in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n >= 0 {
                    offset += n
                    continue
                }
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK:
                    var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&poller, 1, -1)
                default:
                    return Errno(rawValue: errno)
                }
            }
            return nil
        }
    }
}
