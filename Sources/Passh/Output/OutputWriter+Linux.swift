import Glibc
import SystemPackage

/// Blocks the writer thread until `fd` (a non-blocking stdout, say) can take more.
func waitUntilWritable(_ fd: FileDescriptor) {
    var waiting = pollfd(fd: fd.rawValue, events: Int16(POLLOUT), revents: 0)
    _ = poll(&waiting, 1, -1)
}

/// Runs `body` on a new detached thread (it ends when `body` returns).
func startDetachedThread(_ body: @escaping @Sendable () -> Void) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body))
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, box.toOpaque())
    precondition(rc == 0, "pthread_create failed: \(rc)")
    pthread_detach(thread)
}
