#if LIBSSH
import CPasshShims
#if canImport(Glibc)
import Glibc
#endif

/// An engine thread's `epoll` set: its wake pipe, and each session's socket armed for one event at a
/// time (`EPOLLONESHOT`), named by the session's number. The loop re-arms a session after each step,
/// with what it then wants — so a round costs what is ready, not what is open (`poll(2)` over 500
/// sockets a round, its interest rebuilt each time, cost most of a later command on 1000 kept
/// connections).
///
/// One event at a time also bounds the harm of a socket closed inside libssh while still registered
/// (a session that ended in its step): its registration fires at most once more, under a number the
/// loop no longer knows, and the loop forgets a session right after the step that ended it.
struct LibSSHReadiness: ~Copyable {
    private let epollFD: Int32
    private let wakeDescriptor: Int32
    /// The socket each armed session is registered with.
    private var registered: [Int: Int32] = [:]
    private let events: UnsafeMutablePointer<epoll_event>
    private static let capacity = 256
    private static let wakeNumber = UInt64.max

    /// A set that wakes on `wake` (a pipe the loop drains).
    init(wake: Int32) {
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epollFD >= 0, "epoll_create1 failed: errno \(errno)")
        wakeDescriptor = wake
        events = .allocate(capacity: Self.capacity)
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = Self.wakeNumber
        precondition(epoll_ctl(epollFD, EPOLL_CTL_ADD, wake, &event) == 0, "epoll_ctl failed: errno \(errno)")
    }

    deinit {
        close(epollFD)
        events.deallocate()
    }

    /// Arms session `id`'s socket for one of `interest` (`POLLIN`, `POLLOUT`); with no socket or no
    /// interest, the session is forgotten (a socket with nothing wanted is not watched at all, or a
    /// hang-up would wake the loop again and again).
    mutating func arm(_ id: Int, socket: Int32, for interest: Int16) {
        guard socket >= 0, interest != 0 else { return forget(id) }
        var event = epoll_event()
        event.events = UInt32(UInt16(bitPattern: interest)) | EPOLLONESHOT.rawValue
        event.data.u64 = UInt64(id)
        let previous = registered.updateValue(socket, forKey: id)
        if let previous, previous != socket { _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, previous, nil) }
        if previous == socket, epoll_ctl(epollFD, EPOLL_CTL_MOD, socket, &event) == 0 { return }
        // New, or the number now names another descriptor (the first one closed): added afresh.
        if epoll_ctl(epollFD, EPOLL_CTL_ADD, socket, &event) != 0 && errno == EEXIST {
            _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, socket, &event)
        }
    }

    /// Stops watching session `id` (before its socket closes, or right after the step that closed it).
    mutating func forget(_ id: Int) {
        guard let socket = registered.removeValue(forKey: id) else { return }
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, socket, nil)
    }

    /// Waits up to `timeout` milliseconds (0: only looks) and calls `ready` with the number of each
    /// session whose socket is ready (no longer armed until ``arm(_:socket:for:)``); `true` when the
    /// wake pipe was written.
    mutating func wait(timeout: Int32, _ ready: (Int) -> Void) -> Bool {
        let count = epoll_wait(epollFD, events, Int32(Self.capacity), timeout)
        var woken = false
        for index in 0..<Int(max(count, 0)) {
            let number = events[index].data.u64
            if number == Self.wakeNumber {
                woken = true
                continue
            }
            // One event per arming: the session is re-armed after its step, or forgotten.
            ready(Int(number))
        }
        return woken
    }
}
#endif
