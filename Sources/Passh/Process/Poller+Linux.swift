import CPasshShims
import Glibc
import HeapModule
import Synchronization

/// Tells tasks when a descriptor (a pipe, a socket, a pidfd) is ready: one `epoll` instance and one
/// thread, owned by whatever uses it — each transport has its own — and ended when it is released.
///
/// Why passh waits on its pipes itself instead of reading them through swift-subprocess's output
/// sequence: each pending read there allocates and zero-fills a buffer of the pipe's size (64 KiB),
/// so 1000 hosts waiting on stdout and stderr hold 128 MiB. Here a task waiting for data holds
/// nothing; the reader allocates a buffer only when the pipe is readable.
///
/// Every wait ends by construction: when the descriptor is ready, when its deadline passes, or when
/// the waiting task is cancelled (``wait(_:for:until:)``) — a teardown that must go on after a
/// cancellation waits with ``waitOut(_:for:until:)``, which needs a deadline. Nobody has to arrange
/// a wake-up for a wait to end. One task waits on a descriptor at a time: a second wait on the same
/// descriptor is refused (``PollOutcome/refused``), never silently put in the first one's place.
package final class Poller: Sendable {
    private let core = PollerCore()

    /// A poller; its thread starts with the first wait.
    package init() {}

    deinit {
        core.close()
    }

    /// Suspends until `fd` is ready for `interest`, ``wake(_:)`` is called for it, `deadline` passes
    /// or the calling task is cancelled.
    package func wait(
        _ fd: Int32, for interest: PollInterest, until deadline: ContinuousClock.Instant? = nil
    ) async -> PollOutcome {
        await core.wait(fd, for: interest, until: deadline, cancellable: true)
    }

    /// ``wait(_:for:until:)`` for a task that has taken its cancellation in hand and must still wait
    /// for something bounded (a process being torn down, a stop ladder): cancellation does not end
    /// it, `deadline` does.
    package func waitOut(_ fd: Int32, for interest: PollInterest, until deadline: ContinuousClock.Instant) async
        -> PollOutcome
    {
        await core.wait(fd, for: interest, until: deadline, cancellable: false)
    }

    /// Ends the wait on `fd` (``PollOutcome/ready``), or makes its next one return at once.
    package func wake(_ fd: Int32) {
        core.wake(fd)
    }

    /// Forgets `fd`; call before closing it.
    package func forget(_ fd: Int32) {
        core.forget(fd)
    }
}

/// What a wait is for.
package struct PollInterest: OptionSet, Sendable {
    package let rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
    package static let readable = PollInterest(rawValue: EPOLLIN.rawValue)
    package static let writable = PollInterest(rawValue: EPOLLOUT.rawValue)
}

/// How a wait ended.
package enum PollOutcome: Sendable, Equatable {
    /// The descriptor is ready (or was woken, or cannot be polled: a regular file is always ready).
    case ready
    /// The deadline passed first.
    case timedOut
    /// The waiting task was cancelled.
    case cancelled
    /// Another task is waiting on this descriptor already.
    case refused
}

/// The poller's state and thread, apart from ``Poller`` so that the thread does not keep the poller
/// alive: releasing the poller ends the thread.
private final class PollerCore: Sendable {
    private struct Waiter {
        let token: UInt64
        let continuation: CheckedContinuation<PollOutcome, Never>
    }

    /// A waiter's deadline; stale once its waiter is gone (its token no longer waits).
    private struct Deadline: Comparable {
        let instant: ContinuousClock.Instant
        let fd: Int32
        let token: UInt64
        static func < (a: Deadline, b: Deadline) -> Bool { a.instant < b.instant }
        static func == (a: Deadline, b: Deadline) -> Bool { a.instant == b.instant && a.token == b.token }
    }

    private struct State {
        var waiters: [Int32: Waiter] = [:]
        var registered: Set<Int32> = []
        /// Descriptors woken while nobody waited: their next wait returns at once.
        var pendingWakes: Set<Int32> = []
        var deadlines = Heap<Deadline>()
        /// The deadline the thread sleeps until (`nil`: none, it sleeps until an event).
        var sleepingUntil: ContinuousClock.Instant?
        var threadStarted = false
        var closed = false
    }

    private let epollFD: Int32
    private let eventFD: Int32
    private let state = Mutex(State())
    private let tokens = Atomic<UInt64>(0)

    init() {
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epollFD >= 0, "epoll_create1 failed: errno \(errno)")
        eventFD = passh_eventfd()
        precondition(eventFD >= 0, "eventfd failed: errno \(errno)")
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = eventFD
        precondition(epoll_ctl(epollFD, EPOLL_CTL_ADD, eventFD, &event) == 0, "epoll_ctl failed: errno \(errno)")
    }

    func wait(
        _ fd: Int32, for interest: PollInterest, until deadline: ContinuousClock.Instant?, cancellable: Bool
    ) async -> PollOutcome {
        let token = tokens.add(1, ordering: .relaxed).newValue
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<PollOutcome, Never>) in
                let (now, wakeThread, startThread) = state.withLock { state -> (PollOutcome?, Bool, Bool) in
                    if state.waiters[fd] != nil { return (.refused, false, false) }
                    if cancellable && Task.isCancelled { return (.cancelled, false, false) }
                    if state.pendingWakes.remove(fd) != nil { return (.ready, false, false) }
                    if let deadline, deadline <= .now { return (.timedOut, false, false) }
                    guard arm(fd, interest, &state) else { return (.ready, false, false) }
                    state.waiters[fd] = Waiter(token: token, continuation: continuation)
                    var wakeThread = false
                    if let deadline {
                        state.deadlines.insert(Deadline(instant: deadline, fd: fd, token: token))
                        wakeThread = state.threadStarted && state.sleepingUntil.map { deadline < $0 } ?? true
                    }
                    let startThread = !state.threadStarted
                    state.threadStarted = true
                    return (nil, wakeThread, startThread)
                }
                if let now { return continuation.resume(returning: now) }
                if startThread { startLibraryThread(named: "passh-poller") { [self] in loop() } }
                if wakeThread { signalThread() }
            }
        } onCancel: {
            guard cancellable else { return }
            let waiter = state.withLock { state -> Waiter? in
                guard state.waiters[fd]?.token == token else { return nil }
                return state.waiters.removeValue(forKey: fd)
            }
            waiter?.continuation.resume(returning: .cancelled)
        }
    }

    /// Asks epoll for one event of `interest` on `fd` (none for no interest: the wait then ends only
    /// on a wake-up, its deadline or cancellation); `false` when `fd` cannot be polled (a regular
    /// file, or a descriptor already closed): the caller then treats it as ready, and its read or
    /// write tells what is there.
    private func arm(_ fd: Int32, _ interest: PollInterest, _ state: inout State) -> Bool {
        if interest.isEmpty { return true }  // woken only by wake(_:), the deadline or cancellation
        var event = epoll_event()
        event.events = interest.rawValue | EPOLLONESHOT.rawValue
        event.data.fd = fd
        var op = state.registered.insert(fd).inserted ? EPOLL_CTL_ADD : EPOLL_CTL_MOD
        var result = epoll_ctl(epollFD, op, fd, &event)
        if result != 0 && op == EPOLL_CTL_MOD && errno == ENOENT {
            // The number was registered for a descriptor since closed: this one is new.
            op = EPOLL_CTL_ADD
            result = epoll_ctl(epollFD, op, fd, &event)
        }
        if result != 0 {
            state.registered.remove(fd)
            return false
        }
        return true
    }

    func wake(_ fd: Int32) {
        let waiter = state.withLock { state -> Waiter? in
            if let waiter = state.waiters.removeValue(forKey: fd) { return waiter }
            state.pendingWakes.insert(fd)
            return nil
        }
        waiter?.continuation.resume(returning: .ready)
    }

    func forget(_ fd: Int32) {
        let waiter = state.withLock { state -> Waiter? in
            state.pendingWakes.remove(fd)
            if state.registered.remove(fd) != nil {
                _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
            }
            return state.waiters.removeValue(forKey: fd)
        }
        waiter?.continuation.resume(returning: .ready)
    }

    /// Ends the thread (or closes the descriptors, when it never started).
    func close() {
        let started = state.withLock { state in
            state.closed = true
            return state.threadStarted
        }
        if started {
            signalThread()
        } else {
            Glibc.close(epollFD)
            Glibc.close(eventFD)
        }
    }

    private func signalThread() {
        var one: UInt64 = 1
        _ = write(eventFD, &one, 8)
    }

    private func loop() {
        let capacity = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer {
            events.deallocate()
            Glibc.close(epollFD)
            Glibc.close(eventFD)
        }
        let clock = ContinuousClock()
        var ready: [(Waiter, PollOutcome)] = []
        while true {
            let timeout = state.withLock { state -> Int32? in
                if state.closed { return nil }
                while let first = state.deadlines.min, state.waiters[first.fd]?.token != first.token {
                    _ = state.deadlines.removeMin()  // its wait ended another way
                }
                state.sleepingUntil = state.deadlines.min?.instant
                guard let until = state.sleepingUntil else { return -1 }
                return Int32(clamping: milliseconds(until - clock.now))
            }
            guard let timeout else { return }
            let count = epoll_wait(epollFD, events, Int32(capacity), timeout)
            let now = clock.now
            state.withLock { state in
                for index in 0..<Int(max(count, 0)) {
                    let fd = events[index].data.fd
                    if fd == eventFD {
                        var drained: UInt64 = 0
                        _ = read(eventFD, &drained, 8)
                        continue
                    }
                    if let waiter = state.waiters.removeValue(forKey: fd) { ready.append((waiter, .ready)) }
                }
                while let first = state.deadlines.min, first.instant <= now {
                    _ = state.deadlines.removeMin()
                    if state.waiters[first.fd]?.token == first.token {
                        ready.append((state.waiters.removeValue(forKey: first.fd)!, .timedOut))
                    }
                }
                state.sleepingUntil = nil
            }
            for (waiter, outcome) in ready { waiter.continuation.resume(returning: outcome) }
            ready.removeAll(keepingCapacity: true)
        }
    }

    /// Whole milliseconds, rounded up (a wait must not wake before its deadline), at least 0.
    private func milliseconds(_ duration: Duration) -> Int {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        guard seconds < 1_000_000 else { return Int(Int32.max) }
        return Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}
