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

    /// A gateway lost in the middle of a gather: its hosts fail with `gatewayLost` (they may have
    /// run), the other gateway's hosts are gathered whole, and the lost gateway's hosts' commands
    /// are stopped.
    @Test(.timed) func aGatewayLostMidGatherFailsOnlyItsHosts() async throws {
        let marker = String(UInt32.random(in: 100_000_000...999_999_999))
        let work = temporaryPath("gw-lost-gather")
        defer { shell("rm -rf '\(work)'") }
        #expect(shell("mkdir -p '\(work)/src' && echo one > '\(work)/src/f' && chmod -R a+rwX '\(work)'").status == 0)
        var ssh = OpenSSHOptions()
        ssh.configFile = FilePath(TestCluster.gatewayConfig)
        var passh = ParallelSSH(options: RunOptions(), ssh: ssh)
        let gateways = try ParallelSSH.hosts(["gwa\(marker)", "gwb\(marker)"])
        passh.gateways = GatewayRoutes(
            GatewayRoutes.assignment(of: try ParallelSSH.hosts(["h1", "h2", "h3", "h4"]), through: gateways),
            passh: passhPath, ssh: ssh)
        let command =
            "i=0; while [ ! -e \(work)/go ] && [ $i -lt 400 ]; do sleep 0.025; i=$((i+1)); done # \(marker)\n"
            + "tar -cf - -C \(work)/src f"
        let gather = try GatherOperation(command: command, destination: FilePath(work + "/out"))
        let results = try await withThrowingTaskGroup(of: [HostResult].self) { group in
            group.addTask { [passh] in try await passh.gather(gather, from: ["h1", "h2", "h3", "h4"]) }
            let started = try await waitUntil { processes(matching: marker, named: "sh").count >= 4 }
            #expect(started)
            shell("pkill -KILL -f -- '-- gwa\(marker) '")
            shell("touch '\(work)/go'")
            return try await group.next() ?? []
        }
        #expect(results.map(\.host.name) == ["h1", "h2", "h3", "h4"])
        for result in results.prefix(2) {
            guard case .failed(let failure) = result.outcome else {
                Issue.record("\(result.host) did not fail: \(result.outcome)")
                continue
            }
            #expect(failure.kind == .gatewayLost)
            #expect(failure.commandMayHaveRun)
            #expect(failure.message.hasPrefix("gateway gwa\(marker) lost:"))
        }
        #expect(results.suffix(2).map(\.outcome) == [.exited(0), .exited(0)])
        #expect(readText(work + "/out/h3/f") == "one\n")
        #expect(readText(work + "/out/h4/f") == "one\n")
        #expect(try await processesLeft(matching: marker, named: "sh", within: .seconds(5)).isEmpty)
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
