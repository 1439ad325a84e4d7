/// How a host's process ended, as the transport saw it.
public enum Termination: Sendable, Hashable {
    /// The process exited with this status.
    case exited(Int32)
    /// The process was killed by this signal.
    case signaled(Int32)
    /// The process could not be started; the text says why.
    case failedToStart(String)
}

/// Runs a command on one host: the seam between the runner and a way of reaching hosts.
///
/// A transport streams the host's output, in whole lines, to `output` and returns when the host's
/// process is gone and its output read. When the calling task is cancelled it tears the process
/// down (SIGTERM to its process group, ``RunOptions/terminationGrace``, SIGKILL) and returns.
/// A transport never throws: every way a host can fail is a ``Termination``.
public protocol Transport: Sendable {
    /// Runs `command` on `host`.
    ///
    /// - Parameters:
    ///   - command: The command's words; joined with spaces for the remote shell, as `ssh` does.
    ///   - host: The host.
    ///   - options: The run's options (stdin file, teardown grace, line limit).
    ///   - output: Called with each chunk of whole lines; the next read waits until it returns.
    func run(
        _ command: [String], on host: Host, options: RunOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination

    /// Why a host failed when it said nothing on stderr, for ``HostResult/errorMessage``; `nil`
    /// when the transport has nothing to add.
    func explainSilentFailure(_ termination: Termination) -> String?
}

extension Transport {
    /// Why a host failed when it said nothing on stderr: `nil` (nothing to add) unless a transport
    /// knows better.
    public func explainSilentFailure(_ termination: Termination) -> String? { nil }
}
