#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` holding the lock file `/tmp/passh-NAME.lock`, so that the tests of every test process
/// on this machine that share one remote thing (the test cluster's account's files, a faillock
/// tally) take turns — two suites run at once from two checkouts. The wait never blocks a thread
/// of the pool; after `within` the body runs anyway, and fails then if it must.
public func withMachineLock<T>(
    _ name: String, within: Duration = .seconds(600), _ body: () async throws -> T
) async throws -> T {
    let lock = open("/tmp/passh-\(name).lock", O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
    defer { if lock >= 0 { close(lock) } }
    let deadline = ContinuousClock.now + within
    while lock >= 0, flock(lock, LOCK_EX | LOCK_NB) != 0, errno == EWOULDBLOCK, ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await body()
}
