/// A number of hosts, given outright or as a share of the run's hosts.
public enum HostCount: Sendable, Hashable, CustomStringConvertible {
    /// Exactly this many hosts.
    case hosts(Int)
    /// This percentage of the run's hosts (1 to 100).
    case percent(Int)

    /// Reads `12` or `25%`; `nil` for anything else (negative numbers, a percentage outside 1…100).
    public init?(parsing text: String) {
        if text.hasSuffix("%") {
            guard let value = Int(text.dropLast()), (1...100).contains(value) else { return nil }
            self = .percent(value)
        } else {
            guard let value = Int(text), value >= 0 else { return nil }
            self = .hosts(value)
        }
    }

    /// How many of `total` hosts this is; a percentage is rounded up (10% of 15 hosts is 2).
    /// Computed without overflow for any `total`.
    public func of(_ total: Int) -> Int {
        switch self {
        case .hosts(let count):
            return count
        case .percent(let share):
            // total × share / 100, rounded up, as (q × 100 + r) × share / 100 with total = q × 100 + r.
            let share = Swift.min(Swift.max(share, 0), 100)
            let total = Swift.max(total, 0)
            return total / 100 * share + (total % 100 * share + 99) / 100
        }
    }

    public var description: String {
        switch self {
        case .hosts(let count): String(count)
        case .percent(let share): "\(share)%"
        }
    }
}

/// How a run rolls out across its hosts: canaries first, then waves, a failure budget, and retries
/// of hosts that could not be reached.
public struct Rollout: Sendable, Hashable {
    /// The first this many hosts (in the order given) run alone first; the rest start only when
    /// every one of them succeeded, and are reported ``HostOutcome/notStarted`` otherwise.
    public var canaries: Int = 0
    /// The hosts after the canaries run in consecutive batches (waves) of this size: a batch
    /// starts when the previous one has finished. `nil`: one batch. The fanout still caps each
    /// batch.
    public var batch: HostCount?
    /// Once more hosts than this have failed, no more are started (running ones finish; the rest
    /// are reported ``HostOutcome/notStarted``). `nil`: no budget.
    public var maxFailures: HostCount?
    /// A host that could not be reached — refused, timed out, unreachable, or cut off before its
    /// command could start (``HostFailure/commandMayHaveRun`` is `false`) — is tried again up to
    /// this many times. A host whose command ran, whose login or host key failed, or that was
    /// stopped, never is.
    public var retries: Int = 0
    /// The wait before the first retry; each later one waits twice as long, give or take a
    /// quarter (jitter, so that hosts that failed together do not come back together).
    public var retryDelay: Duration = .seconds(1)

    /// A rollout that runs every host in one wave, once.
    public init() {}

    /// A rollout: `canaries` first, then batches of `batch`, at most `maxFailures` failed hosts,
    /// each unreachable host tried again up to `retries` times, `retryDelay` apart (doubling).
    public init(
        canaries: Int = 0, batch: HostCount? = nil, maxFailures: HostCount? = nil, retries: Int = 0,
        retryDelay: Duration = .seconds(1)
    ) {
        self.canaries = canaries
        self.batch = batch
        self.maxFailures = maxFailures
        self.retries = retries
        self.retryDelay = retryDelay
    }

    /// The former name of ``batch``.
    @available(*, deprecated, renamed: "batch")
    public var waveSize: HostCount? {
        get { batch }
        set { batch = newValue }
    }

    /// The former name of ``maxFailures``.
    @available(*, deprecated, renamed: "maxFailures")
    public var maximumFailures: HostCount? {
        get { maxFailures }
        set { maxFailures = newValue }
    }

    /// The host indices of each wave, canaries first.
    func waves(count: Int) -> [Range<Int>] {
        var waves: [Range<Int>] = []
        let canaryEnd = Swift.max(0, Swift.min(canaries, count))
        if canaryEnd > 0 { waves.append(0..<canaryEnd) }
        let rest = count - canaryEnd
        let size = Swift.max(1, batch?.of(rest) ?? rest)
        var start = canaryEnd
        while start < count {
            let end = start + Swift.min(size, count - start)  // start + size may not fit in an Int
            waves.append(start..<end)
            start = end
        }
        return waves
    }

    /// The wait before retry number `attempt` (1 for the first retry).
    func delay(beforeRetry attempt: Int) -> Duration {
        let base = retryDelay * (1 << Swift.min(attempt - 1, 20))
        return base * Double.random(in: 0.75...1.25)
    }
}

extension HostResult {
    /// Whether the host could not be reached and may be tried again: its command cannot have run.
    var mayBeRetried: Bool {
        guard case .failed(let failure) = outcome, !failure.commandMayHaveRun else { return false }
        switch failure.kind {
        case .connectionRefused, .connectionTimedOut, .hostUnreachable, .connectionLost, .gatewayLost: return true
        case .cannotStart, .authenticationRefused, .hostKeyUnknown, .hostKeyChanged, .other: return false
        }
    }
}
