/// What a gateway needs to reach its share of the hosts: the options of its own transport, sent
/// to it once per run. The gateway reads its own ssh configuration; these add to it.
public struct GatewaySetup: Sendable, Hashable {
    /// The transport the gateway runs its hosts on: `auto`, `openssh` or `libssh`; `nil`: its
    /// default.
    public var transport: String?
    /// ssh options (`Key=Value`) for every host, as `ssh -o` takes them.
    public var sshOptions: [String] = []
    /// The user to log in as on hosts that do not name one.
    public var user: String?
    /// The connect timeout, in seconds; `nil`: the gateway's default.
    public var connectTimeout: Int?
    /// Host keys are not checked.
    public var insecure = false
    /// The most handshakes the gateway's native transport has in flight at once; `nil`: its
    /// default (128). A run through several gateways gives each an equal share of this (of 128 when
    /// `nil`), at least ``minimumHandshakes``: together they put no more connections in flight than
    /// one passh would, so one server (or one load balancer) behind them is not flooded.
    public var maximumHandshakes: Int?

    /// The least share of handshakes a gateway gets.
    public static let minimumHandshakes = 8
    /// The handshakes split among a run's gateways when ``maximumHandshakes`` is `nil` (the native
    /// transport's default).
    public static let defaultHandshakes = 128

    /// This setup for one of `gateways` gateways: its share of the handshakes.
    public func share(among gateways: Int) -> GatewaySetup {
        var share = self
        share.maximumHandshakes = max(
            Self.minimumHandshakes, (maximumHandshakes ?? Self.defaultHandshakes) / max(1, gateways))
        return share
    }

    /// A setup that asks nothing of the gateway beyond its defaults.
    public init() {}
}
