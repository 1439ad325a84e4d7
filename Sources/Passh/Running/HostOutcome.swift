/// How one host's run ended.
///
/// A non-zero exit is data, not an error: passh reports it here and goes on with the other hosts.
/// Each way of failing is its own case, so callers can switch on it; ``description`` words it.
public enum HostOutcome: Sendable, Hashable {
    /// The command exited with this status (the remote command's own status).
    case exited(Int32)
    /// The command was killed by this signal.
    case signaled(Signal)
    /// The command could not be run on the host: the transport could not start, connect,
    /// authenticate, or lost the connection (see ``HostFailure``).
    case failed(HostFailure)
    /// The per-host command timeout expired; the host was stopped.
    case timedOut
    /// The run was cancelled (by the caller, a signal, or fail-fast) before this host finished, or
    /// before it started (``HostResult/started`` tells which).
    case cancelled
    /// The host was never started because the rollout stopped first: a canary failed, or more
    /// hosts failed than the failure budget allows (``Rollout``).
    case notStarted

    /// `true` only for `.exited(0)`.
    public var isSuccess: Bool { self == .exited(0) }

    /// The short status used in summaries and JSON.
    public var status: HostStatus {
        switch self {
        case .exited(0): .ok
        case .exited, .signaled, .failed: .failed
        case .timedOut: .timeout
        case .cancelled: .cancelled
        case .notStarted: .notStarted
        }
    }
}

/// The short status of a host: what summaries count and JSON reports.
public enum HostStatus: String, Sendable, Hashable, CaseIterable {
    /// The command exited 0.
    case ok
    /// A non-zero exit, a signal, or a failure to run the command.
    case failed
    /// The command timeout expired.
    case timeout
    /// The run was cancelled before the host finished.
    case cancelled
    /// The rollout stopped before the host started (a failed canary, the failure budget).
    case notStarted = "not_started"
}

extension HostOutcome: CustomStringConvertible {
    /// `ok`, `failed: exit 3`, `failed: killed by SIGTERM`, `failed: connection refused: …`,
    /// `timeout`, `cancelled`; an exit status from 129 to 159 names the signal a remote shell
    /// reports that way.
    public var description: String {
        switch self {
        case .exited(0): "ok"
        case .exited(let code) where (129...159).contains(code):
            "failed: exit \(code) (128 + \(Signal(number: code - 128).name): a remote shell reporting a killed command)"
        case .exited(let code): "failed: exit \(code)"
        case .signaled(let signal): "failed: killed by \(signal.name)"
        case .failed(let failure): "failed: \(failure.message)"
        case .timedOut: "timeout"
        case .cancelled: "cancelled"
        case .notStarted: "not started"
        }
    }
}

/// A signal, by number and name. A remote host reports signals by name only (`TERM`); the number
/// is then the local one for that name, when there is one.
public struct Signal: Sendable, Hashable, CustomStringConvertible {
    /// The signal's number on this system, when known.
    public let number: Int32?
    /// The name with its `SIG` prefix: `SIGTERM`, or `signal N` for a number without a name.
    public let name: String

    /// The signal with this number.
    public init(number: Int32) {
        self.number = number
        self.name = Self.names[number] ?? "signal \(number)"
    }

    /// The signal with this name, with or without the `SIG` prefix (`TERM`, `SIGTERM`).
    public init(name: String) {
        let full = name.hasPrefix("SIG") ? name : "SIG" + name
        self.number = Self.numbers[full]
        self.name = self.number == nil && !Self.looksLikeName(name) ? "signal \(name)" : full
    }

    /// The name: `SIGTERM`.
    public var description: String { name }

    private static func looksLikeName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    private static let names: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
        9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
        17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 24: "SIGXCPU",
        25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 31: "SIGSYS",
    ]
    private static let numbers: [String: Int32] = Dictionary(uniqueKeysWithValues: names.map { ($1, $0) })
}

/// Why the command could not be run on a host: what went wrong before (or instead of) the command
/// running, in one vocabulary for every transport.
///
/// ``kind`` is for code that reacts (retry a refused connection, not a changed host key);
/// ``message`` is one line for people — the transport's own words where it has them (ssh's
/// `ssh: connect to host … port 22: Connection refused`).
public struct HostFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The program that reaches the host (`ssh`) could not be started; ``HostFailure/program``
        /// names it.
        case cannotStart = "cannot_start"
        /// The host refused the connection.
        case connectionRefused = "connection_refused"
        /// No connection within the connect timeout.
        case connectionTimedOut = "connection_timed_out"
        /// The host's name could not be resolved, or there is no route to it.
        case hostUnreachable = "host_unreachable"
        /// The host refused every way of logging in that was offered.
        case authenticationRefused = "authentication_refused"
        /// The host's key is not in known_hosts (and checking is on).
        case hostKeyUnknown = "host_key_unknown"
        /// known_hosts holds a different key for the host: it may be an impostor.
        case hostKeyChanged = "host_key_changed"
        /// The connection broke after it was made.
        case connectionLost = "connection_lost"
        /// The gateway that ran the host (``GatewayRoutes``) could not be reached, or was lost
        /// before the host finished.
        case gatewayLost = "gateway_lost"
        /// Anything else the transport reported.
        case other
    }

    /// What went wrong.
    public let kind: Kind
    /// One line saying so.
    public let message: String
    /// For ``Kind/cannotStart``: the program that could not be started.
    public let program: String?
    /// Whether the command may have started before the failure. `false` for failures to connect
    /// and to log in, and for a connection lost during the handshake: such a host can be tried
    /// again (``Rollout/retries``) without running its command twice.
    public let commandMayHaveRun: Bool

    /// A failure of `kind`, worded `message`. `commandMayHaveRun` defaults to `true` for a lost
    /// connection and other failures, `false` for the rest.
    public init(_ kind: Kind, _ message: String, program: String? = nil, commandMayHaveRun: Bool? = nil) {
        self.kind = kind
        self.message = message
        self.program = program
        self.commandMayHaveRun =
            commandMayHaveRun ?? (kind == .connectionLost || kind == .gatewayLost || kind == .other)
    }

    /// The message.
    public var description: String { message }
}
