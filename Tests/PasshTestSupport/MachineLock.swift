#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` holding the lock file `/tmp/passh-NAME.lock`, so that the tests of every test process
/// on this machine that share one remote thing (the test cluster's account's files, a faillock
/// tally) take turns — two suites run at once from two checkouts. A thread of its own waits in a
/// blocking `flock`, never a thread of the pool; after `within` the body runs anyway (and fails then
/// if it must), and the thread, once it gets the lock, lets it go at once.
public func withMachineLock<T>(
    _ name: String, within: Duration = .seconds(600), _ body: () async throws -> T
) async throws -> T {
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
    let lock: Int32 = await withTaskGroup(of: Int32?.self) { group in
        group.addTask { await locked.first { _ in true } }
        group.addTask {
            try? await Task.sleep(until: .now + within)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        var held = first ?? -1
        for await late in group {  // the lock arrived as the deadline passed: keep one descriptor only
            guard let late, late >= 0 else { continue }
            if held < 0 { held = late } else { close(late) }
        }
        return held
    }
    defer { if lock >= 0 { close(lock) } }
    return try await body()
}
