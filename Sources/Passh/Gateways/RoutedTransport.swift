/// Reaches each host through its gateway's link when it has one, else with the direct transport.
struct RoutedTransport: Transport {
    let direct: any Transport
    let links: [Host: GatewayLink]

    func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        if let link = links[host] { return await link.run(command, on: host, options: options, output: output) }
        return await direct.run(command, on: host, options: options, output: output)
    }

    func descriptorsPerHost(sendingStdin: Bool) -> Int { direct.descriptorsPerHost(sendingStdin: sendingStdin) }

    func descriptorsPerHost(sendingStdin: Bool, on hosts: [Host]) -> Int {
        let direct = hosts.filter { links[$0] == nil }
        // A host through a gateway holds nothing of its own here.
        return direct.isEmpty ? 1 : self.direct.descriptorsPerHost(sendingStdin: sendingStdin, on: direct)
    }

    /// The direct transport's name; `nil` for a host through a gateway (the gateway chooses).
    func transportName(for host: Host) -> String? {
        links[host] == nil ? direct.transportName(for: host) : nil
    }
}
