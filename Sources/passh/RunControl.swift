import Passh
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// Stops a run from the outside: a signal, or stdout failing (the reader went away, a full disk). The first reason wins; it
/// cancels the run's task, which tears every ssh down.
final class RunControl: Sendable {
    private struct State {
        var task: Task<[HostResult], any Error>?
        var reason: StopReason?
        /// A second signal came: the watcher ends the process, and nothing else may print.
        var exiting = false
    }

    private let state = Mutex(State())
    /// The run's emergency stop, triggered by a second signal.
    let emergencyStop = EmergencyStop()

    var reason: StopReason? { state.withLock { $0.reason } }

    func attach(_ task: Task<[HostResult], any Error>) {
        let cancelNow = state.withLock { state -> Bool in
            state.task = task
            return state.reason != nil
        }
        if cancelNow { task.cancel() }
    }

    /// Records `reason` (unless another came first) and cancels the run. Returns `false` when a
    /// reason was already recorded.
    @discardableResult
    func stop(_ reason: StopReason) -> Bool {
        let (task, first) = state.withLock { state -> (Task<[HostResult], any Error>?, Bool) in
            guard state.reason == nil else { return (nil, false) }
            state.reason = reason
            return (state.task, true)
        }
        task?.cancel()
        return first
    }

    /// Returns unless a second signal is ending the process; then waits for that end (the run it
    /// killed has returned, but its report would come after the last word).
    func waitUnlessExiting() async {
        while state.withLock({ $0.exiting }) {
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Watches SIGINT, SIGTERM and SIGHUP: the first stops the run gracefully (every ssh gets
    /// SIGTERM, then SIGKILL after a short grace); a second one kills every ssh at once and exits.
    func watch(_ signals: UnixSignalsSequence) async {
        var first: Int32?
        for await signal in signals {
            if let first {
                // Marked before the kill: the run then ends at once, and the report must not
                // race this message and the exit.
                state.withLock { $0.exiting = true }
                printError("passh: killed every process at once")
                emergencyStop.trigger()
                _exit(128 + first)
            }
            first = signal.rawValue
            stop(.signal(signal.rawValue))
        }
    }
}
