import Glibc

/// Open files, the resource a wide fanout runs out of first. With the usual soft limit of 1024,
/// 500 hosts at once, each holding a few pipes, would fail with "Too many open files".
public enum OpenFileLimit {
    /// Descriptors kept free for everything else (the writer, the poller, files the caller opens).
    static let reserve = 64

    /// The fewest descriptors a run needs: the process's own (stdio, the poller, swift-subprocess's
    /// threads) and one host's. Below it a host could run and then fail for want of a descriptor.
    public static let minimum = 32

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

    /// How many of `wanted` hosts can run at once when each holds `descriptorsPerHost`
    /// descriptors: all of them when the limit leaves ample room, else as many as the descriptors
    /// not yet open allow (at least one).
    public static func hostsAtOnce(_ wanted: Int, descriptorsPerHost: Int) -> Int {
        let limit = current
        let (need, overflow) = wanted.multipliedReportingOverflow(by: descriptorsPerHost)
        // The open descriptors are counted only when they could matter.
        if !overflow, need + 4 * reserve <= limit { return wanted }
        let free = limit - openDescriptorCount() - reserve
        return Swift.max(1, Swift.min(wanted, free / Swift.max(1, descriptorsPerHost)))
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
