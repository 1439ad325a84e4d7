import Synchronization

/// A run's emergency stop: cancellation without the grace.
///
/// Cancelling a run stops every host gracefully (each command is asked to end and given
/// ``RunOptions/terminationGrace``). Triggering the emergency stop of the run — for a second ^C —
/// ends every session of that run at once; other runs in the process are not touched. Give each run
/// its own (``RunOptions/emergencyStop``).
public final class EmergencyStop: Sendable {
    private struct State {
        var triggered = false
        var nextKey = 0
        var handlers: [Int: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    /// An emergency stop not yet triggered.
    public init() {}

    /// Whether ``trigger()`` was called.
    public var isTriggered: Bool { state.withLock { $0.triggered } }

    /// Ends every session registered now or later at once.
    public func trigger() {
        // The handlers run under the lock, so that none runs after its session deregistered.
        state.withLock { state in
            guard !state.triggered else { return }
            state.triggered = true
            for handler in state.handlers.values { handler() }
            state.handlers = [:]
        }
    }

    /// Runs `body` with `kill` registered: a trigger while `body` runs calls `kill` (at once when
    /// triggered already). `kill` must be safe to call for as long as `body` runs, and is never
    /// called after `body` returns.
    func whileRegistered<Result>(_ kill: @escaping @Sendable () -> Void, _ body: () async -> Result) async -> Result {
        let key = state.withLock { state -> Int? in
            guard !state.triggered else { return nil }
            state.nextKey += 1
            state.handlers[state.nextKey] = kill
            return state.nextKey
        }
        if key == nil { kill() }
        defer { if let key { _ = state.withLock { $0.handlers.removeValue(forKey: key) } } }
        return await body()
    }
}
