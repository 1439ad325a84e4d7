import Synchronization

/// A run's emergency stop: cancellation without the grace.
///
/// Cancelling a run stops every host gracefully (each command is asked to end and given
/// ``RunOptions/terminationGrace``). Triggering the emergency stop of the run — for a second ^C —
/// ends every session of that run at once; other runs in the process are not touched. Give each run
/// its own (``RunOptions/emergencyStop``).
///
/// ``trigger()`` never waits: each session is told at once (outside any lock another session
/// takes) and sends its kill on its own — a process is killed on the spot, a remote command is sent
/// `KILL` by the code that drives its channel. ``killsSent(within:)`` waits until every session
/// told has done so (or ended), for a program about to exit.
public final class EmergencyStop: Sendable {
    private struct State {
        var triggered = false
        var nextKey = 0
        var registrations: [Int: Registration] = [:]
        /// Sessions told to stop that have not yet said their kill went out.
        var unacknowledged: Set<Int> = []
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// An emergency stop not yet triggered.
    public init() {}

    /// Whether ``trigger()`` was called.
    public var isTriggered: Bool { state.withLock { $0.triggered } }

    /// Ends every session registered now or later at once. Returns without waiting for them.
    public func trigger() {
        let told = state.withLock { state -> [Registration] in
            guard !state.triggered else { return [] }
            state.triggered = true
            state.unacknowledged.formUnion(state.registrations.keys)
            return Array(state.registrations.values)
        }
        for registration in told { registration.fire() }
        acknowledged(nil)  // no session at all: settled already
    }

    /// Waits until every session the trigger told has sent its kill — or ended — but at most `limit`
    /// from now; `true` when they all did. Right away `true` when the stop was not triggered.
    public func killsSent(within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.settled() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// One session's part in the emergency stop.
    final class Registration: Sendable {
        fileprivate let key: Int
        private let stop: EmergencyStop
        private let kill: @Sendable (Registration) -> Void
        /// `active` until the session deregisters; `fired` once `kill` was called.
        private let state = Mutex((active: true, fired: false))

        fileprivate init(key: Int, stop: EmergencyStop, kill: @escaping @Sendable (Registration) -> Void) {
            self.key = key
            self.stop = stop
            self.kill = kill
        }

        /// The session's kill went out (a process signalled, a `KILL` request written).
        func acknowledge() {
            stop.acknowledged(key)
        }

        /// Calls the session's kill, once, unless the session has deregistered: under this
        /// registration's own lock, so that no kill runs after ``end()`` returned.
        fileprivate func fire() {
            state.withLock { state in
                guard state.active, !state.fired else { return }
                state.fired = true
                kill(self)
            }
        }

        fileprivate func end() {
            state.withLock { $0.active = false }
        }
    }

    /// Runs `body` — a session of a custom ``Transport`` — with `kill` registered: a trigger while
    /// `body` runs calls `kill` once (at once when triggered already); `kill` is never called after
    /// `body` returns.
    ///
    /// `kill` must not block: it sends the session's end (a signal to a process, a `KILL` request
    /// on a channel) and returns; ``killsSent(within:)`` counts the kill as sent when it returns.
    /// ``SessionOptions/whileEmergencyStopRegistered(kill:_:)`` does this for a session's options.
    public func whileRegistered<Result>(
        kill: @escaping @Sendable () -> Void, _ body: () async -> Result
    ) async -> Result {
        await whileRegistered(
            { registration in
                kill()
                registration.acknowledge()
            }, body)
    }

    /// Runs `body` with `kill` registered: a trigger while `body` runs calls `kill` (at once when
    /// triggered already), which must not block and must call ``Registration/acknowledge()`` once
    /// the kill went out (or leave it: the session's end acknowledges it). `kill` is never called
    /// after `body` returns.
    func whileRegistered<Result>(
        _ kill: @escaping @Sendable (Registration) -> Void, _ body: () async -> Result
    ) async -> Result {
        let (registration, fireNow) = state.withLock { state -> (Registration, Bool) in
            state.nextKey += 1
            let registration = Registration(key: state.nextKey, stop: self, kill: kill)
            state.registrations[state.nextKey] = registration
            if state.triggered { state.unacknowledged.insert(state.nextKey) }
            return (registration, state.triggered)
        }
        if fireNow { registration.fire() }
        defer {
            registration.end()
            state.withLock { _ = $0.registrations.removeValue(forKey: registration.key) }
            acknowledged(registration.key)
        }
        return await body()
    }

    /// Session `key` sent its kill or ended (`nil`: nobody in particular); wakes the waiters of
    /// ``killsSent(within:)`` once none is left.
    private func acknowledged(_ key: Int?) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if let key { state.unacknowledged.remove(key) }
            guard state.triggered, state.unacknowledged.isEmpty else { return [] }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once every session told has acknowledged; `false` when cancelled first.
    private func settled() async -> Bool {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if !state.triggered || state.unacknowledged.isEmpty || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
            return !Task.isCancelled && state.withLock { !$0.triggered || $0.unacknowledged.isEmpty }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
