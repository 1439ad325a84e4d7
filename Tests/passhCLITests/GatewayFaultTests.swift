import Passh
import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Gateways that misbehave, on the test cluster: a fake gateway passh (a script the gateway's
/// account runs) that sends garbage, stops mid-line or floods fails its hosts with a message
/// naming it, the other hosts complete; `--fail-fast` reaches across gateways.
@Suite("passh through faulty gateways", .needsTestCluster)
struct GatewayFaultTests {
    /// The gateway's hello, as the real one writes it.
    static let hello =
        #"{"event":"gateway","protocol":\#(GatewayProtocol.version),"passh":"\#(GatewayProtocol.passhVersion)"}"#

    /// A gateway passh that says hello, reads the hello, the setup and a first host, then runs `then`.
    static func fakePassh(_ then: String) throws -> String {
        let path = temporaryPath("fake-gw-passh")
        try writeFile(path, Array("#!/bin/sh\nprintf '%s\\n' '\(hello)'\nhead -n 3 >/dev/null\n\(then)\n".utf8))
        chmod(path, 0o755)  // the gateways' account may be another
        return path
    }

    @Test(arguments: [
        ("echo 'not json'; cat >/dev/null", "it sent what cannot be read: "),
        (#"printf '{"event":"line","host":"h1"'"#, "it stopped in the middle of a line"),
    ])
    func aFaultyGatewayFailsItsHostsNamingIt(script: String, message: String) async throws {
        try await expectFailure(script, message)
    }

    /// 20,000 events for hosts it was not sent and 20,000 lines on stderr, then an exit: the
    /// hosts fail with its last words (the long line is ``GatewayLinkFaultTests``'s: 100 MB here).
    @Test func aFloodingGatewayFailsItsHostsNamingIt() async throws {
        let started = #"{"event":"started","host":"x&","transport":"libssh"}"#
        try await expectFailure(
            """
            echo '{"event":"start","version":2,"tool":"passh"}'
            seq 1 20000 | sed 's/.*/\(started)/'
            seq 1 20000 | sed 's/^/said /' >&2
            exit 3
            """, "the gateway's passh exited with status 3: said 20000")
    }

    /// `h1,h2` through gw1 running `script`, `h3` directly: gw1's hosts fail with `message`.
    func expectFailure(_ script: String, _ message: String) async throws {
        let fake = try Self.fakePassh(script)
        let topology = temporaryPath("topology")
        try writeFile(topology, Array("gw1: h1,h2\n".utf8))
        defer { shell("rm -f \(fake) \(topology)") }
        let run = try await passh([
            "-F", TestCluster.gatewayConfig, "--topology", topology, "--gateway-passh", fake, "h1,h2,h3", "echo hi",
        ])
        #expect(run.status == 2)
        #expect(run.stdoutText == "[h3] hi\n")
        for host in ["h1", "h2"] {
            #expect(run.stderrText.contains("[\(host)] passh: gateway gw1 lost: \(message)"))
        }
        #expect(run.stderrText.hasSuffix("failed at: h1 h2\n"))
    }

    /// Four hosts, two gateways: the first host to get there fails (exit 3) once all four have
    /// started; the others, behind both gateways, are stopped long before their 30 s sleep ends.
    @Test(.timed) func failFastStopsTheHostsBehindEveryGateway() async throws {
        let dir = temporaryPath("gw-failfast")
        #expect(mkdir(dir, 0o777) == 0)
        chmod(dir, 0o777)  // the hosts' account may be another
        defer { shell("rm -rf \(dir)") }
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let command = """
            echo started; touch \(dir)/s.$$; i=0
            while [ "$(ls \(dir) | grep -c '^s')" -lt 4 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
            mkdir \(dir)/first 2>/dev/null && exit 3; \(sleep)
            """
        let clock = ContinuousClock()
        let start = clock.now
        let run = try await passh([
            "-F", TestCluster.gatewayConfig, "--gateway", "gw1,gw2", "--gateway-passh", passhPath, "--fail-fast",
            "h[1-4]", command,
        ])
        let elapsed = clock.now - start
        #expect(run.status == 2)
        #expect(run.sortedStdoutLines == ["[h1] started", "[h2] started", "[h3] started", "[h4] started"])
        #expect(run.stderrText.contains("failed: exit 3") || run.stderrText.contains("exited with status 3"))
        #expect(elapsed < .seconds(20))
        if nativeByDefault {
            // Behind the gateways, libssh stopped the remote sleeps too.
            #expect(try await processesLeft(matching: marker, named: "sleep", within: .seconds(5)).isEmpty)
        }
    }
}
