import Passh
import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--copy` and `--rcopy` through gateways (`gw*`): the same trees, results and JSON as a flat
/// copy; the archive crosses the root's link once per gateway; a gathered archive comes back in
/// pieces, the gateway never holding it whole.
@Suite("passh --copy and --rcopy through gateways", .needsTestCluster)
struct GatewayCopyTests {
    func throughGateways(_ gateways: String, passh: String = passhPath, _ arguments: [String]) async throws
        -> BinaryOutput
    {
        try await PasshTestSupport.passh(
            ["-F", TestCluster.gatewayConfig, "--gateway", gateways, "--gateway-passh", passh] + arguments)
    }

    /// The size of a regular file, in bytes.
    static func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    @Test func copyIsThatOfAFlatCopyAndItsArchiveCrossesOncePerGateway() async throws {
        let source = CopyTests.makeSource()
        let flat = temporaryPath("gw-copy-flat")
        let routed = temporaryPath("gw-copy-routed")
        let log = temporaryPath("gw-log")
        let wrapper = try TopologyCLITests.loggingPassh(log)
        defer { shell("rm -rf '\(source)' '\(flat)' '\(routed)' \(log) \(wrapper)") }
        let arguments = [
            "--json", "-n", "1", "h[1-3]", "--copy", source + "/tree", "--copy", source + "/single.txt", "--dest",
        ]
        let direct = try await passh(["-F", TestCluster.gatewayConfig] + arguments + [flat])
        let through = try await throughGateways("gw1", passh: wrapper, arguments + [routed])
        #expect(direct.status == 0)
        #expect(through.status == 0)
        #expect(through.stderrText == "")
        #expect(CopyTests.describe(routed) == CopyTests.describe(source))
        func finished(_ run: BinaryOutput) -> [String] {
            CopyTests.withoutDurations(run.stdoutText).filter { !$0.contains(#""event":"started""#) }.sorted()
        }
        #expect(finished(through) == finished(direct))
        #expect(finished(through).count == 5)
        #expect(TopologyCLITests.hostsRun(log) == ["h1", "h2", "h3"])
        // The 2 MiB tree crossed once (the log holds the gateway's whole stdin), not three times.
        let sent = Self.size(log)
        #expect(sent > 2_097_152)
        #expect(sent < 3_145_728)
    }

    @Test func gatherLandsUnderEachHostsDirectoryAsAFlatOneDoes() async throws {
        let source = CopyTests.makeSource(readableByAll: true)
        let destination = temporaryPath("gw-gather")
        defer { shell("rm -rf '\(source)' '\(destination)'") }
        let out = try await throughGateways(
            "gw1,gw2",
            [
                "--json", "h1,h2,h3", "--rcopy", source + "/tree", "--rcopy", source + "/single.txt", "--dest",
                destination,
            ])
        #expect(out.status == 0)
        #expect(out.stderrText == "")
        let lines = CopyTests.withoutDurations(out.stdoutText)
        #expect(lines.count == 8)
        for host in ["h1", "h2", "h3"] {
            #expect(
                lines.contains(
                    #"{"event":"finished","host":"\#(host)","status":"ok","exit_code":0,"signal":null,"signal_number":null,"error":null,"failure":null,"started":true,"attempts":1,"duration_ms":D,"duration_ns":D,"files":5,"bytes":2097164,"skipped":0}"#
                ))
            #expect(CopyTests.describe(destination + "/" + host) == CopyTests.describe(source))
        }
        #expect(
            lines.last
                == #"{"event":"summary","summary":{"hosts":3,"ok":3,"failed":0,"timeout":0,"cancelled":0,"not_started":0,"failed_hosts":[],"duration_ms":D,"files":15,"bytes":6291492,"skipped":0}}"#
        )
    }

    @Test func aGatherThatFailsSaysWhatAFlatOneSays() async throws {
        let destination = temporaryPath("gw-gather")
        defer { shell("rm -rf '\(destination)'") }
        let arguments = ["h1,refused", "--rcopy", destination + "/nope", "--dest"]
        let flat = try await passh(["-F", TestCluster.gatewayConfig] + arguments + [destination + "/flat"])
        let routed = try await throughGateways("gw1", arguments + [destination + "/routed"])
        #expect(routed.status == 2)
        #expect(routed.status == flat.status)
        #expect(routed.sortedStderrLines == flat.sortedStderrLines)
        #expect(routed.stderrText.hasSuffix("failed at: h1 refused\n"))
    }

    /// A 64 MiB file gathered through a gateway: it arrives whole, and the gateway's passh never
    /// held it (its peak memory stays well under the file's size).
    @Test func aGatewayDoesNotHoldAHostsArchive() async throws {
        let work = temporaryPath("gw-gather-big")
        let measure = work + "/rss"
        let wrapper = work + "/passh"
        defer { shell("rm -rf '\(work)'") }
        let made = shell(
            """
            set -e; mkdir -p '\(work)/src'; chmod 755 '\(work)' '\(work)/src'
            head -c 67108864 /dev/urandom > '\(work)/src/big'; chmod 644 '\(work)/src/big'
            : > '\(measure)'; chmod 666 '\(measure)'
            printf '#!/bin/sh\\nexec /usr/bin/time -a -o %s -f %%M %s "$@"\\n' '\(measure)' '\(passhPath)' > '\(wrapper)'
            chmod 755 '\(wrapper)'
            """)
        #expect(made.status == 0)
        let out = try await throughGateways(
            "gw1", passh: wrapper, ["h1", "--rcopy", work + "/src/big", "--dest", work + "/out"])
        #expect(out.status == 0)
        #expect(out.stderrText == "")
        #expect(shell("cmp '\(work)/src/big' '\(work)/out/h1/big' && echo same").text == "same\n")
        let kilobytes = Int(String((readText(measure) ?? "").filter(\.isNumber))) ?? -1
        #expect(kilobytes > 0)
        #expect(kilobytes < 40 * 1024, "the gateway's passh peaked at \(kilobytes) KiB")
    }
}
