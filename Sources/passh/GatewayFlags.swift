import ArgumentParser
import Passh

/// Running hosts through gateways: which gateways, the passh they run; and the hidden mode a root
/// starts on a gateway.
struct GatewayFlags: ParsableArguments {
    @Option(
        name: .customLong("gateway"),
        help: ArgumentHelp(
            "Run the hosts through these gateways (patterns and @groups allowed), split among them in contiguous blocks; each gateway runs passh for its block.",
            valueName: "GW[,GW...]"))
    var gateways: String?

    @Option(
        name: .customLong("gateway-passh"),
        help: ArgumentHelp(
            "The passh to run on the gateways: a path, or a name on their PATH (default: passh).", valueName: "PATH"))
    var gatewayPassh: String?

    @Flag(name: .customLong("gateway-serve"), help: .hidden)
    var serve = false

    /// Whether any flag of the group is given (the serve flag aside).
    var routes: Bool { gateways != nil }

    mutating func validate() throws {
        if let gateways, gateways.split(separator: ",").allSatisfy({ $0.allSatisfy(\.isWhitespace) }) {
            throw ValidationError("--gateway needs at least one gateway.")
        }
        if gatewayPassh != nil && gateways == nil {
            throw ValidationError("--gateway-passh goes with --gateway.")
        }
        if let gatewayPassh, gatewayPassh.isEmpty || gatewayPassh.hasPrefix("-") {
            throw ValidationError("--gateway-passh needs a path or a name, not '\(gatewayPassh)'.")
        }
    }

    /// The setup a gateway is sent: the ssh flags that apply to its hosts.
    static func setup(_ ssh: SSHFlags, user: String?) -> GatewaySetup {
        var setup = GatewaySetup()
        setup.transport = ssh.transportName
        setup.sshOptions = ssh.sshOptions
        setup.user = user
        setup.connectTimeout = ssh.connectTimeout
        setup.insecure = ssh.insecure
        return setup
    }

    /// The transport a gateway runs its hosts on, from the root's setup: as its own flags would make it.
    static func transport(for setup: GatewaySetup) throws(PasshError) -> any Transport {
        var words: [String] = []
        if let transport = setup.transport { words += ["--transport", transport] }
        for option in setup.sshOptions { words += ["-o", option] }
        if let timeout = setup.connectTimeout { words += ["-t", String(timeout)] }
        if setup.insecure { words.append("--insecure") }
        let flags: SSHFlags
        do {
            flags = try SSHFlags.parse(words)
        } catch {
            throw PasshError(.invalidOption, "the root's setup cannot be used: \(SSHFlags.message(for: error))")
        }
        return try flags.transport(defaultUser: setup.user)
    }
}
