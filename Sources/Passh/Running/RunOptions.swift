public import SystemPackage

/// How a run behaves, whatever the transport.
public struct RunOptions: Sendable {
    /// At most this many hosts run at once; `0` means no limit. The default is 50, the original
    /// passh's command-line default. A run never starts more hosts at once than the open-file
    /// limit leaves room for.
    public var fanout: Int = 50
    /// A file every host gets as its stdin, whole (each host opens it on its own). `nil`: stdin is
    /// `/dev/null`, never the terminal.
    public var stdinFile: FilePath?
    /// Keep each host's stdout and stderr in its ``HostResult`` (in memory, byte for byte).
    public var collectOutput: Bool = false
    /// Stop at the first failed host: start no more hosts, tear down the running ones and report
    /// them (and the hosts never started) as ``HostOutcome/cancelled``.
    public var failFast: Bool = false
    /// A per-host time limit for the whole command; on expiry the host's process is torn down and
    /// the host reported ``HostOutcome/timedOut``. `nil`: no limit.
    public var commandTimeout: Duration?
    /// How long a torn-down process gets between SIGTERM (to its process group) and SIGKILL.
    public var terminationGrace: Duration = .milliseconds(500)
    /// Lines longer than this many bytes are passed on in pieces of this size, so that memory stays
    /// bounded whatever a host prints. Each piece but the last has ``OutputChunk/endsWithNewline``
    /// `false`.
    public var maximumLineLength: Int = 16 << 20

    /// Options with the defaults above.
    public init() {}

    /// Triggered, ends every session of the run at once, without ``terminationGrace``. Give each
    /// run its own; `nil`: the run can only be cancelled (gracefully).
    public var emergencyStop: EmergencyStop?
    /// Give each command a terminal on its host (a pseudo-terminal, as `ssh -tt` does): the command
    /// gets hang-up semantics, but its stderr is merged into stdout and lines end in `\r\n`.
    public var terminal: Bool = false
    /// Canaries, waves, a failure budget, retries; by default every host in one wave, once.
    public var rollout = Rollout()
    /// Run each command (or copy) as root through `sudo`; `nil`: as the login user.
    public var sudo: Sudo?

    /// What the transport needs of these options.
    public var session: SessionOptions {
        var session = SessionOptions()
        session.stdinFile = stdinFile
        session.terminationGrace = terminationGrace
        session.maximumLineLength = maximumLineLength
        session.emergencyStop = emergencyStop
        session.terminal = terminal
        session.stdinPreamble = sudo?.stdinPreamble ?? []
        return session
    }

    /// How many of `hostCount` hosts the fanout lets run at once (all of them for a fanout of 0),
    /// before the open-file limit is taken into account.
    public func requestedHostsAtOnce(of hostCount: Int) -> Int {
        fanout == 0 ? hostCount : Swift.min(fanout, hostCount)
    }
}
