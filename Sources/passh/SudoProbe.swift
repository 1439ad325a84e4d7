import Passh

/// Whether `--sudo` needs its password: `sudo -n true` on the first hosts that answer.
///
/// A host that cannot be reached says nothing about sudo (issue 22, item 12: the first host alone
/// used to decide, and a first host down meant "asks for a password"), so the first hosts are
/// asked eight at a time, and the first eight that answer decide: when the sudo of any of them
/// asks for a password (any exit but 0), the password is needed; when all of them run sudo without
/// one (exit 0: a `NOPASSWD` rule), it is not. Hosts not reached are passed over; when none of the
/// first 32 answers, nothing is known. Every host of a batch is waited for, so that the answer
/// does not depend on which host answers first.
struct SudoProbe {
    /// What the hosts that answered say.
    enum Answer: Equatable {
        /// The first host that answered runs sudo without a password.
        case noPassword
        /// This host's sudo asks for a password (or refuses).
        case needsPassword(Host)
        /// No host answered.
        case unknown
    }

    /// How many hosts are asked at once, and at most in all.
    static let hostsAtOnce = 8
    static let hostsInAll = 32

    let transport: any Transport
    let options: RunOptions
    /// The run's routes: a host behind a gateway is asked through it.
    var gateways: GatewayRoutes?

    /// Asks the first hosts of `hosts`, a few at a time, until one answers.
    func answer(for hosts: [Host]) async -> Answer {
        var probe = RunOptions()
        probe.commandTimeout = options.commandTimeout
        probe.terminationGrace = options.terminationGrace
        probe.emergencyStop = options.emergencyStop
        probe.fanout = Self.hostsAtOnce
        var passh = ParallelSSH(options: probe, transport: transport)
        passh.gateways = gateways
        passh.gateways?.rerouted = nil  // the run says it
        var start = 0
        let end = Swift.min(hosts.count, Self.hostsInAll)
        while start < end {
            let batch = Array(hosts[start..<Swift.min(end, start + Self.hostsAtOnce)])
            start += batch.count
            guard let results = try? await passh.run(["sudo", "-n", "true"], on: batch) else { return .unknown }
            var answered = false
            for result in results {
                guard case .exited(let code) = result.outcome else { continue }
                if code != 0 { return .needsPassword(result.host) }
                answered = true
            }
            if answered { return .noPassword }
        }
        return .unknown
    }
}
