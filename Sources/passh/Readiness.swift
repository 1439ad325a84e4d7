import Dispatch
import Synchronization

/// Waits until `fd` has something to read — data, or its end — or the calling task is cancelled:
/// `true` when it is readable, `false` when cancelled. For reads the command-line tool makes before
/// a run (stdin to spool, a FIFO with no writer yet, the terminal asked for a password), which a
/// signal must be able to interrupt: the read that follows does not block.
///
/// It returns only once its dispatch source is cancelled and done with `fd`, so the caller may
/// close `fd` right after.
func waitReadable(_ fd: Int32) async -> Bool {
    let state = Mutex<(source: (any DispatchSourceRead)?, readable: Bool)>((nil, false))
    return await withTaskCancellationHandler {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: .global())
            source.setEventHandler {
                state.withLock { state in
                    state.readable = true
                    state.source?.cancel()
                }
            }
            source.setCancelHandler {
                continuation.resume(
                    returning: state.withLock { state in
                        state.source = nil
                        return state.readable
                    })
            }
            state.withLock { $0.source = source }
            source.resume()
            if Task.isCancelled { state.withLock { $0.source?.cancel() } }
        }
    } onCancel: {
        state.withLock { $0.source?.cancel() }
    }
}
