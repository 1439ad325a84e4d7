/// How one host's run ended.
///
/// A non-zero exit is data, not an error: passh reports it here and goes on with the other hosts.
public enum HostOutcome: Sendable, Hashable {
    /// `ssh` exited with this status: the remote command's status, or 255 for ssh's own errors
    /// (refused connection, failed authentication, unknown host key…).
    case exited(Int32)
    /// The local `ssh` process was killed by this signal.
    case signaled(Int32)
    /// `ssh` could not be started (the reason says why, e.g. no such executable).
    case failedToStart(String)
    /// The per-host command timeout expired; the host's `ssh` was torn down.
    case timedOut
    /// The run was cancelled (by the caller, a signal, or fail-fast) before this host finished,
    /// or before it started.
    case cancelled

    /// `true` only for `.exited(0)`.
    public var isSuccess: Bool { self == .exited(0) }

    /// The short status word used in summaries and JSON: `ok`, `failed`, `timeout` or `cancelled`.
    public var status: String {
        switch self {
        case .exited(0): "ok"
        case .exited, .signaled, .failedToStart: "failed"
        case .timedOut: "timeout"
        case .cancelled: "cancelled"
        }
    }
}

extension HostOutcome: CustomStringConvertible {
    /// `ok`, `failed: exit 3`, `failed: killed by SIGTERM`, `failed: <reason>`, `timeout`, `cancelled`;
    /// an exit status from 129 to 159 names the signal a remote shell reports that way.
    public var description: String {
        switch self {
        case .exited(0): "ok"
        case .exited(let code) where (129...159).contains(code):
            "failed: exit \(code) (128 + \(signalName(code - 128)): a remote shell reporting a killed command)"
        case .exited(let code): "failed: exit \(code)"
        case .signaled(let signal): "failed: killed by \(signalName(signal))"
        case .failedToStart(let reason): "failed: \(reason)"
        case .timedOut: "timeout"
        case .cancelled: "cancelled"
        }
    }
}

/// `SIGINT`, `SIGTERM`… for a signal number; `signal N` for one without a common name.
public func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
        9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
        17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 24: "SIGXCPU",
        25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 31: "SIGSYS",
    ]
    return names[signal] ?? "signal \(signal)"
}

/// What happened on one host.
public struct HostResult: Sendable {
    /// The host.
    public let host: Host
    /// How its run ended.
    public let outcome: HostOutcome
    /// Time from starting its `ssh` to the end of its output; zero when it never started.
    public let duration: Duration
    /// Everything the host wrote to stdout, byte for byte, when ``RunOptions/collectOutput`` is set.
    public let stdout: [UInt8]?
    /// Everything the host wrote to stderr, byte for byte, when ``RunOptions/collectOutput`` is set.
    public let stderr: [UInt8]?
    /// The last line the host wrote to stderr, when it failed: for an `ssh` error (exit 255)
    /// this is ssh's own message, e.g. `ssh: connect to host … port 22: Connection refused`.
    public let errorMessage: String?

    /// Creates a result.
    public init(
        host: Host, outcome: HostOutcome, duration: Duration = .zero,
        stdout: [UInt8]? = nil, stderr: [UInt8]? = nil, errorMessage: String? = nil
    ) {
        self.host = host
        self.outcome = outcome
        self.duration = duration
        self.stdout = stdout
        self.stderr = stderr
        self.errorMessage = errorMessage
    }

    /// `true` when the host's `ssh` exited 0.
    public var isSuccess: Bool { outcome.isSuccess }
}
