import Passh
import PasshTestSupport
import SystemPackage
import Testing

/// The library through gateways: the same results and events as the tool's.
@Suite("The library through gateways", .needsTestCluster)
struct GatewayLibraryTests {
    /// Runs `h1` and `h2` through `gw1`, whose passh is `gatewayPassh`.
    func passh(gatewayPassh: String) throws -> ParallelSSH {
        var ssh = OpenSSHOptions()
        ssh.configFile = FilePath(TestCluster.gatewayConfig)
        var passh = ParallelSSH(options: RunOptions(), ssh: ssh)
        passh.gateways = GatewayRoutes(
            GatewayRoutes.assignment(of: try ParallelSSH.hosts(["h1", "h2"]), through: [try Host("gw1")]),
            passh: gatewayPassh, ssh: ssh)
        return passh
    }

    @Test func withEventsGoesThroughTheGateways() async throws {
        let log = temporaryPath("gw-log")
        let wrapper = try TopologyCLITests.loggingPassh(log)
        defer { shell("rm -f \(log) \(wrapper)") }
        let passh = try passh(gatewayPassh: wrapper)
        let lines = try await passh.withEvents(["echo hi"], on: ["h1", "h2", "h3"]) { events in
            var lines: [String] = []
            for try await event in events {
                if case .line(let line) = event { lines.append("\(line.host.name) \(line.text)") }
            }
            return lines.sorted()
        }
        #expect(lines == ["h1 hi", "h2 hi", "h3 hi"])
        #expect(TopologyCLITests.hostsRun(log) == ["h1", "h2"])
    }
}
