import ArgumentParser
import Passh
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

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
        name: .customLong("topology"),
        help: ArgumentHelp(
            "Route the hosts as FILE says (lines \"GATEWAYS: TARGETS\"; default: $XDG_CONFIG_HOME/passh/topology when it exists).",
            valueName: "FILE"))
    var topology: String?

    @Flag(
        name: .customLong("direct"),
        help: "Reach every host directly: ignore the topology file.")
    var direct = false

    @Option(
        name: .customLong("gateway-passh"),
        help: ArgumentHelp(
            "The passh to run on the gateways: a path, or a name on their PATH (default: passh).", valueName: "PATH"))
    var gatewayPassh: String?

    @Flag(
        name: .customLong("push-passh"),
        help:
            "When a gateway has no passh of this release, copy this passh to ~/.cache/passh/VERSION/passh there (checksum verified), then use it."
    )
    var pushPassh = false

    @Flag(name: .customLong("gateway-serve"), help: .hidden)
    var serve = false

    /// `--push-passh`: this passh (the binary of this process), its checksum found once.
    static func push() async throws(PasshError) -> GatewayPush {
        try await GatewayPush(binary: FilePath("/proc/\(getpid())/exe"))
    }

    /// Whether a flag routes hosts through gateways (`--gateway`, `--topology`).
    var routes: Bool { gateways != nil || topology != nil }

    /// The flag that routes hosts, for messages.
    var routingFlag: String { gateways != nil ? "--gateway" : "--topology" }

    /// The default topology file: `topology` in the configuration directory.
    static var defaultTopology: FilePath { FilePath(HostFlags.configDirectory() + "/topology") }

    mutating func validate() throws {
        if let gateways, gateways.split(separator: ",").allSatisfy({ $0.allSatisfy(\.isWhitespace) }) {
            throw ValidationError("--gateway needs at least one gateway.")
        }
        if gateways != nil && topology != nil {
            throw ValidationError("--gateway and --topology cannot be used together: give the gateways one way.")
        }
        if direct && routes {
            throw ValidationError("--direct cannot be used with \(routingFlag): it reaches every host directly.")
        }
        if let topology, topology.isEmpty { throw ValidationError("--topology needs a file.") }
        if gatewayPassh != nil && (direct || (!routes && !Self.exists(Self.defaultTopology))) {
            throw ValidationError("--gateway-passh goes with --gateway, --topology or a topology file.")
        }
        if pushPassh && (direct || (!routes && !Self.exists(Self.defaultTopology))) {
            throw ValidationError("--push-passh goes with --gateway, --topology or a topology file.")
        }
        if let gatewayPassh, gatewayPassh.isEmpty || gatewayPassh.hasPrefix("-") {
            throw ValidationError("--gateway-passh needs a path or a name, not '\(gatewayPassh)'.")
        }
    }

    /// The topology to route the hosts by: `--topology`'s file, else the default file when it
    /// exists and neither `--gateway` nor `--direct` is given; `nil`: none.
    func topologyFile() throws(PasshError) -> GatewayTopology? {
        if let topology { return try GatewayTopology(contentsOf: FilePath(topology)) }
        guard gateways == nil, !direct, Self.exists(Self.defaultTopology) else { return nil }
        return try GatewayTopology(contentsOf: Self.defaultTopology)
    }

    /// Whether something is at `path` (a dangling link counts, and fails when read).
    static func exists(_ path: FilePath) -> Bool {
        var info = stat()
        return lstat(path.string, &info) == 0
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
        return try flags.transport(defaultUser: setup.user, maximumHandshakes: setup.maximumHandshakes)
    }
}
