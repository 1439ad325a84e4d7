import PasshTestSupport
import SystemPackage
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// Topology files: their lines, their checks, and the routes they give a host list.
@Suite("Gateway topology")
struct GatewayTopologyTests {
    /// A topology file (mode 0600 unless told) holding `text`.
    func file(_ text: String, mode: mode_t = 0o600) throws -> FilePath {
        let path = temporaryPath("topology")
        try writeFile(path, Array(text.utf8))
        chmod(path, mode)
        return FilePath(path)
    }

    func names(_ assignment: GatewayRoutes.Assignment, _ hosts: [Host]) -> [String] {
        hosts.map { host in assignment.routes[host].map { "\(host.name) via \($0.name)" } ?? "\(host.name) direct" }
    }

    @Test func eachHostGoesThroughTheGatewaysOfTheFirstLineNamingIt() async throws {
        let path = try file(
            """
            [routes]
            # ClusterShell's first line: the root to its gateways (they are reached directly)
            admin: gw[1-3]
            gw[1-2]: h[1-5]   # split in blocks
            gw3: h[4-6],@extra
            """)
        defer { unlink(path.string) }
        let topology = try GatewayTopology(contentsOf: path)
        #expect(topology.routes.map(\.origin) == ["\(path):3", "\(path):4", "\(path):5"])
        let groups = HostGroups(sources: [("local", StaticGroupSource(["extra": "web1"]))])
        let hosts = try ParallelSSH.hosts(["h1", "root@h2", "h3", "h4:2222", "h5", "h6", "web1", "h9", "gw1"])
        let assignment = try await topology.assign(hosts, groups: groups)
        #expect(
            names(assignment, hosts) == [
                "h1 via gw1", "root@h2 via gw1", "h3 via gw1", "h4:2222 via gw2", "h5 via gw2", "h6 via gw3",
                "web1 via gw3", "h9 direct", "gw1 direct",
            ])
        let gateways = try ParallelSSH.hosts(["gw1", "gw2"])
        #expect(assignment.gateways[hosts[0]] == gateways)
        #expect(assignment.gateways[hosts[5]] == [try Host("gw3")])
    }

    @Test(arguments: [
        ("gw1: h1\ngw2 h2\n", ":2: expected \"GATEWAYS: TARGETS\""),
        ("gw1:\n", ":1: expected \"GATEWAYS: TARGETS\" (no targets)"),
        (": h1\n", ":1: expected \"GATEWAYS: TARGETS\" (no gateways)"),
    ])
    func badLinesAreNamed(text: String, message: String) throws {
        let path = try file(text)
        defer { unlink(path.string) }
        #expect(throws: PasshError(.invalidPattern, path.string + message)) { try GatewayTopology(contentsOf: path) }
    }

    @Test(arguments: [
        ("gw1: h1\ngw[1-: h2\n", ":2: invalid host pattern"),
        ("gw1: h1\n\ngw2: @nosuch\n", ":3: unknown group \"@nosuch\""),
    ])
    func badPatternsAreNamedWithTheirLine(text: String, message: String) async throws {
        let path = try file(text)
        defer { unlink(path.string) }
        let topology = try GatewayTopology(contentsOf: path)
        do {
            _ = try await topology.assign(try ParallelSSH.hosts(["h1"]))
            Issue.record("no error")
        } catch {
            #expect(error.message.hasPrefix(path.string + message))
        }
    }

    @Test func aFileOthersCanWriteIsRefused() throws {
        let path = try file("gw1: h1\n", mode: 0o620)
        defer { unlink(path.string) }
        #expect(
            throws: PasshError(
                .unreadableFile, "Not private: \(path.string) must be owned by you and writable by no one else")
        ) { try GatewayTopology(contentsOf: path) }
    }
}
