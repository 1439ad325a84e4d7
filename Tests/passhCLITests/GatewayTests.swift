import Passh
import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// passh on the test cluster through gateways (`gw*`, whose account reaches the targets itself).
@Suite("passh through gateways", .needsTestCluster)
struct GatewayTests {
    /// `--gateway` with the built passh as the gateway's, through the gateways' ssh_config.
    func throughGateways(_ gateways: String, _ arguments: [String]) async throws -> BinaryOutput {
        try await passh(
            ["-F", TestCluster.gatewayConfig, "--gateway", gateways, "--gateway-passh", passhPath] + arguments)
    }

    static let mixedCommand = #"echo out; echo err >&2; printf 'caf\351\n'; printf 'no newline'"#

    @Test func outputAndStatusAreThoseOfAFlatRun() async throws {
        let arguments = ["h[1-4],refused", Self.mixedCommand]
        let flat = try await passh(["-F", TestCluster.gatewayConfig] + arguments)
        let routed = try await throughGateways("gw1,gw2", arguments)
        #expect(routed.status == 2)
        #expect(routed.status == flat.status)
        #expect(routed.sortedStdoutLines == flat.sortedStdoutLines)
        #expect(routed.stdout.count == flat.stdout.count)
        #expect(routed.sortedStderrLines == flat.sortedStderrLines)
        #expect(routed.stderrText.hasSuffix("failed at: refused\n"))
    }

    @Test func jsonResultsAreThoseOfAFlatRun() async throws {
        let arguments = ["--json", "h[1-3],refused", Self.mixedCommand + "; exit 3"]
        let flat = try JSONLinesDecoder.decode(
            try await passh(["-F", TestCluster.gatewayConfig] + arguments).stdout, collectOutput: true)
        let routed = try JSONLinesDecoder.decode(
            try await throughGateways("gw1", arguments).stdout, collectOutput: true)
        func shape(_ run: JSONLinesDecoder.Decoded) -> [String] {
            run.results.map { "\($0.host) \($0.outcome) \($0.stdout ?? []) \($0.stderr ?? [])" }.sorted()
        }
        #expect(shape(routed) == shape(flat))
        #expect(routed.results.count == 4)
        #expect(routed.summary?.failedHosts == flat.summary?.failedHosts)
    }

    @Test func stdinFileReachesEveryHost() async throws {
        let file = temporaryPath("gw-stdin")
        try writeFile(file, Array("line one\nline two\n".utf8))
        defer { unlink(file) }
        let run = try await throughGateways("gw1,gw2", ["-i", file, "h[1-3]", "cat"])
        #expect(run.status == 0)
        #expect(
            run.sortedStdoutLines == [
                "[h1] line one", "[h1] line two", "[h2] line one", "[h2] line two", "[h3] line one", "[h3] line two",
            ])
    }

    @Test func listHostsShowsEachRoute() async throws {
        let run = try await throughGateways("gw[1-2]", ["--list-hosts", "-v", "h[1-3]"])
        #expect(run.status == 0)
        #expect(run.stdoutText == "h1  via gw1\nh2  via gw1\nh3  via gw2\n")
    }

    /// refused: connection refused; noauth: authentication refused; unknown-key: host key unknown.
    @Test(arguments: ["refused", "noauth", "unknown-key"])
    func anUnreachableGatewayAloneInItsRouteLeavesItsHostsDirect(gateway: String) async throws {
        let run = try await passh(["-F", TestCluster.gatewayConfig, "--gateway", gateway, "h1,h2", "echo hi"])
        #expect(run.status == 0)
        #expect(run.sortedStdoutLines == ["[h1] hi", "[h2] hi"])
        let lines = run.stderrText.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("passh: gateway \(gateway) cannot be reached (") == true)
        #expect(lines.first?.hasSuffix("): its hosts are reached directly") == true)
        if gateway == "refused" {
            #expect(
                run.stderrText
                    == "passh: gateway refused cannot be reached (ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused): its hosts are reached directly\n"
            )
        }
    }

    /// `refused,gw1: h[1-3]`: refused's block goes to gw1, which has hosts of its own; with one
    /// host, gw1 has none and starts for refused's.
    @Test(arguments: ["h[1-3]", "h1"])
    func anUnreachableGatewayLeavesItsHostsToTheNextOfItsRoute(hosts: String) async throws {
        let file = temporaryPath("topology")
        try writeFile(file, Array("refused,gw1: h[1-3]\n".utf8))
        let log = temporaryPath("gw-log")
        let wrapper = try TopologyCLITests.loggingPassh(log)
        defer { shell("rm -f \(file) \(log) \(wrapper)") }
        let run = try await passh([
            "-F", TestCluster.gatewayConfig, "--topology", file, "--gateway-passh", wrapper, hosts, "echo hi",
        ])
        #expect(run.status == 0)
        let expected = hosts == "h1" ? ["h1"] : ["h1", "h2", "h3"]
        #expect(run.sortedStdoutLines == expected.map { "[\($0)] hi" })
        #expect(
            run.stderrText
                == "passh: gateway refused cannot be reached (ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused): its hosts go through gw1\n"
        )
        // All through gw1 (none reached directly).
        #expect(TopologyCLITests.hostsRun(log) == expected)
    }

    @Test func gatewayWithoutPasshFailsItsHostsWithItsWords() async throws {
        let run = try await passh([
            "-F", TestCluster.gatewayConfig, "--gateway", "gw1", "--gateway-passh", "/nonexistent/passh", "h1", "true",
        ])
        #expect(run.status == 2)
        #expect(run.stderrText.contains("[h1] passh: gateway gw1 lost: the gateway's passh exited with status 127"))
    }

    @Test(.timed) func gatewayLostMidRunFailsOnlyItsHosts() async throws {
        let marker = String(UInt32.random(in: 100_000_000...999_999_999))
        let dir = temporaryPath("gw-lost")
        let (sleep, sleepMarker) = uniqueSleep(seconds: 7)
        let command =
            "echo started; \(sleep) & i=0; while [ ! -e \(dir)/go ] && [ $i -lt 400 ]; do sleep 0.025; i=$((i+1)); done; echo done"
        let script = """
            mkdir -p \(dir); cd \(dir); : >out
            \(passhPath) -F \(TestCluster.gatewayConfig) --gateway gwa\(marker),gwb\(marker) --gateway-passh \(passhPath) \
              'h[1-4]' '\(command)' >out 2>err &
            pid=$!
            i=0; while [ "$(grep -c started out)" -lt 4 ] && [ $i -lt 400 ]; do sleep 0.025; i=$((i+1)); done
            p=gwa; pkill -KILL -f -- "-- ${p}\(marker) "
            touch go
            wait $pid; echo $? >status
            """
        defer { shell("rm -rf \(dir)") }
        try await bashScript(script)
        #expect(readText(dir + "/status") == "2\n")
        let out = sortedLines(readText(dir + "/out") ?? "")
        #expect(out == ["[h1] started", "[h2] started", "[h3] done", "[h3] started", "[h4] done", "[h4] started"])
        let err = readText(dir + "/err") ?? ""
        #expect(err.contains("[h1] passh: gateway gwa\(marker) lost:"))
        #expect(err.hasSuffix("failed at: h1 h2\n"))
        // The gateway, its stdin gone, stopped its hosts' commands.
        #expect(try await processesLeft(matching: sleepMarker, named: "sleep", within: .seconds(5)).isEmpty)
    }

    /// Behind the gateway the hosts go to libssh, which stops their remote commands; in a build
    /// without it they go to a plain ssh, which cannot (as in a run without a gateway).
    @Test(
        .timed, .enabled(if: nativeByDefault, "a build without libssh: ssh cannot stop a remote command"),
        arguments: ["INT", "KILL"])
    func stoppingTheRootStopsTheHostsBehindGateways(signal: String) async throws {
        let (sleep, marker) = uniqueSleep(seconds: 8)
        let run = try await interruptPassh(
            "--gateway gw1 --gateway-passh \(passhPath) h1,h2 'echo started; \(sleep)'", after: 2, signal: signal,
            running: (marker, 2), config: TestCluster.gatewayConfig)
        #expect(run.status == (signal == "INT" ? 130 : 137))
        // Long before the sleeps end (8 s): nothing left on the targets, nor the gateway's passh.
        #expect(try await processesLeft(matching: marker, named: "sleep", within: .seconds(5)).isEmpty)
    }

    @Test(.timed, .enabled(if: nativeByDefault, "a build without libssh: ssh cannot stop a remote command"))
    func timeoutStopsTheHostsBehindAGateway() async throws {
        // The timeout also covers reaching the gateway and starting its passh: 1 s was once too short
        // for `started` to come, right after a build (the suite beside it).
        let (sleep, marker) = uniqueSleep(seconds: 60)
        let run = try await throughGateways("gw1", ["--timeout", "5", "h1,h2", "echo started; \(sleep)"])
        #expect(run.status == 2)
        #expect(run.sortedStdoutLines == ["[h1] started", "[h2] started"])
        #expect(try await processesLeft(matching: marker, named: "sleep", within: .seconds(5)).isEmpty)
    }

    @Test(arguments: [
        (
            ["--gateway", "gw1", "--local", "h1", "true"],
            "--gateway cannot be used with --local: it runs the command on this machine, reaching no host. "
        ),
        (
            ["--topology", "/tmp/t", "--persist-stop", "h1"],
            "--topology cannot be used with --persist-stop: it closes this machine's master connections, and a host behind a gateway has none here. "
        ),
        (["--gateway", ",", "h1", "true"], "--gateway needs at least one gateway."),
        (
            ["--gateway-passh", "/bin/passh", "h1", "true"],
            "--gateway-passh goes with --gateway, --topology or a topology file."
        ),
        (["--gateway-serve", "h1", "true"], "--gateway-serve takes no hosts, command or other gateway flag."),
    ])
    func badGatewayFlagsAreRefusedFirst(arguments: [String], message: String) async throws {
        let run = try await passh(arguments)
        #expect(run.status == 64)
        #expect(run.stderrText.hasPrefix("passh: " + message))
        #expect(run.stdoutText == "")
    }
}
