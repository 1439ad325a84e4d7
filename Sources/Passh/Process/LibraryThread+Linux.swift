import CPasshShims
import Glibc

/// Runs `body` on a new thread named `name` (it ends when `body` returns), with every signal
/// blocked: detached, or, when `joinable`, to be joined (``joinLibraryThread(_:)``) by its owner,
/// which then knows the thread is gone — its thread-local destructors (OpenSSL's) run too.
///
/// The library's own threads (the poller, the output writer, libssh's engine) take no signals, so
/// that a program embedding it decides alone which of its threads handle them — a program that
/// watches its signals with `signalfd` needs them blocked in every thread. (A dispatch source, as
/// passh's CLI uses, does not: libdispatch's handler passes a signal on to its own thread from
/// whichever thread took it.)
@discardableResult
package func startLibraryThread(
    named name: String, joinable: Bool = false, _ body: @escaping @Sendable () -> Void
) -> LibraryThreadHandle? {
    final class Box {
        let name: String
        let body: @Sendable () -> Void
        init(_ name: String, _ body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(name, body))
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, nil,
        { raw in
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            _ = passh_name_this_thread(String(box.name.prefix(15)))  // the kernel keeps 15 bytes
            box.body()
            return nil
        }, box.toOpaque())
    precondition(rc == 0, "pthread_create failed: \(rc)")
    guard joinable else {
        pthread_detach(thread)
        return nil
    }
    return LibraryThreadHandle(thread: thread)
}

/// A joinable library thread, joined once.
package struct LibraryThreadHandle: Sendable {
    fileprivate let thread: pthread_t
}

/// Waits until `handle`'s thread has ended, its thread-local destructors run (from that thread
/// itself: detaches it instead).
package func joinLibraryThread(_ handle: LibraryThreadHandle) {
    if pthread_equal(handle.thread, pthread_self()) != 0 {
        pthread_detach(handle.thread)
    } else {
        pthread_join(handle.thread, nil)
    }
}
