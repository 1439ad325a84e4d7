import Glibc

/// Runs `body` on a thread of its own (detached): for test peers that block in `accept` or `read`,
/// which must not hold a thread of the tests' pool.
public func startThread(_ body: @escaping @Sendable () -> Void) {
    final class Box: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(
        &thread, nil,
        { context in
            Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, box)
    precondition(created == 0, "pthread_create: \(created)")
    pthread_detach(thread)
}
