import CPasshShims
import Glibc
import Synchronization

/// Tells tasks when a pipe has something to read: one `epoll` instance and one thread for the
/// whole process.
///
/// Why passh reads its pipes itself instead of through swift-subprocess's output sequence: each
/// pending read there allocates and zero-fills a buffer of the pipe's size (64 KiB), so 1000
/// hosts waiting on stdout and stderr hold 128 MiB. Here a task waiting for data holds nothing;
/// the reader allocates a buffer only when the pipe is readable. Spawning, exit monitoring and
/// teardown stay with swift-subprocess.
///
/// Waits are one-shot (`EPOLLONESHOT`) and ignore task cancellation: a waiting reader is woken by
/// data, by end of file, or explicitly by ``wake(_:)`` (when its process has exited).
final class Poller: Sendable {
    static let shared = Poller()

    private struct State {
        var waiters: [Int32: CheckedContinuation<Void, Never>] = [:]
        var registered: Set<Int32> = []
        /// Descriptors woken while nobody waited: their next wait returns at once.
        var pendingWakes: Set<Int32> = []
    }

    private let epollFD: Int32
    private let state = Mutex(State())

    private init() {
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epollFD >= 0, "epoll_create1 failed: errno \(errno)")
        startLibraryThread(named: "passh-poller") { [self] in loop() }
    }

    /// Suspends until `fd` is readable (data or end of file), or until ``wake(_:)`` is called for it.
    func waitReadable(_ fd: Int32) async {
        await wait(fd, for: EPOLLIN.rawValue)
    }

    /// Suspends until `fd` is writable (or its reader is gone), or until ``wake(_:)`` is called for it.
    func waitWritable(_ fd: Int32) async {
        await wait(fd, for: EPOLLOUT.rawValue)
    }

    /// Suspends until `fd` is readable, or — when `orWritable` — writable, or until ``wake(_:)``
    /// is called for it: one task driving both directions of a socket.
    func waitReady(_ fd: Int32, orWritable: Bool) async {
        await wait(fd, for: EPOLLIN.rawValue | (orWritable ? EPOLLOUT.rawValue : 0))
    }

    private func wait(_ fd: Int32, for events: UInt32) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.pendingWakes.remove(fd) != nil { return true }
                state.waiters[fd] = continuation
                var event = epoll_event()
                event.events = events | EPOLLONESHOT.rawValue
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
                    // Not pollable (a regular file) or already closed: report it readable so the
                    // caller's read() tells what is there.
                    state.waiters[fd] = nil
                    return true
                }
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Wakes the task waiting on `fd`, or makes its next wait return at once.
    func wake(_ fd: Int32) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.removeValue(forKey: fd) { return waiter }
            state.pendingWakes.insert(fd)
            return nil
        }
        waiter?.resume()
    }

    /// Forgets `fd`; call before closing it.
    func deregister(_ fd: Int32) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.pendingWakes.remove(fd)
            if state.registered.remove(fd) != nil {
                _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
            }
            return state.waiters.removeValue(forKey: fd)
        }
        waiter?.resume()
    }

    private func loop() -> Never {
        let capacity = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        while true {
            let count = epoll_wait(epollFD, events, Int32(capacity), -1)
            if count < 0 { continue }  // EINTR
            for index in 0..<Int(count) {
                let fd = events[index].data.fd
                let waiter = state.withLock { $0.waiters.removeValue(forKey: fd) }
                waiter?.resume()
            }
        }
    }
}
