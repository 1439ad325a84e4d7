/// The stop of one session, driven by deadlines: a request to end sends `TERM`, and
/// ``SessionOptions/terminationGrace`` later `KILL`; a request to end at once sends `KILL`; and a
/// command still not ended ``killWait`` after its `KILL` is given up on (the session ends, reported
/// cancelled). No timer runs: whoever drives the session waits at most until ``deadline`` and then
/// calls ``advance(now:)``.
///
/// The signals go out only once the channel can carry them (``signalToSend()``, asked once the
/// command was accepted); the deadlines run from the request, so a channel that never gets that far
/// is given up on all the same.
struct StopLadder: Sendable {
    /// Between `TERM` and `KILL`.
    let grace: Duration
    /// Between `KILL` and giving up.
    let killWait: Duration
    /// How far the stop goes now.
    private(set) var level = StopLevel.none
    /// The last signal sent.
    private(set) var sent = StopLevel.none
    private var killDue: ContinuousClock.Instant?
    private var giveUpAt: ContinuousClock.Instant?

    /// How long after its `KILL` a command that has not ended is given up on, by default.
    static let defaultKillWait: Duration = .seconds(1)

    init(grace: Duration, killWait: Duration = Self.defaultKillWait) {
        self.grace = grace
        self.killWait = killWait
    }

    /// Whether the session was asked to stop.
    var isStopping: Bool { level != .none }

    /// The next instant at which ``advance(now:)`` has something to do.
    var deadline: ContinuousClock.Instant? { killDue ?? giveUpAt }

    /// Whether the command had its time after its `KILL`: the session ends without waiting further.
    func hasGivenUp(now: ContinuousClock.Instant) -> Bool {
        giveUpAt.map { now >= $0 } ?? false
    }

    /// Takes a request to stop; a request never weakens an earlier one.
    mutating func request(_ requested: StopLevel, now: ContinuousClock.Instant) {
        guard requested > level else { return }
        level = requested
        if requested == .terminate {
            killDue = now + grace
        } else {
            killDue = nil
            giveUpAt = now + killWait
        }
    }

    /// Takes the time into account: the grace over, the stop becomes a `KILL`.
    mutating func advance(now: ContinuousClock.Instant) {
        if let killDue, now >= killDue { request(.kill, now: now) }
    }

    /// The signal the channel should carry now (`TERM` or `KILL`), once.
    mutating func signalToSend() -> String? {
        guard sent < level else { return nil }
        sent = level
        return level == .kill ? "KILL" : "TERM"
    }
}
