import Passh
import PasshTestSupport
import Synchronization
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--push-passh` (``GatewayPush``): a gateway without passh of this release gets this one, in a
/// private cache directory of its home, checked before it is used.
@Suite("passh --push-passh", .needsTestCluster, .serialized)
struct GatewayPushTests {
    static let version = GatewayProtocol.passhVersion

    /// Runs `command` on h1 (the gateways' account) and gives its stdout, a line at a time.
    static func onGatewayAccount(_ command: String) async throws -> String {
        lines(try await passhOnCluster(["h1", command]).stdout).map { $0.dropFirst("[h1] ".count) + "\n" }.joined()
    }

    @Test func aGatewayWithoutPasshGetsThisOneOnceThenUsesIt() async throws {
        let cache = "~/.cache/passh/\(Self.version)"
        _ = try await Self.onGatewayAccount("rm -rf \(cache)")
        let arguments = [
            "-F", TestCluster.gatewayConfig, "--gateway", "gw1", "--gateway-passh", "/nonexistent/passh",
            "--push-passh", "h1,h2", "echo hi",
        ]
        let first = try await passh(arguments)
        #expect(first.status == 0)
        #expect(first.sortedStdoutLines == ["[h1] hi", "[h2] hi"])
        #expect(
            first.stderrText
                == "passh: gateway gw1 has no passh \(Self.version): this passh was copied to ~/.cache/passh/\(Self.version)/passh there\n"
        )
        let sum = shell("sha256sum '\(passhPath)' | cut -d' ' -f1").text
        #expect(
            try await Self.onGatewayAccount(
                "cd \(cache) && stat -c '%a %n' . passh && ls -A && sha256sum passh | cut -d' ' -f1")
                == "700 .\n700 passh\npassh\n" + sum)
        // The copy is used from then on: nothing is copied again.
        let second = try await passh(arguments)
        #expect(second.status == 0)
        #expect(second.sortedStdoutLines == ["[h1] hi", "[h2] hi"])
        #expect(second.stderrText == "")
        // Without --push-passh, a gateway without passh fails its hosts as before.
        let without = try await passh(arguments.filter { $0 != "--push-passh" })
        #expect(without.status == 2)
        #expect(without.stderrText.contains("[h1] passh: gateway gw1 lost: the gateway's passh exited with status 127"))
        _ = try await Self.onGatewayAccount("rm -rf \(cache)")
    }

    /// Routes h1 through gw1, whose passh is missing, pushing `push`.
    func routed(_ push: GatewayPush) throws -> ParallelSSH {
        var ssh = OpenSSHOptions()
        ssh.configFile = FilePath(TestCluster.gatewayConfig)
        var passh = ParallelSSH(options: RunOptions(), ssh: ssh)
        var gateways = GatewayRoutes(
            GatewayRoutes.assignment(of: [try Host("h1")], through: [try Host("gw1")]),
            passh: "/nonexistent/passh", ssh: ssh)
        gateways.push = push
        passh.gateways = gateways
        return passh
    }

    @Test func aCopyWhoseChecksumDiffersIsNeitherKeptNorRun() async throws {
        let directory = ".cache/\(uniqueMarker("passh-push"))"
        let real = try await GatewayPush(binary: FilePath(passhPath), directory: directory + "/v")
        let wrong = String(repeating: "0", count: 64)
        let results = try await routed(
            GatewayPush(binary: FilePath(passhPath), sha256: wrong, directory: directory + "/v")
        ).run(["echo hi"], on: ["h1"])
        #expect(results.count == 1)
        guard case .failed(let failure)? = results.first?.outcome else {
            Issue.record("h1 did not fail: \(String(describing: results.first?.outcome))")
            return
        }
        #expect(failure.kind == .gatewayLost)
        #expect(
            failure.message
                == "gateway gw1 lost: cannot copy passh to it: the copy received has the SHA-256 \(real.sha256), not \(wrong)"
        )
        // Nothing left in the private directory.
        #expect(try await Self.onGatewayAccount("stat -c %a ~/\(directory)/v; ls -A ~/\(directory)/v") == "700\n")
        // The right checksum installs it, and h1 runs.
        let fixed = try await routed(real).run(["echo hi"], on: ["h1"])
        #expect(fixed.first?.outcome == .exited(0))
        _ = try await Self.onGatewayAccount("rm -rf ~/\(directory)")
    }

    /// A gateway whose passh is another release (its hello says so, and it then waits for its
    /// stdin to end) gets this one.
    @Test func aGatewayWithAnotherReleaseGetsThisOne() async throws {
        let directory = ".cache/\(uniqueMarker("passh-push"))"
        let old = temporaryPath("old-passh")
        try writeFile(
            old,
            Array(
                "#!/bin/sh\necho '{\"event\":\"gateway\",\"protocol\":1,\"passh\":\"0.9.0\"}'\nexec cat >/dev/null\n"
                    .utf8))
        chmod(old, 0o755)
        defer { unlink(old) }
        var passh = try routed(try await GatewayPush(binary: FilePath(passhPath), directory: directory))
        passh.gateways?.command = [old, "--gateway-serve"]
        let copied = Mutex<[String]>([])
        passh.gateways?.pushed = { gateway in copied.withLock { $0.append(gateway.name) } }
        let results = try await passh.run(["echo hi"], on: ["h1"])
        #expect(results.first?.outcome == .exited(0))
        #expect(copied.withLock { $0 } == ["gw1"])
        _ = try await Self.onGatewayAccount("rm -rf ~/\(directory)")
    }

    /// A level of the directory that is a symbolic link of another user stops the copy (the
    /// tests run as root; the gateways' account is another user).
    @Test(.enabled(if: getuid() == 0, "needs a user other than the gateways' account"))
    func aSymbolicLinkOfAnotherUserIsNotFollowed() async throws {
        let home = String(try await Self.onGatewayAccount("mkdir -p ~/.cache && echo \"$HOME\"").dropLast())
        let name = uniqueMarker("passh-push")
        let target = temporaryPath("push-target")
        #expect(mkdir(target, 0o777) == 0)
        chmod(target, 0o777)
        #expect(symlink(target, home + "/.cache/" + name) == 0)
        defer { shell("rm -rf '\(target)' '\(home)/.cache/\(name)'") }
        let results = try await routed(
            try await GatewayPush(binary: FilePath(passhPath), directory: ".cache/\(name)/v")
        )
        .run(["echo hi"], on: ["h1"])
        guard case .failed(let failure)? = results.first?.outcome else {
            Issue.record("h1 did not fail: \(String(describing: results.first?.outcome))")
            return
        }
        #expect(
            failure.message
                == "gateway gw1 lost: cannot copy passh to it: \(home)/.cache/\(name) is a symbolic link of another user"
        )
        #expect(shell("ls -A '\(target)'").text == "")
    }
}
