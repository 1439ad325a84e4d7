#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The process groups of every child passh has running, so that an emergency stop (a second ^C)
/// can kill them all at once, and tests can check that none is left.
enum ChildProcesses {
    private static let groups = Mutex<Set<pid_t>>([])

    static func insert(_ pid: pid_t) { _ = groups.withLock { $0.insert(pid) } }

    static func remove(_ pid: pid_t) { _ = groups.withLock { $0.remove(pid) } }

    static var count: Int { groups.withLock { $0.count } }

    /// Sends `signal` to every running child's process group.
    static func signalAll(_ signal: Int32) {
        for pid in groups.withLock({ $0 }) {
            _ = kill(-pid, signal)
        }
    }
}
