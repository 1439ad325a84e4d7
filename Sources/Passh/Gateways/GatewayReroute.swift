/// A gateway that could not be reached before it ran anything, and where its hosts went instead.
public struct GatewayReroute: Sendable, Hashable {
    /// The gateway that could not be reached.
    public var gateway: Host
    /// Why (ssh's words).
    public var reason: String
    /// The gateway its hosts went through instead; `nil`: they were reached directly.
    public var replacement: Host?

    public init(gateway: Host, reason: String, replacement: Host?) {
        self.gateway = gateway
        self.reason = reason
        self.replacement = replacement
    }
}
