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

    /// A copy and a gather through the routes: the same results (with what each host received or
    /// sent) as without them.
    @Test func copiesAndGathersGoThroughTheGateways() async throws {
        let log = temporaryPath("gw-log")
        let wrapper = try TopologyCLITests.loggingPassh(log)
        let source = CopyTests.makeSource(readableByAll: true)
        let destination = temporaryPath("gw-lib-copy")
        let gathered = temporaryPath("gw-lib-gather")
        defer { shell("rm -rf \(log) \(wrapper) '\(source)' '\(destination)' '\(gathered)'") }
        let passh = try passh(gatewayPassh: wrapper)
        let hosts = try ParallelSSH.hosts(["h1", "h2"])
        let copy = try await CopyOperation(paths: [source + "/tree"], destination: destination)
        let copied = try await passh.copy(copy, to: [hosts[0]])
        #expect(copied.map(\.outcome) == [.exited(0)])
        #expect(copied.first?.transfer == copy.totals)
        #expect(CopyTests.describe(destination + "/tree") == CopyTests.describe(source + "/tree"))
        let gather = try GatherOperation(paths: [source + "/single.txt"], destination: FilePath(gathered))
        let fetched = try await passh.gather(gather, from: hosts)
        #expect(fetched.map(\.outcome) == [.exited(0), .exited(0)])
        #expect(fetched.map { $0.transfer?.bytes } == [4, 4])
        #expect(readText(gathered + "/h1/single.txt") == "one\n")
        #expect(readText(gathered + "/h2/single.txt") == "one\n")
        #expect(TopologyCLITests.hostsRun(log) == ["h1", "h1", "h2"])
    }
}
