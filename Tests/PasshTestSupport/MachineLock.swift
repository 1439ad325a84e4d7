#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` holding the lock file `/tmp/passh-NAME.lock`, so that the tests of every test process
/// on this machine that share one remote thing (the test cluster's account's files, a faillock
/// tally) take turns — two suites run at once from two checkouts. A thread of its own waits in a
/// blocking `flock`, never a thread of the pool; the wait ends when the lock is held, or when the
/// calling task is cancelled (the thread then lets the lock go as soon as it gets it).
public func withMachineLock<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
    let path = "/tmp/passh-\(name).lock"
    let (locked, locker) = AsyncStream.makeStream(of: Int32.self)
    startThread {
        var lock = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
        if lock >= 0, flock(lock, LOCK_EX) != 0 {
            close(lock)
            lock = -1
        }
        if case .terminated = locker.yield(lock), lock >= 0 { close(lock) }  // nobody waits any more
        locker.finish()
    }
    let lock = await locked.first { _ in true } ?? -1
    defer { if lock >= 0 { close(lock) } }
    try Task.checkCancellation()
    return try await body()
}
