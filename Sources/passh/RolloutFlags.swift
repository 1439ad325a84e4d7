import ArgumentParser
import Passh

/// Canaries, waves, a failure budget and retries: how a change rolls out across the hosts.
struct RolloutFlags: ParsableArguments {
    @Option(
        name: .customLong("canary"), parsing: .unconditional,
        help: ArgumentHelp(
            "Run the first N hosts alone first; go on to the rest only if all of them succeed.", valueName: "N"))
    var canaries: Int?

    @Option(
        name: .customLong("batch"), parsing: .unconditional,
        help: ArgumentHelp(
            "Run the hosts in waves of SIZE (a count, or a percentage such as 10%); a wave starts when the previous one has finished.",
            valueName: "SIZE"))
    var batch: String?

    @Option(
        name: .customLong("max-failures"), parsing: .unconditional,
        help: ArgumentHelp(
            "Once more than N hosts (a count or a percentage) have failed, start no more; running hosts finish.",
            valueName: "N"))
    var maxFailures: String?

    @Option(
        name: .customLong("retry"), parsing: .unconditional,
        help: ArgumentHelp(
            "Try a host whose connection failed (refused, timed out, unreachable, cut before its command started) up to N more times.",
            valueName: "N"))
    var retries: Int?

    @Option(
        name: .customLong("retry-delay"), parsing: .unconditional,
        help: ArgumentHelp(
            "Wait SECONDS before the first retry (default 1), twice as long before each next one, give or take a quarter.",
            valueName: "SECONDS"))
    var retryDelay: Double?

    /// The largest number of retries: beyond it, the doubling delays last for ever.
    static let maximumRetries = 20

    mutating func validate() throws {
        if let canaries, canaries < 1 {
            throw ValidationError("--canary must be a number of hosts, 1 or more, not \(canaries).")
        }
        if let batch {
            guard let size = HostCount(parsing: batch), size != .hosts(0) else {
                throw ValidationError(
                    "--batch must be a number of hosts (1 or more) or a percentage (1% to 100%), not \(batch).")
            }
        }
        if let maxFailures, HostCount(parsing: maxFailures) == nil {
            throw ValidationError(
                "--max-failures must be a number of hosts (0 or more) or a percentage (1% to 100%), not \(maxFailures)."
            )
        }
        if let retries, !(0...Self.maximumRetries).contains(retries) {
            throw ValidationError(
                "--retry must be a number of retries from 0 to \(Self.maximumRetries), not \(retries).")
        }
        if let retryDelay {
            if retries == nil { throw ValidationError("--retry-delay needs --retry.") }
            if !(retryDelay >= 0) || !(retryDelay <= 3600) {
                throw ValidationError("--retry-delay must be a number of seconds from 0 to 3600, not \(retryDelay).")
            }
        }
    }

    var rollout: Rollout {
        var rollout = Rollout()
        rollout.canaries = canaries ?? 0
        rollout.batch = batch.flatMap(HostCount.init(parsing:))
        rollout.maxFailures = maxFailures.flatMap(HostCount.init(parsing:))
        rollout.retries = retries ?? 0
        if let retryDelay { rollout.retryDelay = .milliseconds(Int64((retryDelay * 1000).rounded())) }
        return rollout
    }
}
