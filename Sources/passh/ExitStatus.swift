import Passh
import SystemPackage

/// Why a run stopped early.
enum StopReason: Sendable, Equatable {
    /// SIGINT, SIGTERM or SIGHUP.
    case signal(Int32)
    /// Writing to stdout failed: the reader went away (`EPIPE`), or a full disk.
    case stdoutFailed
}

/// The exit status of a run: a function of its results and of what happened around them, nothing
/// else.
///
/// - a signal stopped the run: 128 + the signal, as a shell reports a killed process;
/// - stdout went away (`EPIPE`): 141, as a process killed by SIGPIPE;
/// - writing the output failed otherwise (a full disk), or `--failed-to` could not be written: 1,
///   as coreutils do;
/// - `--max-rc`: the largest remote exit status, 255 for a host without one (it failed before its
///   command ran, was killed by a signal or timed out) or whose output could not be written;
///   cancelled hosts do not count;
/// - otherwise 2 when any host failed (or its output could not be written), else 0.
struct ExitStatus {
    var results: [HostResult]
    var stoppedBy: StopReason?
    /// The error writing stdout or stderr hit, if any.
    var writeError: Errno?
    /// Hosts whose output could not be written to their files.
    var outputFailed: Set<Host> = []
    /// Whether a file passh was asked to write (`--failed-to`) could not be written.
    var fileError = false
    var maxRC = false

    /// The hosts that did not succeed, in order; not those a rollout did not start.
    var failedHosts: [Host] {
        results.filter { ($0.outcome != .notStarted && !$0.isSuccess) || outputFailed.contains($0.host) }.map(\.host)
    }

    var code: Int32 {
        if case .signal(let signal) = stoppedBy { return 128 + signal }
        if writeError == .brokenPipe || (stoppedBy == .stdoutFailed && writeError == nil) { return 141 }
        if writeError != nil { return 1 }
        let status: Int32
        if maxRC {
            status = results.reduce(0) { largest, result in
                if outputFailed.contains(result.host) { return 255 }
                switch result.outcome {
                case .exited(let code): return max(largest, code)
                case .signaled, .failed, .timedOut: return 255
                case .cancelled, .notStarted: return largest
                }
            }
        } else {
            status = failedHosts.isEmpty ? 0 : 2
        }
        return status == 0 && fileError ? 1 : status
    }
}
