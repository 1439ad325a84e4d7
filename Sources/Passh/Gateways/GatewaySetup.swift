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

    /// A setup that asks nothing of the gateway beyond its defaults.
    public init() {}
}
