/// Which hosts a run reaches through which gateway, and how the gateways are reached.
///
/// A gateway runs passh (the same release) in its gateway mode, started over ssh by the root
/// (OpenSSH, with ``ssh``); it reaches its hosts with its own configuration and ``setup``, and
/// streams their events back. Output, results and failures are the same as a run that reaches
/// the hosts itself; a gateway that cannot be reached or is lost fails its hosts with
/// ``HostFailure/Kind/gatewayLost``.
public struct GatewayRoutes: Sendable {
    /// The gateway of each host reached through one; the others are reached directly.
    public var routes: [Host: Host]
    /// The gateways of each routed host's route, in order, its own among them: when its gateway
    /// cannot be reached (it refused the connection, the authentication or the handshake, before
    /// any host was sent to it), the host goes through the next of them that can be, else
    /// directly. A routed host absent here has its gateway alone.
    public var routeGateways: [Host: [Host]] = [:]
    /// Told once for each gateway that could not be reached and where its hosts went instead.
    public var rerouted: (@Sendable (GatewayReroute) -> Void)?
    /// A passh to copy to a gateway whose own cannot be started or is another release (see
    /// ``GatewayPush``); `nil`: such a gateway's hosts fail.
    public var push: GatewayPush?
    /// Told once for each gateway ``push`` was copied to.
    public var pushed: (@Sendable (Host) -> Void)?
    /// The command that starts passh's gateway mode on a gateway: the passh there, its flag.
    public var command: [String]
    /// How the root reaches the gateways.
    public var ssh: OpenSSHOptions
    /// What the gateways are told about reaching their hosts.
    public var setup: GatewaySetup

    /// Routes `routes` through gateways running `passh` (a path, or a name on their `PATH`).
    public init(
        routes: [Host: Host], passh: String = "passh", ssh: OpenSSHOptions = OpenSSHOptions(),
        setup: GatewaySetup = GatewaySetup()
    ) {
        self.routes = routes
        self.command = [passh, "--gateway-serve"]
        self.ssh = ssh
        self.setup = setup
    }

    /// Routes as ``GatewayTopology/assign(_:groups:)`` or ``assignment(of:through:)`` make them.
    public init(
        _ assignment: Assignment, passh: String = "passh", ssh: OpenSSHOptions = OpenSSHOptions(),
        setup: GatewaySetup = GatewaySetup()
    ) {
        self.init(routes: assignment.routes, passh: passh, ssh: ssh, setup: setup)
        self.routeGateways = assignment.gateways
    }

    /// Each routed host's gateway, and the gateways of its route.
    public struct Assignment: Sendable {
        public var routes: [Host: Host] = [:]
        public var gateways: [Host: [Host]] = [:]

        public init(routes: [Host: Host] = [:], gateways: [Host: [Host]] = [:]) {
            self.routes = routes
            self.gateways = gateways
        }
    }

    /// ``blocks(of:through:)``, each routed host's route being all of `gateways`.
    public static func assignment(of hosts: [Host], through gateways: [Host]) -> Assignment {
        let routes = blocks(of: hosts, through: gateways)
        return Assignment(routes: routes, gateways: routes.mapValues { _ in gateways })
    }

    /// `hosts` split among `gateways` in contiguous blocks of the list, as even as can be (the
    /// first blocks one host larger); a host that is itself one of the gateways is reached
    /// directly.
    public static func blocks(of hosts: [Host], through gateways: [Host]) -> [Host: Host] {
        guard !gateways.isEmpty else { return [:] }
        let direct = Set(gateways)
        let routed = hosts.filter { !direct.contains($0) }
        var routes: [Host: Host] = [:]
        routes.reserveCapacity(routed.count)
        let base = routed.count / gateways.count
        let extra = routed.count % gateways.count
        var index = 0
        for (number, gateway) in gateways.enumerated() {
            let size = base + (number < extra ? 1 : 0)
            for host in routed[index..<index + size] { routes[host] = gateway }
            index += size
        }
        return routes
    }
}
