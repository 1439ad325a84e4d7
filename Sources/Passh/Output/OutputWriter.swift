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
/// The thread starts with the first write and ends when the writer is released, after writing
/// what was queued. There is no process-wide writer: make one for a program's stdout and stderr
/// (``init()``) and give it to every sink, so that the program's lines go through one queue.
///
/// Where the bytes go: this process's stdout and stderr (``init()``), descriptors you keep
/// (``init(stdout:stderr:highWater:)``), one descriptor the writer owns and closes when done
/// (``init(owning:highWater:)``: a file or a socket), memory (``OutputBuffer``), or any consumer
/// (``init(highWater:consumer:)``: a socket library, an `AsyncSequence` you feed).
///
/// A write error (`EPIPE` when the reader went away, `ENOSPC`…) is kept (``error(on:)``) and
/// reported once per stream to the handler set with ``onError(_:)``; later writes to that stream
/// are dropped.
public final class OutputWriter: Sendable {
    /// Bytes queued beyond which writers wait.
    public var highWater: Int { core.highWater }
    private let core: WriterCore

    /// A writer for the given descriptors (they may be the same). passh never closes them.
    public init(stdout: FileDescriptor, stderr: FileDescriptor, highWater: Int = 1 << 20) {
        core = WriterCore(destination: .descriptors(stdout: stdout, stderr: stderr, owned: false), highWater: highWater)
    }

    /// A writer of both streams into `descriptor` (a file, a pipe, a socket), which it owns: it is
    /// closed once the writer is released and everything queued is written.
    public init(owning descriptor: FileDescriptor, highWater: Int = 1 << 20) {
        core = WriterCore(
            destination: .descriptors(stdout: descriptor, stderr: descriptor, owned: true), highWater: highWater)
    }

    /// A writer that hands every buffer, whole and in order, to `consumer`, on the writer's own
    /// thread (so `consumer` may block: writers wait while more than `highWater` bytes are
    /// queued). An error thrown by `consumer` stops that stream as a write error does
    /// (``error(on:)`` is the error when it is an `Errno`, else `EIO`).
    public init(
        highWater: Int = 1 << 20, consumer: @escaping @Sendable ([UInt8], OutputStreamKind) throws -> Void
    ) {
        core = WriterCore(destination: .consumer(consumer), highWater: highWater)
    }

    /// A writer of this process's stdout (fd 1) and stderr (fd 2). Two writers of the same
    /// descriptors keep each buffer whole but not each other's order: make one per program.
    public convenience init() {
        self.init(stdout: .standardOutput, stderr: .standardError)
    }

    deinit {
        core.close()
    }

    /// Sets the handler told, once per stream, that writing to it failed (e.g. `EPIPE`).
    public func onError(_ handler: @escaping @Sendable (OutputStreamKind, Errno) -> Void) {
        core.state.withLock { $0.errorHandler = handler }
    }

    /// The error that stopped writes to `stream`, if one did.
    public func error(on stream: OutputStreamKind) -> Errno? {
        core.state.withLock { $0.errors[stream] }
    }

    /// Queues `bytes` for `stream`; suspends while the queue is over ``highWater``.
    public func write(_ bytes: [UInt8], to stream: OutputStreamKind) async {
        let highWater = core.highWater
        if enqueue(bytes, to: stream) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = core.state.withLock { state -> Bool in
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
        let highWater = core.highWater
        return core.update { state -> Bool in
            guard state.errors[stream] == nil else { return false }  // dropped: the stream is gone
            state.jobs.append(WriterCore.Job(stream: stream, bytes: bytes))
            state.queuedBytes += bytes.count
            return state.queuedBytes > highWater
        }
    }

    /// Waits until everything queued so far has been written (or dropped after an error).
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = core.state.withLock { state -> Bool in
                if state.jobs.isEmpty && state.writerIdle { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Shows `overlay` below the output on stderr (which should be a terminal), or removes it
    /// (`nil`): the writer erases it before writing anything and draws it again when it has
    /// nothing left to write.
    public func setOverlay(_ overlay: (any OutputOverlay)?) {
        core.update { state in
            state.nextOverlay = .some(overlay)
            state.overlayChanged = true
        }
    }

    /// Draws the overlay again (its content changed).
    public func refreshOverlay() {
        core.update { $0.overlayChanged = true }
    }
}

/// Something drawn below a run's output on a terminal, such as a progress line.
public protocol OutputOverlay: Sendable {
    /// The bytes that show the overlay now, or `nil` to show nothing.
    func draw() -> [UInt8]?
    /// The bytes that erase what the last ``draw()`` showed.
    func erase() -> [UInt8]
}

/// The writer's state and thread, apart from ``OutputWriter`` so that the thread does not keep the
/// writer alive: releasing the writer ends the thread.
final class WriterCore: Sendable {
    struct Job {
        let stream: OutputStreamKind
        let bytes: [UInt8]
    }

    struct State {
        var jobs = Deque<Job>()
        var queuedBytes = 0
        var writerIdle = true
        var threadStarted = false
        var closed = false
        var spaceWaiters: [CheckedContinuation<Void, Never>] = []
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        var errors: [OutputStreamKind: Errno] = [:]
        var errorHandler: (@Sendable (OutputStreamKind, Errno) -> Void)?
        /// The overlay shown, the one to show next (`.some(nil)`: remove it), and whether to redraw.
        var overlay: (any OutputOverlay)?
        var nextOverlay: (any OutputOverlay)??
        var overlayShown = false
        var overlayChanged = false
    }

    /// Where the writer's bytes go.
    enum Destination: Sendable {
        /// Descriptors, closed at the end when `owned` (then both streams share one).
        case descriptors(stdout: FileDescriptor, stderr: FileDescriptor, owned: Bool)
        /// A function given each buffer in turn.
        case consumer(@Sendable ([UInt8], OutputStreamKind) throws -> Void)
    }

    let highWater: Int
    let destination: Destination
    let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)

    init(destination: Destination, highWater: Int) {
        self.destination = destination
        self.highWater = highWater
    }

    /// Applies `change` to the state, then makes sure the writer thread is up and awake to act on it.
    @discardableResult
    func update<Result>(_ change: (inout State) -> Result) -> Result {
        let (result, startThread, signal) = state.withLock { state -> (Result, Bool, Bool) in
            let result = change(&state)
            let startThread = !state.threadStarted
            state.threadStarted = true
            let signal = state.writerIdle
            state.writerIdle = false
            return (result, startThread, signal)
        }
        if startThread { startThreadNow() }
        if signal { wakeup.signal() }
        return result
    }

    /// Ends the thread once everything queued is written (closing an owned descriptor then).
    func close() {
        let signal = state.withLock { state -> Bool in
            state.closed = true
            return state.threadStarted
        }
        if signal { wakeup.signal() } else { closeOwned() }
    }

    /// Closes the descriptor the writer owns, if it owns one.
    private func closeOwned() {
        if case .descriptors(let descriptor, _, owned: true) = destination { try? descriptor.close() }
    }

    private func startThreadNow() {
        startLibraryThread(named: "passh-writer") { [self] in writerLoop() }
    }

    private enum Step {
        /// Write these jobs, after erasing the overlay if it is shown.
        case write([Job], erase: [UInt8]?)
        /// Bring the overlay up to date: erase the old one, draw the new one.
        case overlay(erase: [UInt8]?, draw: [UInt8]?)
        /// Nothing left: tell those waiting for a flush, and sleep (or end, when closed).
        case idle([CheckedContinuation<Void, Never>], end: Bool)
    }

    private func nextStep() -> Step {
        state.withLock { state in
            if !state.jobs.isEmpty {
                let erase = state.overlayShown ? state.overlay?.erase() : nil
                state.overlayShown = false
                defer { state.jobs.removeAll(keepingCapacity: true) }
                return .write(Array(state.jobs), erase: erase)
            }
            let redraw = state.overlayChanged || (state.overlay != nil && !state.overlayShown)
            state.overlayChanged = false
            if redraw && (state.overlayShown || state.overlay != nil || state.nextOverlay != nil) {
                let erase = state.overlayShown ? state.overlay?.erase() : nil
                if let next = state.nextOverlay {
                    state.overlay = next
                    state.nextOverlay = nil
                }
                let draw = state.overlay?.draw()
                state.overlayShown = draw != nil
                return .overlay(erase: erase, draw: draw)
            }
            state.writerIdle = true
            defer { state.drainWaiters = [] }
            return .idle(state.drainWaiters, end: state.closed)
        }
    }

    private func writerLoop() {
        while true {
            wakeup.wait()
            drain: while true {
                switch nextStep() {
                case .write(let batch, let erase):
                    if let erase { _ = write(erase, to: .stderr) }
                    var written = 0
                    for job in batch {
                        written += job.bytes.count
                        if let error = write(job.bytes, to: job.stream) { report(error, on: job.stream) }
                    }
                    let released = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                        state.queuedBytes -= written
                        guard state.queuedBytes <= highWater / 2 else { return [] }
                        defer { state.spaceWaiters = [] }
                        return state.spaceWaiters
                    }
                    for waiter in released { waiter.resume() }
                case .overlay(let erase, let draw):
                    if let erase { _ = write(erase, to: .stderr) }
                    if let draw { _ = write(draw, to: .stderr) }
                case .idle(let waiters, let end):
                    for waiter in waiters { waiter.resume() }
                    if end {
                        closeOwned()
                        return
                    }
                    break drain
                }
            }
        }
    }

    private func report(_ error: Errno, on stream: OutputStreamKind) {
        let handler = state.withLock { state -> (@Sendable (OutputStreamKind, Errno) -> Void)? in
            guard state.errors[stream] == nil else { return nil }
            state.errors[stream] = error
            let dropped = state.jobs.filter { $0.stream == stream }
            state.queuedBytes -= dropped.reduce(0) { $0 + $1.bytes.count }
            state.jobs.removeAll { $0.stream == stream }
            return state.errorHandler
        }
        handler?(stream, error)
    }

    /// Writes all of `bytes`, waiting out `EAGAIN` on a non-blocking descriptor; returns the error
    /// that stopped it, if any.
    private func write(_ bytes: [UInt8], to stream: OutputStreamKind) -> Errno? {
        let fd: FileDescriptor
        switch destination {
        case .descriptors(let stdout, let stderr, _):
            fd = stream == .stdout ? stdout : stderr
        case .consumer(let consume):
            do {
                try consume(bytes, stream)
                return nil
            } catch {
                return error as? Errno ?? .ioError
            }
        }
        return bytes.withUnsafeBytes { raw -> Errno? in
            var offset = 0
            while offset < raw.count {
                do {
                    offset += try fd.write(UnsafeRawBufferPointer(rebasing: raw[offset...]))
                } catch let error as Errno where error == .resourceTemporarilyUnavailable {
                    waitUntilWritable(fd)
                } catch {
                    return error as? Errno ?? .ioError
                }
            }
            return nil
        }
    }
}
