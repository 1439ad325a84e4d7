/// Reaches each host through its gateway's link when it has one, else with the direct transport.
///
/// A host whose gateway could not be reached (``GatewayLink/unreachableReason``) goes through the
/// next gateway of its route that can be, else directly; ``rerouted`` is told once for each
/// gateway and where its hosts went.
struct RoutedTransport: Transport {
    let direct: any Transport
    /// Each routed host's gateway.
    let routes: [Host: Host]
    /// The gateways of each routed host's route, in order (absent: its gateway alone).
    let routeGateways: [Host: [Host]]
    /// A link for each gateway of every route.
    let links: [Host: GatewayLink]
    let rerouted: (@Sendable (GatewayReroute) -> Void)?

    func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        guard let first = routes[host], var link = links[first] else {
            return await direct.run(command, on: host, options: options, output: output)
        }
        let route = routeGateways[host] ?? [first]
        while true {
            let termination = await link.run(command, on: host, options: options, output: output)
            guard case .failed(let failure) = termination, failure.kind == .gatewayLost, !failure.commandMayHaveRun,
                let reason = link.unreachableReason, !Task.isCancelled
            else { return termination }
            // The next gateway of the route after this one that is not known to be unreachable.
            let start = route.firstIndex(of: link.gateway) ?? 0
            let next = (1..<max(route.count, 1)).lazy.map { route[(start + $0) % route.count] }.first { gateway in
                links[gateway].map { $0.unreachableReason == nil } ?? false
            }
            if link.firstReroute(to: next) {
                rerouted?(GatewayReroute(gateway: link.gateway, reason: reason, replacement: next))
            }
            guard let next, let nextLink = links[next] else {
                return await direct.run(command, on: host, options: options, output: output)
            }
            link = nextLink
        }
    }

    func descriptorsPerHost(sendingStdin: Bool) -> Int { direct.descriptorsPerHost(sendingStdin: sendingStdin) }

    func descriptorsPerHost(sendingStdin: Bool, on hosts: [Host]) -> Int {
        let direct = hosts.filter { routes[$0] == nil }
        // A host through a gateway holds nothing of its own here (unless its gateways cannot be
        // reached: then it is counted as one that is).
        return direct.isEmpty ? 1 : self.direct.descriptorsPerHost(sendingStdin: sendingStdin, on: direct)
    }

    /// The direct transport's name; `nil` for a host through a gateway (the gateway chooses).
    func transportName(for host: Host) -> String? {
        routes[host] == nil ? direct.transportName(for: host) : nil
    }
}
