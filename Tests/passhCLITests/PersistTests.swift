import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Connection reuse: `--persist` leaves master connections behind; later runs reach the hosts
/// through them without starting ssh at all.
@Suite("passh --persist", .needsTestCluster)
struct PersistTests {
    @Test func secondRunNeedsNoSSHAndStopCloses() async throws {
        let runtime = temporaryPath("runtime")
        shell("mkdir -p \(runtime) && chmod 700 \(runtime)")
        defer { shell("rm -rf \(runtime)") }
        let environment = ["XDG_RUNTIME_DIR": runtime]
        let hosts = "h[01-10]"

        let first = try await passhOnCluster(
            ["--persist", "--persist-seconds", "30", hosts, "echo first"], environment: environment)
        #expect(first.status == 0)
        #expect(first.sortedStdoutLines == (1...10).map { String(format2: $0) }.map { "[h\($0)] first" })
        #expect(shell("stat -c %a \(runtime)/passh").text == "700\n")
        #expect(shell("ls \(runtime)/passh | wc -l").text == "10\n")

        // No ssh to run, yet every host answers: through its master connection.
        let second = try await passhOnCluster(
            ["--persist", "--ssh", "/nonexistent/ssh", hosts, "echo second; exit 3"], environment: environment)
        #expect(second.status == 2)
        #expect(second.sortedStdoutLines == (1...10).map { String(format2: $0) }.map { "[h\($0)] second" })
        #expect(
            second.stderrText == (1...10).map { "[h\(String(format2: $0))] passh: failed: exit 3\n" }.joined()
                + "failed at: " + (1...10).map { "h" + String(format2: $0) }.joined(separator: " ") + "\n")

        let stop = try await passhOnCluster(["--persist-stop", hosts], environment: environment)
        #expect(stop.status == 0)
        #expect(stop.stdout.isEmpty && stop.stderr.isEmpty)
        #expect(shell("ls \(runtime)/passh | wc -l").text == "0\n")

        let third = try await passhOnCluster(
            ["--persist", "--ssh", "/nonexistent/ssh", "h01", "true"], environment: environment)
        #expect(third.status == 2)
        #expect(third.stderrText == "[h01] passh: cannot run /nonexistent/ssh: no such executable\nfailed at: h01\n")
    }

    @Test func aDirectoryOthersCanEnterIsRefused() async throws {
        let runtime = temporaryPath("runtime")
        shell("mkdir -p \(runtime)/passh && chmod 755 \(runtime)/passh")
        defer { shell("rm -rf \(runtime)") }
        let out = try await passhOnCluster(["--persist", "h01", "true"], environment: ["XDG_RUNTIME_DIR": runtime])
        #expect(out.status == 1)
        #expect(out.stderrText == "Not private: \(runtime)/passh must be owned by you with mode 0700\n")
    }

    @Test func persistIsAFlagAndItsSecondsAnOption() async throws {
        let runtime = temporaryPath("runtime")
        shell("mkdir -p \(runtime) && chmod 700 \(runtime)")
        defer { shell("rm -rf \(runtime)") }
        let environment = ["XDG_RUNTIME_DIR": runtime]
        for arguments in [
            ["--persist", "--list-hosts", "h[1-2]"],
            ["--persist", "--persist-seconds", "30", "--list-hosts", "h[1-2]"],
            ["--persist-seconds=30", "--persist", "--list-hosts", "h[1-2]"],
        ] {
            let out = try await passh(arguments, environment: environment)
            #expect(out.stdoutText == "h1\nh2\n", "\(arguments)")
        }
        let command = try await passh(["--local", "h1", "printf", "%s", "--persist"], environment: environment)
        #expect(command.stdoutText == "[h1] --persist\n")
    }

    @Test func withoutPersistNoSocketIsMade() async throws {
        let runtime = temporaryPath("runtime")
        shell("mkdir -p \(runtime) && chmod 700 \(runtime)")
        defer { shell("rm -rf \(runtime)") }
        let out = try await passhOnCluster(["h01,h02", "true"], environment: ["XDG_RUNTIME_DIR": runtime])
        #expect(out.status == 0)
        #expect(shell("ls -A \(runtime)").text == "")
    }
}

extension String {
    /// Two digits: `07`.
    init(format2 value: Int) {
        self = value < 10 ? "0\(value)" : "\(value)"
    }
}
