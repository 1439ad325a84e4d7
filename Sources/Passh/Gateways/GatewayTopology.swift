public import SystemPackage

/// Which gateways reach which hosts: lines `GATEWAYS: TARGETS`, as ClusterShell's topology file
/// writes its routes.
///
/// ```
/// # ~/.config/passh/topology
/// [routes]
/// head[1-2]: node[001-200]
/// bastion: @dmz
/// ```
///
/// Each side is a comma-separated list of patterns and `@groups`. A host goes through the
/// gateways of the first line that names it (its name, or its host name without a user or
/// port), the hosts of a line split among its gateways in contiguous blocks of the host list; a
/// host that no line names, or that is a gateway of any line, is reached directly (two levels:
/// a ClusterShell line `admin: head[1-2]` routes nothing). A `#` starts a comment; blank lines
/// and a `[routes]` section line are ignored. A bad line is refused naming the file and line
/// (`topology:3: expected "GATEWAYS: TARGETS"`).
///
/// The file must be owned by the user and writable by no one else: whoever can write it chooses
/// where passh connects.
public struct GatewayTopology: Sendable {
    /// One line: its gateways and its targets, as written, and where it was written.
    public struct Route: Sendable, Hashable {
        public var gateways: String
        public var targets: String
        /// `FILE:LINE`, for errors; `nil` for a route made in code.
        public var origin: String?

        public init(gateways: String, targets: String, origin: String? = nil) {
            self.gateways = gateways
            self.targets = targets
            self.origin = origin
        }
    }

    /// The routes, in order: the first that names a host wins.
    public var routes: [Route]

    public init(routes: [Route]) {
        self.routes = routes
    }

    /// Reads and checks the file (the patterns are checked by ``assign(_:groups:)``).
    ///
    /// - Throws: ``PasshError``: ``PasshError/Code/unreadableFile`` for a missing, unreadable or
    ///   not private file; ``PasshError/Code/invalidPattern`` for a bad line.
    public init(contentsOf path: FilePath) throws(PasshError) {
        let bytes = try PrivateFile.read(path)
        var routes: [Route] = []
        for (line, text) in try HostList.hostFileLines(bytes, path: path) {
            let location = "\(path.string):\(line)"
            if text.lowercased() == "[routes]" { continue }
            guard let colon = text.firstIndex(of: ":") else {
                throw PasshError(.invalidPattern, "\(location): expected \"GATEWAYS: TARGETS\"")
            }
            let gateways = text[..<colon].trimmingBlanks()
            let targets = text[text.index(after: colon)...].trimmingBlanks()
            guard !gateways.isEmpty, !targets.isEmpty else {
                throw PasshError(
                    .invalidPattern,
                    "\(location): expected \"GATEWAYS: TARGETS\" (\(gateways.isEmpty ? "no gateways" : "no targets"))")
            }
            routes.append(Route(gateways: String(gateways), targets: String(targets), origin: location))
        }
        self.routes = routes
    }

    /// The route of each of `hosts`: its gateway, and the gateways of its line in order (where its
    /// hosts go when their gateway cannot be reached).
    ///
    /// - Throws: ``PasshError``: a pattern or group a line cannot expand, or a line that names no
    ///   gateway, the error naming the line.
    public func assign(_ hosts: [Host], groups: HostGroups = HostGroups()) async throws(PasshError)
        -> GatewayRoutes
        .Assignment
    {
        var expanded: [(gateways: [Host], targets: Set<String>)] = []
        var allGateways = Set<String>()
        for route in routes {
            func located(_ error: PasshError) -> PasshError {
                guard let origin = route.origin else { return error }
                return PasshError(error.code, "\(origin): \(error.message)")
            }
            var gateways = HostList(groups: groups)
            var targets = HostList(groups: groups)
            do throws(PasshError) {
                try await gateways.add(route.gateways)
                try await targets.add(route.targets)
            } catch {
                throw located(error)
            }
            guard !gateways.hosts.isEmpty else {
                throw located(PasshError(.invalidPattern, "no gateways in \(quoted(route.gateways))"))
            }
            expanded.append((gateways.hosts, Set(targets.names)))
            for gateway in gateways.hosts { allGateways.insert(gateway.name) }
        }
        var blocks: [[Host]] = Array(repeating: [], count: expanded.count)
        for host in hosts where !allGateways.contains(host.name) && !allGateways.contains(host.hostname) {
            guard
                let line = expanded.firstIndex(where: {
                    $0.targets.contains(host.name) || $0.targets.contains(host.hostname)
                })
            else { continue }
            blocks[line].append(host)
        }
        var assignment = GatewayRoutes.Assignment()
        for (line, block) in blocks.enumerated() where !block.isEmpty {
            let gateways = expanded[line].gateways
            for (host, gateway) in GatewayRoutes.blocks(of: block, through: gateways) {
                assignment.routes[host] = gateway
                assignment.gateways[host] = gateways
            }
        }
        return assignment
    }
}
