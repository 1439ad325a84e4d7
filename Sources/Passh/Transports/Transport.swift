public import SystemPackage

/// How a host's session ended, as the transport saw it.
public enum Termination: Sendable, Hashable {
    /// The command exited with this status.
    case exited(Int32)
    /// The command was killed by this signal.
    case signaled(Signal)
    /// The command could not be run: the transport could not start, connect or log in, or lost
    /// the connection.
    case failed(HostFailure)
    /// The session was stopped because the calling task was cancelled.
    case cancelled
}

/// What a transport needs to know to run one host's session: a narrow view of ``RunOptions``.
public struct SessionOptions: Sendable {
    /// A regular file every host gets as its stdin, whole; `nil`: stdin is empty.
    public var stdinFile: FilePath?
    /// Bytes the command's stdin starts with, ahead of the stdin file (a sudo password, say).
    /// Transports send them on stdin only — never in an argument list or the environment — and
    /// never with a ``terminal``, which would echo them.
    public var stdinPreamble: [UInt8] = []
    /// How long a stopped session's command gets to end after being asked to (SIGTERM) before it
    /// is killed.
    public var terminationGrace: Duration = .milliseconds(500)
    /// Lines longer than this are passed on in pieces of this size.
    public var maximumLineLength: Int = 16 << 20
    /// Stdout is data, not text (a gather's tar stream): it may be handed on as it arrives, in
    /// pieces of at most ``maximumLineLength`` bytes cut anywhere, without looking for line ends;
    /// a transport reading it from a pipe makes that pipe large (up to ``binaryPipeSize``).
    public var binaryStdout: Bool = false
    /// The size asked for a pipe carrying binary stdout (the system may cap it).
    public static let binaryPipeSize = 1 << 20
    /// The run's emergency stop: once triggered, sessions are killed at once, without the grace.
    public var emergencyStop: EmergencyStop?
    /// Ask the host for a terminal (a pseudo-terminal) for the command: its stderr then comes
    /// merged into stdout, with `\r\n` line ends. Transports that run no remote shell ignore it.
    public var terminal: Bool = false
    /// A descriptor (a pipe's read end) given to the session as its stdin, as it is, instead of a
    /// file: a gateway's control stream, written while the session runs. The session takes a
    /// duplicate; the caller keeps and closes its own. Only transports that spawn a process honour it.
    var stdinStream: Int32?

    /// Options with the defaults above.
    public init() {}

    /// Runs `body`, a session, registered with the run's ``emergencyStop`` (when it has one): once
    /// triggered, `kill` is called — once, never after `body` returns — and must end the session
    /// at once without blocking. For custom transports: the ones built in do the same.
    public func whileEmergencyStopRegistered<Result>(
        kill: @escaping @Sendable () -> Void, _ body: () async -> Result
    ) async -> Result {
        guard let emergencyStop else { return await body() }
        return await emergencyStop.whileRegistered(kill: kill, body)
    }
}

/// Runs a command on one host: the seam between the runner and a way of reaching hosts.
///
/// A transport streams the host's output, in whole lines, to `output`, and returns when the
/// session is over and its output read. Every way a host can end is a ``Termination``: a
/// transport never throws.
///
/// When the calling task is cancelled, the transport stops the session — asks the command to end,
/// waits at most ``SessionOptions/terminationGrace``, then ends it for good — and returns
/// ``Termination/cancelled`` (unless the command had already exited 0). When
/// ``SessionOptions/emergencyStop`` is triggered, it ends the session at once: run the session in
/// ``SessionOptions/whileEmergencyStopRegistered(kill:_:)``.
///
/// The command's stdin is ``SessionStdin``: the ``SessionOptions/stdinPreamble`` (a sudo password)
/// first, then the stdin file. A transport that cannot send stdin (one with no input channel)
/// should fail a host whose options have either, rather than drop them.
public protocol Transport: Sendable {
    /// Runs `command` on `host`.
    ///
    /// - Parameters:
    ///   - command: The command's words; joined with spaces for the remote shell, as `ssh` does.
    ///   - host: The host.
    ///   - options: What the session needs: stdin, teardown grace, line limit.
    ///   - output: Called with each chunk of whole lines; the next read waits until it returns.
    func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination

    /// The open file descriptors one running host holds at most, with or without a stdin file:
    /// the runner never starts more hosts at once than the process's open-file limit allows. No
    /// default: a transport counts what it holds (a process costs its pipes and its pidfd, a
    /// connection its socket).
    func descriptorsPerHost(sendingStdin: Bool) -> Int

    /// The same for a run on `hosts`, for a transport whose cost depends on the host
    /// (``AutoTransport``); by default ``descriptorsPerHost(sendingStdin:)``.
    func descriptorsPerHost(sendingStdin: Bool, on hosts: [Host]) -> Int

    /// The name of the transport that reaches `host` — `openssh`, `libssh`, `local` — as the JSON
    /// Lines `started` event says it; `nil` when the transport does not say.
    func transportName(for host: Host) -> String?
}

extension Transport {
    /// ``descriptorsPerHost(sendingStdin:)``, whatever the hosts.
    public func descriptorsPerHost(sendingStdin: Bool, on hosts: [Host]) -> Int {
        descriptorsPerHost(sendingStdin: sendingStdin)
    }

    /// `nil`: the transport does not say.
    public func transportName(for host: Host) -> String? { nil }
}
