#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Open files, the resource a wide fanout runs out of first: each host holds up to six
/// descriptors while it starts (its stdin, two pipes, the process's pidfd) and three while it
/// runs. With the usual soft limit of 1024, 500 hosts at once would fail with "Too many open files".
public enum OpenFileLimit {
    /// Descriptors a host may hold at once.
    static let perHost = 6
    /// Descriptors kept free for everything else (the writer, the poller, files the caller opens).
    static let reserve = 64

    /// Raises this process's soft limit on open files to its hard limit; returns the soft limit
    /// in force afterwards.
    @discardableResult
    public static func raise() -> Int {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > UInt(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// The soft limit on open files now.
    public static var current: Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_cur > UInt(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// How many hosts can run at once with the descriptors this process has left.
    public static var hostCapacity: Int {
        let open = openDescriptorCount()
        return Swift.max(1, (current - open - reserve) / perHost)
    }

    /// The number of descriptors open now (the entries of `/proc/self/fd`).
    static func openDescriptorCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 16 }
        defer { closedir(directory) }
        var count = -1  // the directory's own descriptor
        while readdir(directory) != nil { count += 1 }
        return Swift.max(0, count - 2)  // "." and ".."
    }
}
