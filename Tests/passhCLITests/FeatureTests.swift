import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Host selection, time limits, stdin and failure handling, on the test cluster.
@Suite("passh features")
struct FeatureTests {
    @Test func listHostsExpandsPatternsFilesAndExclusions() async throws {
        let file = temporaryPath("hosts")
        try writeFile(
            file, Array("# web tier\r\n  web[1-3]  \r\n\nroot@db1:2222 # primary\n\tnode[08-10/2]\nweb2\n".utf8))
        defer { unlink(file) }
        let out = try await passh(["-h", file, "-x", "web3", "-x", "node10", "--list-hosts"])
        #expect(out.status == 0)
        #expect(out.stdoutText == "web1\nweb2\nroot@db1:2222\nnode08\n")
        let patterns = try await passh(["--list-hosts", "r[1-2]n[1-3],web[1-2].example.com,r1n1"])
        #expect(patterns.stdoutText == "r1n1\nr1n2\nr1n3\nr2n1\nr2n2\nr2n3\nweb1.example.com\nweb2.example.com\n")
    }

    @Test(.needsTestCluster) func hostFileReplacesTheHostsArgument() async throws {
        let file = temporaryPath("hosts")
        try writeFile(file, Array("h[1-3]\n".utf8))
        defer { unlink(file) }
        let out = try await passhOnCluster(["-h", file, "echo", "hi"])
        #expect(out.status == 0)
        #expect(out.sortedStdoutLines == ["[h1] hi", "[h2] hi", "[h3] hi"])
    }

    @Test func badPatternsAndHostFilesAreRefused() async throws {
        for (arguments, status, message) in [
            (["node[5-1]", "true"], Int32(64), "passh: invalid host pattern \"node[5-1]\": range 5-1 is inverted\n"),
            (["-h", "/nonexistent/hosts", "true"], 1, "No such file: /nonexistent/hosts\n"),
        ] {
            let (fakeSSH, log) = try recordingSSH()
            let out = try await passh(["--ssh", fakeSSH] + arguments)
            #expect(out.status == status)
            #expect(out.stderrText == message)
            #expect(readText(log) == nil)
        }
    }

    /// Issue 22, item 22: a 250 KB pattern was echoed whole in its error.
    @Test func aLongBadPatternIsCutInItsError() async throws {
        let file = temporaryPath("long-pattern")
        defer { unlink(file) }
        try writeFile(file, Array(("h1\nnode[5-1]" + String(repeating: "x", count: 250_000) + "\n").utf8))
        let out = try await passh(["--local", "-h", file, "true"])
        #expect(out.status == 64)
        #expect(
            out.stderrText
                == "passh: \(file):2: invalid host pattern \"node[5-1]\(String(repeating: "x", count: 191))…\" "
                + "(250009 bytes): range 5-1 is inverted\n")
        let batch = try await passh(["--local", "--batch", String(repeating: "9", count: 100_000), "h1", "true"])
        #expect(batch.status == 64)
        #expect(batch.stderrText.utf8.count < 400)
        #expect(batch.stderrText.hasPrefix("passh: --batch must be a number of hosts"))
    }

    @Test func hostileNamesInAHostFileAreRefused() async throws {
        let file = temporaryPath("hosts")
        try writeFile(file, Array("h1\n-oProxyCommand=touch /tmp/pwned\n".utf8))
        defer { unlink(file) }
        let (fakeSSH, log) = try recordingSSH()
        let out = try await passh(["--ssh", fakeSSH, "-h", file, "true"])
        #expect(out.status == 64)
        #expect(
            out.stderrText
                == "passh: \(file):2: invalid host \"-oProxyCommand=touch /tmp/pwned\": a host must not begin with '-'\n"
        )
        #expect(readText(log) == nil)
    }

    @Test func defaultUserAppliesToHostsWithoutOne() async throws {
        let (fakeSSH, log) = try recordingSSH()
        _ = try await passh(["--ssh", fakeSSH, "-l", "deploy", "-n", "1", "web1,admin@web2:2222", "id"])
        #expect(
            readText(log) == """
                -T -o LogLevel=INFO -o ConnectTimeout=6 -o BatchMode=yes -l deploy -E LOG -- web1 id
                -T -o LogLevel=INFO -o ConnectTimeout=6 -o BatchMode=yes -l admin -p 2222 -E LOG -- web2 id

                """)
    }

    @Test func connectTimeoutAndSSHOptionsReachSSH() async throws {
        let (fakeSSH, log) = try recordingSSH()
        _ = try await passh(["--ssh", fakeSSH, "-t", "3", "-o", "Port=2200", "-F", "/dev/null", "web1", "true"])
        #expect(
            readText(log)
                == "-F /dev/null -o Port=2200 -T -o LogLevel=INFO -o ConnectTimeout=3 -o BatchMode=yes -E LOG -- web1 true\n"
        )
        let (envSSH, envLog) = try recordingSSH()
        _ = try await passh(["web1", "true"], environment: ["PASSH_SSH": envSSH])
        #expect(readText(envLog) == "-T -o LogLevel=INFO -o ConnectTimeout=6 -o BatchMode=yes -E LOG -- web1 true\n")
    }

    @Test(.needsTestCluster, .timed) func timeoutFailsOnlyTheSlowHost() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 8)
        let out = try await passhOnCluster([
            "--timeout", "3", "--local", "fast,slow", "[ $PASSH_HOST = fast ] || \(sleep); echo done",
        ])
        #expect(out.status == 2)
        #expect(out.stdoutText == "[fast] done\n")
        #expect(out.stderrText == "[slow] passh: timed out after 3 s\nfailed at: slow\n")
        #expect(try await processesLeft(matching: marker).isEmpty)
        let json = try await passhOnCluster(["--timeout", "3", "--json", "h1", "exec \(sleep)"])
        #expect(
            json.stdoutText.contains(
                #"{"event":"finished","host":"h1","status":"timeout","exit_code":null,"signal":null,"signal_number":null,"error":"timed out","failure":null,"started":true,"attempts":1,"duration_ms":"#
            ))
        #expect(try await processesLeft(matching: marker, named: "ssh").isEmpty)
    }

    @Test(.needsTestCluster) func failFastCancelsTheRest() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 8)
        let out = try await passhOnCluster([
            "--fail-fast", "-n", "2", "--local", "h1,h2,h3,h4", "[ $PASSH_HOST = h2 ] && exit 1; \(sleep)",
        ])
        #expect(out.status == 2)
        // h2 fails; h1 is stopped; h3 and h4 never start.
        #expect(
            out.stderrText
                == "[h1] passh: cancelled\n[h2] passh: failed: exit 1\npassh: not started: h[3-4]\nfailed at: h1 h2 h3 h4\n"
        )
        #expect(try await processesLeft(matching: marker).isEmpty)
    }

    @Test(.needsTestCluster) func failedHostsAreWrittenForARetry() async throws {
        let file = temporaryPath("failed")
        defer { unlink(file) }
        let out = try await passhOnCluster(["--failed-to", file, "h1,refused,h2,noauth", "true"])
        #expect(out.status == 2)
        #expect(readText(file) == "refused\nnoauth\n")
        #expect(shell("stat -c %a \(file)").text == "600\n")
        let retry = try await passhOnCluster(["--list-hosts", "-h", file])
        #expect(retry.stdoutText == "refused\nnoauth\n")
        _ = try await passhOnCluster(["--failed-to", file, "h1", "true"])
        #expect(readText(file) == "")
    }

    @Test(.needsTestCluster) func stdinIsReadOnceAndSentToEveryHost() async throws {
        let input = temporaryPath("stdin")
        try writeFile(input, Array(String(repeating: "line\n", count: 30_000).utf8))
        defer { unlink(input) }
        // The spool goes to TMPDIR: a directory of this test's own, which nothing else writes to.
        let spool = temporaryPath("spool")
        mkdir(spool, 0o700)
        defer { shell("rm -rf \(spool)") }
        let out = try await passhOnCluster(
            ["-I", "-n", "0", "h1,h2,h3,h4", "wc -c"], stdinPath: input, environment: ["TMPDIR": spool])
        #expect(out.status == 0)
        #expect(out.sortedStdoutLines == ["[h1] 150000", "[h2] 150000", "[h3] 150000", "[h4] 150000"])
        #expect(shell("ls -A \(spool)").text == "", "the spool file is gone")
        let both = try await passh(["-I", "-i", input, "h1", "true"])
        #expect(both.status == 64)
    }
}
