import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--sudo` and `--tty` through gateways: the gateway runs its hosts' sudo, the password going to
/// it inside the request on its ssh's stdin.
@Suite("passh --sudo and --tty through gateways", .needsTestClusterSudo)
struct GatewaySudoTests {
    func throughGateways(_ gateways: String, passh: String = passhPath, _ arguments: [String]) async throws
        -> BinaryOutput
    {
        try await PasshTestSupport.passh(
            ["-F", TestCluster.gatewayConfig, "--gateway", gateways, "--gateway-passh", passh] + arguments)
    }

    @Test func sudoRunsAsRootBehindTheGatewaysWithTheStdinFileWhole() async throws {
        let password = try SudoTests.passwordFile()
        let input = temporaryPath("gw-sudo-input")
        try writeFile(input, Array("one\ntwo\n".utf8))
        defer { shell("rm -f \(password) \(input)") }
        let out = try await throughGateways(
            "gw1,gw2", ["--sudo", "--sudo-password-file", password, "-i", input, "h1,h2,h3", "id -un; cat"])
        #expect(out.status == 0)
        #expect(out.stderrText == "")
        for host in ["h1", "h2", "h3"] {
            #expect(
                lines(out.stdout).filter { $0.hasPrefix("[\(host)] ") }.map { $0.dropFirst(host.count + 3) } == [
                    "root", "one", "two",
                ])
        }
    }

    /// The probe that decides whether a password is needed asks the hosts through their gateway
    /// too (it asked them directly: a host only the gateway reaches was "not answering").
    @Test func theSudoProbeGoesThroughTheGateway() async throws {
        let log = temporaryPath("gw-log")
        let wrapper = try TopologyCLITests.loggingPassh(log)
        defer { shell("rm -f \(log) \(wrapper)") }
        let out = try await throughGateways("gw1", passh: wrapper, ["--sudo", "h1", "id -un"])
        #expect(out.status == 1)
        #expect(
            out.stderrText
                == "passh: sudo on h1 asks for a password, and there is no terminal to ask it on: give it with --sudo-password-file\n"
        )
        #expect(TopologyCLITests.hostsRun(log) == ["h1"])
    }

    /// Not in an argument list or environment of any process here (the gateways and the targets
    /// run here too), not in the output; a wrong one fails the host with sudo's reason.
    @Test func thePasswordIsNeverExposed() async throws {
        let secret = Array((TestCluster.sudoPassword ?? "").utf8)
        let password = try SudoTests.passwordFile()
        let release = temporaryPath("gw-sudo-release")
        defer { shell("rm -f \(password) \(release)") }
        let marker = uniqueMarker("gw-sudo-waits")
        let returned = Flag()
        let run = Task {
            defer { returned.set() }
            return try await throughGateways(
                "gw1",
                [
                    "--sudo", "--sudo-password-file", password, "h1,h2",
                    "i=0; while [ ! -e \(release) ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; id -un # \(marker)",
                ])
        }
        var seen: [String] = []
        let running = try await waitUntil {
            seen += exposing(secret)
            return returned.isSet || processes(matching: marker, named: "sh").count >= 2
        }
        #expect(running)
        seen += exposing(secret)
        shell("touch \(release)")
        try await waitUntil {
            seen += exposing(secret)
            return returned.isSet
        }
        let out = try await run.value
        #expect(out.status == 0)
        #expect(out.sortedStdoutLines == ["[h1] root", "[h2] root"])
        #expect(seen.isEmpty, "\(seen)")
        #expect(out.stdout.firstRange(of: secret) == nil && out.stderr.firstRange(of: secret) == nil)

        let wrong = try SudoTests.passwordFile("not-the-password")
        defer { unlink(wrong) }
        let refused = try await throughGateways("gw1", ["--sudo", "--sudo-password-file", wrong, "h1", "id -un"])
        #expect(refused.status == 2)
        #expect(refused.stderrText == "[h1] passh: sudo: wrong password; stopped after one attempt\nfailed at: h1\n")
    }

    @Test func aCopyAndAGatherRunAsRootBehindTheGateway() async throws {
        let password = try SudoTests.passwordFile()
        let source = temporaryPath("gw-sudo-copy-source")
        let dest = "/root/" + temporaryPath("gw-sudo-copy").split(separator: "/").last!  // only root may write there
        let gathered = temporaryPath("gw-sudo-gathered")
        try writeFile(source, Array("for root\n".utf8))
        defer { shell("rm -rf \(password) \(source) \(dest) \(gathered)") }
        let copy = try await throughGateways(
            "gw1", ["--sudo", "--sudo-password-file", password, "h1", "--copy", source, "--dest", dest])
        #expect(copy.status == 0)
        #expect(copy.stderrText == "")
        let name = source.split(separator: "/").last.map(String.init) ?? ""
        #expect(readText("\(dest)/\(name)") == "for root\n")
        #expect(shell("stat -c %U \(dest)/\(name)").text == "root\n")
        let gather = try await throughGateways(
            "gw1,gw2",
            ["--sudo", "--sudo-password-file", password, "h1,h2", "--rcopy", "\(dest)/\(name)", "--dest", gathered])
        #expect(gather.status == 0)
        #expect(gather.stderrText == "")
        #expect(readText("\(gathered)/h1/\(name)") == "for root\n")
        #expect(readText("\(gathered)/h2/\(name)") == "for root\n")
    }

    @Test func ttyAsksTheHostsBehindTheGatewayForATerminal() async throws {
        let arguments = ["--tty", "h1,h2", "tty >/dev/null && echo terminal; echo err >&2"]
        let flat = try await passh(["-F", TestCluster.gatewayConfig] + arguments)
        let routed = try await throughGateways("gw1", arguments)
        #expect(routed.status == 0)
        // A terminal merges stderr into stdout and ends lines in CR LF.
        #expect(routed.sortedStdoutLines == ["[h1] err\r", "[h1] terminal\r", "[h2] err\r", "[h2] terminal\r"])
        #expect(routed.stderrText == "")
        #expect(routed.sortedStdoutLines == flat.sortedStdoutLines)
    }
}

/// Processes whose argument list or environment holds `secret`.
private func exposing(_ secret: [UInt8]) -> [String] {
    guard !secret.isEmpty else { return [] }
    return processIDs().flatMap { pid in
        ["cmdline", "environ"].filter { (readBytes("/proc/\(pid)/\($0)") ?? []).firstRange(of: secret) != nil }
            .map { "\(pid)/\($0)" }
    }
}
