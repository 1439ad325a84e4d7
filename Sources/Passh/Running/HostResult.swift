/// What happened on one host.
public struct HostResult: Sendable, Hashable {
    /// The host.
    public let host: Host
    /// How its run ended.
    public let outcome: HostOutcome
    /// Whether the host was started at all: `false` for a host the run stopped before starting
    /// (its outcome is then ``HostOutcome/cancelled``, or ``HostOutcome/notStarted`` when the
    /// rollout stopped).
    public let started: Bool
    /// How many times the host was tried: more than 1 when it could not be reached and
    /// ``Rollout/retries`` allowed another try; 0 when it never started.
    public let attempts: Int
    /// Time from starting the host to the end of its output; zero when it never started.
    public let duration: Duration
    /// Everything the host wrote to stdout, byte for byte, when ``RunOptions/collectOutput`` is set.
    public let stdout: [UInt8]?
    /// Everything the host wrote to stderr, byte for byte, when ``RunOptions/collectOutput`` is set.
    public let stderr: [UInt8]?
    /// Why the host failed, in one line: the last line it wrote to stderr (for an ssh error, ssh's
    /// own message), or else the failure's message. `nil` for a host that succeeded, timed out or
    /// was cancelled.
    public let errorMessage: String?
    /// For a copy or a gather: the files and bytes the host sent or received (`nil` for a command,
    /// and for a copy that did not succeed).
    public let transfer: TransferTotals?

    /// Creates a result.
    public init(
        host: Host, outcome: HostOutcome, started: Bool = true, duration: Duration = .zero,
        stdout: [UInt8]? = nil, stderr: [UInt8]? = nil, errorMessage: String? = nil, attempts: Int? = nil,
        transfer: TransferTotals? = nil
    ) {
        self.transfer = transfer
        self.host = host
        self.outcome = outcome
        self.started = started
        self.attempts = attempts ?? (started ? 1 : 0)
        self.duration = duration
        self.stdout = stdout
        self.stderr = stderr
        self.errorMessage = errorMessage
    }

    /// A host the run stopped before starting it: ``HostOutcome/cancelled`` when the run was
    /// cancelled, ``HostOutcome/notStarted`` when the rollout stopped.
    public static func unstarted(_ host: Host, outcome: HostOutcome = .cancelled) -> HostResult {
        HostResult(host: host, outcome: outcome, started: false)
    }

    /// `true` when the command exited 0.
    public var isSuccess: Bool { outcome.isSuccess }
}
