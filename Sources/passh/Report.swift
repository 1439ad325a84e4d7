import Passh

/// What passh says on stderr once the hosts' output is out: why each failed host failed (when
/// the host did not say so itself), advice about host keys, `failed at: HOSTS`, and what an
/// interruption left unfinished.
struct Report {
    var results: [HostResult]
    var stoppedBy: StopReason?
    /// The hosts that did not succeed (``ExitStatus/failedHosts``).
    var failedHosts: [Host]
    /// Hosts that wrote to stderr: a failure they explained themselves is not explained again.
    var wroteToStderr: Set<Host> = []
    /// Whether to explain each failed host (not in JSON mode, where the objects carry it).
    var explainHosts = true
    /// The command timeout, to say what a timeout was.
    var commandTimeout: Duration?
    /// Whether the hosts were reached with a plain OpenSSH `ssh`, whose silent exit 255 needs
    /// explaining, and which cannot stop remote commands.
    var openSSH = true
    /// The hosts that were not (the auto transport took them to libssh).
    var notOverOpenSSH: Set<Host> = []
    /// The rollout, to say why hosts were not started.
    var rollout = Rollout()
    /// For `--copy`: the directory on the hosts, to warn where a stopped copy left partial files.
    var pushDestination: String?

    /// Said once, when hosts reached with a plain `ssh` were stopped.
    static let remoteCommandsMayRunOn =
        "passh: ssh cannot stop a remote command: those of the stopped hosts may still run (--stop-remote or --persist stops them)"

    var lines: [String] {
        var lines: [String] = []
        let interrupted: Int32?
        if case .signal(let signal) = stoppedBy { interrupted = signal } else { interrupted = nil }
        if explainHosts {
            for result in results where result.started {
                if let why = explanation(of: result, interrupted: interrupted != nil) {
                    lines.append("[\(result.host.name)] passh: \(why)")
                }
            }
            let notStarted = results.filter { !$0.started }.map(\.host.name)
            if interrupted == nil, !notStarted.isEmpty {
                lines.append(
                    "passh: not started: " + HostFolding.fold(notStarted) + (whyNotStarted.map { " (\($0))" } ?? ""))
            }
        }
        lines += hostKeyAdvice
        if let pushDestination {
            // The remote tar ends when its input does, and keeps what it had written: a file cut
            // short is left in place.
            let stopped = results.filter { result in
                switch result.outcome {
                case .timedOut, .cancelled, .signaled: result.started
                case .failed(let failure): failure.commandMayHaveRun
                default: false
                }
            }.map(\.host.name)
            if !stopped.isEmpty {
                lines.append(
                    "passh: the copy was stopped on \(HostFolding.fold(stopped)): \(pushDestination) there may hold "
                        + "partial files")
            }
        }
        if let interrupted {
            let failed = failedHosts.filter { host in results.first { $0.host == host }?.outcome != .cancelled }
            if !failed.isEmpty { lines.append("failed at: " + failed.map(\.name).joined(separator: " ")) }
            lines.append(
                "passh: interrupted by \(Signal(number: interrupted).name); did not finish: "
                    + results.filter { $0.outcome == .cancelled }.map(\.host.name).joined(separator: " "))
        } else if !failedHosts.isEmpty {
            lines.append("failed at: " + failedHosts.map(\.name).joined(separator: " "))
        }
        if openSSH,
            results.contains(where: {
                $0.started && ($0.outcome == .timedOut || $0.outcome == .cancelled)
                    && !notOverOpenSSH.contains($0.host)
            })
        {
            lines.append(Self.remoteCommandsMayRunOn)
        }
        return lines
    }

    /// Why a rollout stopped before starting every host; `nil` when it did not.
    private var whyNotStarted: String? {
        guard results.contains(where: { $0.outcome == .notStarted }) else { return nil }
        let canaries = results.prefix(rollout.canaries)
        let failedCanaries = canaries.filter { !$0.isSuccess }.map(\.host.name)
        if !failedCanaries.isEmpty {
            return "canar\(failedCanaries.count == 1 ? "y" : "ies") \(failedCanaries.joined(separator: " ")) failed"
        }
        let failures = results.filter { $0.started && !$0.isSuccess }.count
        let budget = rollout.maxFailures.map { "--max-failures \($0)" } ?? "the failure budget"
        return "\(failures) host\(failures == 1 ? "" : "s") failed, more than \(budget) allows"
    }

    /// Why `result` failed, when nothing the host printed says so; `nil` for a success.
    private func explanation(of result: HostResult, interrupted: Bool) -> String? {
        switch result.outcome {
        case .exited(0): return nil
        case .timedOut:
            return "timed out" + (commandTimeout.map { " after " + String(compactSeconds: $0) } ?? "")
        case .notStarted:
            return nil
        case .cancelled:
            return interrupted ? nil : "cancelled"
        case _ where wroteToStderr.contains(result.host):
            return nil
        case .failed(let failure):
            return failure.message
        case .exited(255) where openSSH && !notOverOpenSSH.contains(result.host):
            return "failed: exit 255 without a message: ssh's status for its own errors; here the remote command "
                + "was probably killed by a signal"
        case .exited, .signaled:
            return result.outcome.description
        }
    }

    /// What to do about unknown and changed host keys: one line for each, naming the hosts.
    private var hostKeyAdvice: [String] {
        func hosts(_ kind: HostFailure.Kind) -> [Host] {
            results.filter { if case .failed(let failure) = $0.outcome { failure.kind == kind } else { false } }.map(
                \.host)
        }
        var lines: [String] = []
        let unknown = hosts(.hostKeyUnknown)
        if unknown.count == 1, let host = unknown.first {
            lines.append(
                "passh: the host key of \(host.hostname) is not known: check its fingerprint, then add it to "
                    + "known_hosts (ssh-keyscan \(host.hostname) >> ~/.ssh/known_hosts), or skip the check with --insecure"
            )
        } else if unknown.count > 1 {
            lines.append(
                "passh: the host keys of \(HostFolding.fold(unknown.map(\.hostname))) are not known: check their "
                    + "fingerprints, then add them to known_hosts (ssh-keyscan HOST >> ~/.ssh/known_hosts), or skip the "
                    + "check with --insecure")
        }
        let changed = hosts(.hostKeyChanged)
        if !changed.isEmpty {
            let names = HostFolding.fold(changed.map(\.hostname))
            let one = changed.count == 1
            lines.append(
                "passh: the host key\(one ? "" : "s") of \(names) \(one ? "has" : "have") changed: if that was "
                    + "expected, remove the old key\(one ? "" : "s") (ssh-keygen -R \(one ? names : "HOST")) and connect again; "
                    + "if not, someone may be posing as \(one ? "the host" : "them")")
        }
        return lines
    }
}

extension String {
    /// `2 s`, `0.5 s`, `1.25 s`: a duration in seconds, without trailing zeros.
    init(compactSeconds duration: Duration) {
        let milliseconds = Int(duration / .milliseconds(1))
        var text = "\(milliseconds / 1000)"
        if milliseconds % 1000 != 0 {
            var fraction = String(milliseconds % 1000)
            fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        self = text + " s"
    }
}
