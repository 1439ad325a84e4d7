import Passh
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// What stops the command-line tool from the outside, and the task tree that carries it out
/// (``supervise(_:)``): everything after parsing — resolving the hosts, the sudo check, spooling
/// stdin, making the copy archive, the run — is one child task, beside one that watches SIGINT,
/// SIGTERM and SIGHUP.
///
/// The first signal, or stdout failing (the reader went away, a full disk), cancels the work: every
/// wait in it ends, every host is stopped gracefully (TERM, the grace, KILL), and it returns. A
/// second signal escalates, as service-lifecycle's graceful shutdown escalates to cancellation:
/// the run's emergency stop kills every session at once. No task is stored, nothing polls, and the
/// process ends when the work has returned — never with `_exit`. Stopped by a signal, it then ends
/// by that signal, as a program that cleans up on ^C should: its shell sees the interruption (a
/// script stops on ^C), and `$?` is 128 + the signal.
final class RunControl: Sendable {
    private struct State {
        var reason: StopReason?
        var firstSignal: Int32?
        var escalated = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
        /// Sees each signal first (the shell's): `true` when it took it.
        var interceptor: (@Sendable (_ signal: Int32, _ second: Bool) -> Bool)?
    }

    private let state = Mutex(State())
    /// The run's emergency stop, triggered by a second signal.
    let emergencyStop = EmergencyStop()

    /// The first reason to stop.
    var reason: StopReason? { state.withLock { $0.reason } }

    /// Whether a second signal killed everything at once: nothing more may be printed.
    var escalated: Bool { state.withLock { $0.escalated } }

    /// The exit status of work stopped before its run had results; `nil` while not stopped.
    var stoppedStatus: Int32? {
        reason.map { ExitStatus(results: [], stoppedBy: $0).code }
    }

    /// Records `reason` (unless another came first) and cancels the work. Returns `false` when a
    /// reason was already recorded.
    @discardableResult
    func stop(_ reason: StopReason) -> Bool {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
            guard state.reason == nil else { return nil }
            state.reason = reason
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume() }
        return true
    }

    /// Has `interceptor` see every signal first, with whether one came before: when it returns
    /// `true`, the signal is its own (the shell's ^C stops its command, not the shell).
    func intercept(_ interceptor: @escaping @Sendable (_ signal: Int32, _ second: Bool) -> Bool) {
        state.withLock { $0.interceptor = interceptor }
    }

    /// A signal came: the first stops the work; the second kills every session at once.
    func signalled(_ signal: Int32) {
        let (interceptor, second) = state.withLock { ($0.interceptor, $0.firstSignal != nil) }
        if let interceptor, interceptor(signal, second) { return }
        let escalate = state.withLock { state -> Bool in
            guard state.firstSignal != nil else {
                state.firstSignal = signal
                return false
            }
            guard !state.escalated else { return false }
            state.escalated = true
            return true
        }
        if escalate {
            printError("passh: killed every process at once")
            emergencyStop.trigger()
        } else {
            stop(.signal(signal))
        }
    }

    /// Returns once a reason to stop is recorded, or when the calling task is cancelled.
    private func stopped() async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.reason != nil || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Runs `work`, cancelled by the first reason to stop this control (``stop(_:)``,
    /// ``signalled(_:)``), and returns its status once it has returned.
    func stoppable(_ work: @escaping @Sendable () async -> Int32) async -> Int32 {
        await withTaskGroup(of: Int32?.self) { stoppable in
            stoppable.addTask { await work() }
            stoppable.addTask {
                await self.stopped()
                return nil
            }
            var status: Int32 = 1
            while let result = await stoppable.next() {
                stoppable.cancelAll()
                if let result {
                    status = result
                    break
                }
            }
            return status
        }
    }

    /// Runs `work` under a new control, with signals watched, and returns its exit status — or,
    /// when a signal stopped it, ends the process by that signal once `work` has returned.
    static func supervise(_ work: @escaping @Sendable (RunControl) async -> Int32) async -> Int32 {
        // A reader that goes away (`passh … | head -1`) must be an error passh handles, not a kill.
        signal(SIGPIPE, SIG_IGN)
        let control = RunControl()
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm, .sighup)
        let status = await withTaskGroup(of: Int32?.self) { group in
            group.addTask {
                for await signal in signals { control.signalled(signal.rawValue) }
                return nil
            }
            group.addTask {
                // The work, cancelled by the first reason to stop.
                await control.stoppable { await work(control) }
            }
            var status: Int32 = 1
            while let result = await group.next() {
                if let result {
                    status = result
                    break
                }
            }
            group.cancelAll()  // the signal watcher
            return status
        }
        if case .signal(let number)? = control.reason {
            // Its default action, on this thread (a pool thread blocks most signals).
            Glibc.signal(number, SIG_DFL)
            var only = sigset_t()
            sigemptyset(&only)
            sigaddset(&only, number)
            pthread_sigmask(SIG_UNBLOCK, &only, nil)
            raise(number)
        }
        return status
    }
}
