import PasshTestSupport
import Testing

/// `--canary`, `--batch`, `--max-failures`, `--retry`: rollouts against the test sshd.
@Suite(.needsTestCluster)
struct RolloutCLITests {
    /// How the refused host's failure reads (libssh's, worded by passh: the default transport).
    static let refused =
        nativeByDefault
        ? "[refused] passh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused\n"
        : "[refused] ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused\r\n"

    @Test func aFailedCanaryLeavesTheRestNotStarted() async throws {
        let failedTo = temporaryPath("canary-failed")
        let out = try await passhOnCluster(["--canary", "2", "--failed-to", failedTo, "h1,refused,h3,h4", "echo hi"])
        #expect(out.status == 2)
        #expect(out.stdoutText == "[h1] hi\n")
        #expect(
            out.stderrText == Self.refused + "passh: not started: h[3-4] (canary refused failed)\nfailed at: refused\n")
        // The hosts not started still need the command: --failed-to has them.
        #expect(readText(failedTo) == "refused\nh3\nh4\n")
        shell("rm -f \(failedTo)")
    }

    @Test func hugeCountsDoNotOverflow() async throws {
        let out = try await passh([
            "--local", "--canary", "1", "--batch", "9223372036854775807", "--max-failures", "9223372036854775807",
            "a[1-3]", "echo $PASSH_HOST",
        ])
        #expect(out.status == 0)
        #expect(out.sortedStdoutLines == ["[a1] a1", "[a2] a2", "[a3] a3"])
    }

    @Test func notStartedHostsInJSON() async throws {
        let out = try await passhOnCluster(["--json", "--canary", "1", "refused,h2", "true"])
        #expect(out.status == 2)
        let finished = lines(out.stdout).filter { $0.contains(#""event":"finished""#) }
        #expect(finished.count == 2)
        #expect(finished[1].hasPrefix(#"{"event":"finished","host":"h2","status":"not_started","exit_code":null,"#))
        #expect(finished[1].contains(#""error":"not started","failure":null,"started":false,"attempts":0,"#))
        let summary = lines(out.stdout).last ?? ""
        #expect(summary.contains(#""not_started":1,"failed_hosts":["refused"]"#))
    }

    @Test func wavesStartWhenThePreviousWaveHasFinished() async throws {
        // Each host prints when its command began and ended (the sshd runs on this machine: one clock).
        // The 0.2 s is the command's own work, long enough for overlapping waves to show: no wait.
        let out = try await passhOnCluster(["--batch", "50%", "h1,h2,h3,h4", "date +%s%N; sleep 0.2; date +%s%N"])
        #expect(out.status == 0)
        var times: [String: [Int]] = [:]
        for line in lines(out.stdout) {
            let parts = line.split(separator: " ")
            times[String(parts[0]), default: []].append(Int(parts[1]) ?? 0)
        }
        let firstWaveEnd = max(times["[h1]"]?[1] ?? .max, times["[h2]"]?[1] ?? .max)
        let secondWaveStart = min(times["[h3]"]?[0] ?? 0, times["[h4]"]?[0] ?? 0)
        #expect(times.count == 4)
        #expect(secondWaveStart > firstWaveEnd)
    }

    @Test func theFailureBudgetStopsStartingHosts() async throws {
        let out = try await passhOnCluster([
            "--batch", "2", "--max-failures", "1", "h1,refused,noauth,h4,h5,h6", "echo hi",
        ])
        #expect(out.status == 2)
        #expect(out.stdoutText == "[h1] hi\n[h4] hi\n" || out.stdoutText == "[h4] hi\n[h1] hi\n")
        #expect(
            out.stderrText.hasSuffix(
                "passh: not started: h[5-6] (2 hosts failed, more than --max-failures 1 allows)\nfailed at: refused noauth\n"
            ))
    }

    @Test func aRefusedHostIsRetriedAndSaysSoOnce() async throws {
        let out = try await passhOnCluster([
            "--retry", "2", "--retry-delay", "0.05", "--json", "refused,noauth,h3", "exit 3",
        ])
        #expect(out.status == 2)
        let finished = lines(out.stdout).filter { $0.contains(#""event":"finished""#) }
        func attempts(_ host: String) -> String? {
            let line = finished.first { $0.contains(#""host":"\#(host)""#) } ?? ""
            let after = line.split(separator: #""attempts":"#, maxSplits: 1)
            return after.count == 2 ? String(after[1].prefix(1)) : nil
        }
        #expect(attempts("refused") == "3")  // refused: tried again, twice
        #expect(attempts("noauth") == "1")  // a refused login is never retried
        #expect(attempts("h3") == "1")  // the command ran: never retried, whatever its status
        // Only the last attempt's ssh error reaches the output.
        let text = try await passhOnCluster(["--retry", "2", "--retry-delay", "0", "refused", "true"])
        #expect(text.stderrText == Self.refused + "failed at: refused\n")
    }

    @Test func everythingTogether() async throws {
        let out = try await passhOnCluster([
            "--canary", "2", "--batch", "25%", "--max-failures", "3", "--retry", "2", "--retry-delay", "0",
            "h01,h02,h03,refused,h05,h06,noauth,h08,h09,h10", "echo ok",
        ])
        #expect(out.status == 2)
        #expect(
            out.sortedStdoutLines == [
                "[h01] ok", "[h02] ok", "[h03] ok", "[h05] ok", "[h06] ok", "[h08] ok", "[h09] ok", "[h10] ok",
            ])
        #expect(out.stderrText.hasSuffix("failed at: refused noauth\n"))
    }

    @Test(arguments: [
        (["--canary", "0"], "--canary must be a number of hosts, 1 or more, not 0."),
        (["--batch", "0"], "--batch must be a number of hosts (1 or more) or a percentage (1% to 100%), not 0."),
        (["--batch", "150%"], "--batch must be a number of hosts (1 or more) or a percentage (1% to 100%), not 150%."),
        (
            ["--max-failures", "some"],
            "--max-failures must be a number of hosts (0 or more) or a percentage (1% to 100%), not some."
        ),
        (["--retry", "99"], "--retry must be a number of retries from 0 to 20, not 99."),
        (["--retry-delay", "1"], "--retry-delay needs --retry."),
    ])
    func badRolloutFlagsAreUsageErrors(flags: [String], message: String) async throws {
        let out = try await passh(flags + ["h1", "true"])
        #expect(out.status == 64)
        #expect(out.stderrText == "passh: \(message) (see passh --help)\n")
    }
}
