import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The output modes of `passh`, on the test cluster.
@Suite("passh output modes", .needsTestCluster)
struct OutputModeTests {
    @Test func groupPrintsOneBlockPerHostUnderItsStatus() async throws {
        let out = try await passhOnCluster([
            "--group", "h1,h2,refused", "echo one; echo two; echo err >&2; printf last",
        ])
        #expect(out.status == 2)
        // Blocks come in the order hosts finish; each is whole.
        let blocks = out.stdoutText.split(separator: "--- ", omittingEmptySubsequences: true).map(String.init).sorted()
        let refused = "connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused"
        #expect(
            blocks == [
                "h1 (ok) ---\none\ntwo\nlast\n",
                "h2 (ok) ---\none\ntwo\nlast\n",
                "refused (failed: \(nativeByDefault ? "" : "ssh: ")\(refused)) ---\n",
            ])
        // libssh's failure is passh's to word, once, after the blocks; ssh's is the host's stderr.
        #expect(
            out.sortedStderrLines
                == (nativeByDefault
                    ? ["[refused] passh: \(refused)", "err", "err", "failed at: refused"]
                    : ["err", "err", "failed at: refused", "ssh: \(refused)\r"]))
        // Through ssh, its message is the host's stderr block.
        let ssh = try await passhOnCluster(["--transport", "openssh", "--group", "refused", "true"])
        #expect(
            ssh.stdoutText
                == "--- refused (failed: ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused) ---\n"
        )
        #expect(
            ssh.sortedStderrLines == [
                "failed at: refused",
                "ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused\r",
            ])
    }

    @Test func gatherFoldsHostsWithIdenticalOutput() async throws {
        let out = try await passhOnCluster(["-b", "h0001,h0002,h0003,h0005,h0004", "echo same; echo also >&2"])
        #expect(out.status == 0)
        #expect(
            out.stdoutText == """
                ---------------
                h[0001-0005] (5)
                ---------------
                same
                also

                """)
        let silent = try await passhOnCluster(["--gather", "h1,h2,h3", "true"])
        #expect(silent.stdoutText == "")
    }

    @Test func gatherSeparatesDifferentOutputs() async throws {
        let out = try await passhOnCluster(["--gather", "--local", "a1,a2,b1", "echo ${PASSH_HOST%?}"])
        #expect(out.status == 0)
        #expect(
            out.stdoutText == """
                ---------------
                a[1-2] (2)
                ---------------
                a
                ---------------
                b1
                ---------------
                b

                """)
    }

    @Test func jsonLinesCarryEveryEvent() async throws {
        let out = try await passhOnCluster([
            "--json", "h1", "echo 'say \"hi\"'; printf '\\377\\n'; echo oops >&2; printf tail; exit 3",
        ])
        #expect(out.status == 2)
        let lines = out.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == 8)
        #expect(lines[0] == #"{"event":"start","version":2,"tool":"passh"}"#)
        #expect(
            lines[1] == #"{"event":"started","host":"h1","transport":"\#(nativeByDefault ? "libssh" : "openssh")"}"#)
        #expect(
            Set(lines[2..<6]) == [
                #"{"event":"line","host":"h1","stream":"stdout","line":"say \"hi\""}"#,
                #"{"event":"line","host":"h1","stream":"stdout","line_base64":"/w=="}"#,
                #"{"event":"line","host":"h1","stream":"stdout","line":"tail","newline":false}"#,
                #"{"event":"line","host":"h1","stream":"stderr","line":"oops"}"#,
            ])
        #expect(
            lines[6].hasPrefix(
                #"{"event":"finished","host":"h1","status":"failed","exit_code":3,"signal":null,"signal_number":null,"error":"oops","failure":null,"started":true,"attempts":1,"duration_ms":"#
            ))
        #expect(
            lines[7].hasPrefix(
                #"{"event":"summary","summary":{"hosts":1,"ok":0,"failed":1,"timeout":0,"cancelled":0,"not_started":0,"failed_hosts":["h1"],"duration_ms":"#
            ))
        #expect(out.stderrText == "failed at: h1\n")
    }

    @Test func outdirAndErrdirHoldEachHostsBytes() async throws {
        let dir = "/tmp/passh-outdir-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { shell("rm -rf \(dir)") }
        let out = try await passhOnCluster([
            "--outdir", dir + "/out", "--errdir", dir + "/err", "h1,h2", "printf 'a\\r\\nb'; echo e >&2",
        ])
        #expect(out.status == 0)
        #expect(out.stdout.isEmpty && out.stderr.isEmpty)
        #expect(readText(dir + "/out/h1") == "a\r\nb")
        #expect(readText(dir + "/out/h2") == "a\r\nb")
        #expect(readText(dir + "/err/h1") == "e\n")
        #expect(shell("stat -c %a \(dir)/out \(dir)/out/h1").text == "700\n600\n")
        let onlyOut = try await passhOnCluster(["--outdir", dir + "/only", "h1", "echo o; echo e >&2"])
        #expect(readText(dir + "/only/h1") == "o\n")
        #expect(onlyOut.stderrText == "[h1] e\n")
    }

    @Test func maxRCReturnsTheLargestRemoteStatus() async throws {
        let out = try await passhOnCluster(["--max-rc", "--local", "a,bb,ccc", "exit ${#PASSH_HOST}"])
        #expect(out.status == 3)
        let ssh = try await passhOnCluster(["--max-rc", "h1,refused", "exit 4"])
        #expect(ssh.status == 255)
        let fine = try await passhOnCluster(["--max-rc", "h1", "true"])
        #expect(fine.status == 0)
    }

    @Test func colorAlwaysColorsThePrefixes() async throws {
        let out = try await passhOnCluster(["--color", "always", "h1", "echo o; echo e >&2"])
        #expect(out.stdoutText == "\u{1B}[94m[h1]\u{1B}[0m o\n")
        #expect(out.stderrText == "\u{1B}[91m[h1]\u{1B}[0m e\n")
        let auto = try await passhOnCluster(["h1", "echo o"])  // not a terminal
        #expect(auto.stdoutText == "[h1] o\n")
    }

    @Test func onlyOneOutputMode() async throws {
        let out = try await passh(["--json", "--group", "h1", "true"])
        #expect(out.status == 64)
        #expect(out.stderrText == "passh: Choose one output mode; got --group and --json. (see passh --help)\n")
    }
}
