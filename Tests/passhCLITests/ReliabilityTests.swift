import Passh
import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs a bash script; returns its stdout, split into lines (stderr goes to the test log).
func bash(_ script: String) async throws -> [String] {
    let path = temporaryPath("script") + ".sh"
    try writeFile(path, Array(script.utf8))
    defer { unlink(path) }
    return try await bashScript("bash \(path)").text.split(separator: "\n", omittingEmptySubsequences: false)
        .dropLast().map(String.init)
}

/// The peak RSS, in KiB, that GNU time wrote to `path` (its last line).
func peakKiB(_ path: String) -> Int {
    Int((readText(path) ?? "").split(separator: "\n").last ?? "") ?? .max
}

/// Load, integrity and faults: the failures the classics are known for, each shown absent.
/// Set by `scripts/test --sanitize …`: the binary's memory is then the sanitizer's (AddressSanitizer's
/// quarantine and shadow put one host at 61 MB and the slow reader at 393 MB), so the memory bounds
/// are not checked; everything else is.
private let builtWithSanitizer = getenv("PASSH_TEST_SANITIZER") != nil

@Suite("passh under load, with hostile bytes and faults")
struct ReliabilityTests {
    var cluster: String { TestCluster.config }

    @Test(.needsTestCluster, .alone) func aThousandHostsAtOnceUnderTheDefaultOpenFileLimit() async throws {
        // -t 60: one sshd on two cores takes ~15 s to hand-shake 1000 connections; the point here
        // is descriptors, not connect timeouts.
        let dir = temporaryPath("thousand")
        let out = try await bash(
            """
            mkdir -p \(dir); cd \(dir)
            ulimit -Sn 1024
            /usr/bin/time -f %M -o rss-one \(passhPath) -F \(cluster) -t 60 h0001 'echo ok' >/dev/null 2>&1
            /usr/bin/time -f %M -o rss \(passhPath) -F \(cluster) -t 60 -n 0 'h[0001-1000]' 'echo ok' >out 2>err
            echo "status $?"; sort out | uniq -c; wc -c <err; cat err | head -5
            """)
        defer { shell("rm -rf \(dir)") }
        #expect(
            out == ["status 0"] + (1...1000).map { String(format: "h%04d", $0) }.map { "      1 [\($0)] ok" }.sorted()
                + ["0"])
        // What the hosts add to a one-host run of the same binary: under 56 KiB each (measured in a
        // debug build: 40 KiB before ssh's logs went to a memory file and the channel core came,
        // 48 KiB after). The one-host figure differs by build (the libssh trait maps libssh
        // and OpenSSL: +3 MB), which a bound on the total would count.
        guard !builtWithSanitizer else { return }
        #expect(peakKiB(dir + "/rss-one") < 32 * 1024, "one host: peak RSS \(peakKiB(dir + "/rss-one")) KiB")
        let perHost = (peakKiB(dir + "/rss") - peakKiB(dir + "/rss-one")) / 1000
        #expect(perHost < 56, "peak RSS \(peakKiB(dir + "/rss")) KiB, one host \(peakKiB(dir + "/rss-one")) KiB")
    }

    @Test(.needsTestCluster) func aLimitTooLowForTheFanoutLowersItAndSaysSo() async throws {
        let out = try await bash(
            """
            ulimit -n 256
            \(passhPath) -F \(cluster) -t 30 -n 0 'h[001-100]' 'echo ok' 2>&1 >/dev/null | head -3
            echo "status ${PIPESTATUS[0]}"
            \(passhPath) -F \(cluster) -t 30 -n 0 'h[001-100]' 'echo ok' 2>/dev/null | wc -l
            """)
        #expect(out.count == 3)
        #expect(out.first?.hasPrefix("passh: running at most ") == true)
        #expect(out.first?.hasSuffix(" hosts at once: the open-file limit is 256") == true)
        #expect(out.dropFirst() == ["status 0", "100"])
    }

    @Test(.needsTestCluster, .alone) func memoryStaysBoundedWhileASlowReaderTakes1GB() async throws {
        // 4 hosts × 256 MiB of 64-byte lines, read 64 KiB per millisecond: passh must wait for the
        // reader (and make ssh and the remote commands wait), not buffer.
        let dir = temporaryPath("slow")
        let line = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
        let out = try await bash(
            """
            mkdir -p \(dir); cd \(dir)
            set -o pipefail
            /usr/bin/time -f %M -o rss \(passhPath) -F \(cluster) h1,h2,h3,h4 'yes \(line) | head -c 268435456' |
                perl -e 'while (my $n = sysread(STDIN, my $b, 65536)) { $t += $n; select(undef, undef, undef, 0.001) } print "$t\\n"'
            echo "status $?"
            """)
        defer { shell("rm -rf \(dir)") }
        let lines = 268_435_456 / 64
        #expect(out == ["\(4 * (268_435_456 + lines * "[h1] ".utf8.count))", "status 0"])
        guard !builtWithSanitizer else { return }
        #expect(peakKiB(dir + "/rss") < 64 * 1024, "peak RSS \(peakKiB(dir + "/rss")) KiB")
    }

    @Test(.needsTestCluster, .alone) func everyLineArrivesOnceUnderItsHostInOrder() async throws {
        // 20 hosts × 200,000 lines: awk checks that each host's numbers come 1, 2, 3… with none
        // missing, repeated or under another host's name.
        let out = try await bash(
            """
            \(passhPath) -F \(cluster) -n 20 'h[01-20]' 'seq 1 200000' | awk '
                { n = substr($2, 1) + 0; h = $1
                  if (n != last[h] + 1) { bad++ } last[h] = n; lines++ }
                END { for (h in last) { hosts++; if (last[h] != 200000) bad++ }
                      print hosts, lines, (bad ? "bad " bad : "ok") }'
            echo "status ${PIPESTATUS[0]}"
            """)
        #expect(out == ["20 4000000 ok", "status 0"])
    }

    /// A 1 MiB line, every byte value but the newline, CRLF, and a last line without a newline.
    static let awkwardCommand =
        "head -c 1048576 /dev/zero | tr '\\0' y; echo; printf '"
        + (0...255).filter { $0 != 10 }.map { "\\" + String($0, radix: 8).leftPadded(to: 3) }.joined()
        + "\\n'; printf 'crlf\\r\\n'; printf end"
    static let awkwardLines: [[UInt8]] = [
        Array(repeating: UInt8(ascii: "y"), count: 1 << 20),
        (0...255).filter { $0 != 10 }.map(UInt8.init),
        Array("crlf\r".utf8),
        Array("end".utf8),
    ]

    @Test(.needsTestCluster) func bytesArriveExactlyInEveryMode() async throws {
        let awkward = Self.awkwardCommand
        var exact: [UInt8] = []
        for line in Self.awkwardLines.dropLast() { exact += line + [0x0A] }
        exact += Self.awkwardLines[Self.awkwardLines.count - 1]

        // Streamed: each line prefixed, the last one given a newline.
        let streamed = try await passhOnCluster(["h1", awkward])
        #expect(streamed.status == 0)
        let prefix: [UInt8] = Array("[h1] ".utf8)
        var expectedStream: [UInt8] = []
        for line in Self.awkwardLines { expectedStream += prefix + line + [0x0A] }
        // (a Bool: a failed comparison of 1 MB values would diff them for minutes)
        let streamedExactly = streamed.stdout == expectedStream
        #expect(streamedExactly)

        // Grouped: the block under its header, the last line given a newline.
        let grouped = try await passhOnCluster(["--group", "h1", awkward])
        let groupedExactly = grouped.stdout == Array("--- h1 (ok) ---\n".utf8) + exact + [0x0A]
        #expect(groupedExactly)

        // Files: byte for byte, no newline added.
        let dir = temporaryPath("files")
        defer { shell("rm -rf \(dir)") }
        let files = try await passhOnCluster(["--outdir", dir, "h1", awkward])
        #expect(files.status == 0)
        try writeFile(dir + "/expected", exact)
        #expect(shell("cmp \(dir)/h1 \(dir)/expected && echo same").text == "same\n")

        // JSON: the invalid UTF-8 line as base64, the others as text.
        let json = try await passhOnCluster(["--json", "h1", awkward])
        let lines = json.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == 8)
        let longLine =
            lines[2] == #"{"event":"line","host":"h1","stream":"stdout","line":""#
            + String(repeating: "y", count: 1 << 20) + #""}"#
        #expect(longLine)
        #expect(
            lines[3].hasPrefix(
                #"{"event":"line","host":"h1","stream":"stdout","line_base64":"AAECAwQFBgcICQsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMk"#
            ))
        #expect(lines[4] == #"{"event":"line","host":"h1","stream":"stdout","line":"crlf\r"}"#)
        #expect(lines[5] == #"{"event":"line","host":"h1","stream":"stdout","line":"end","newline":false}"#)
    }

    @Test(.needsTestCluster) func sshDyingMidStreamLosesNothingAlreadyReceived() async throws {
        // Three hosts print 30 lines, wait for the test, and print 30 more; once every host's first
        // 30 lines are out, the test kills the sshd serving one of them and lets the others go on.
        let marker = uniqueMarker("midstream")
        let dir = temporaryPath("midstream")
        let release = dir + "/release"
        let printLines = "while [ $i -lt $1 ]; do echo line $i; i=$((i+1)); done"
        let wait = "j=0; while [ ! -e \(release) ] && [ $j -lt 800 ]; do sleep 0.025; j=$((j+1)); done"
        let out = try await bash(
            """
            mkdir -p \(dir); chmod 755 \(dir); cd \(dir); : >out; : >err
            \(passhPath) -F \(cluster) h1,h2,h3 'echo \(marker); i=0; print() { \(printLines); }; print 30; \(wait); print 60' >out 2>err &
            pid=$!
            n=0; while [ "$(grep -c ' line 29$' out)" -lt 3 ] && [ $n -lt 800 ]; do sleep 0.025; n=$((n+1)); done
            # The oldest such shell: a newer one can be a shell's fork not yet turned into its sleep,
            # whose parent is that shell (killing it gave "killed by SIGKILL", not a lost connection).
            shell=$(pgrep -o -u \(TestCluster.loginUser) -f "^sh -c echo \(marker)")
            kill -9 "$(ps -o ppid= -p "$shell" | tr -d ' ')"
            touch \(release)
            wait $pid
            echo "status $?"
            """)
        defer { shell("rm -rf \(dir)") }
        #expect(out == ["status 2"])
        let stdout = lines(Array((readText(dir + "/out") ?? "").utf8))
        let stderr = lines(Array((readText(dir + "/err") ?? "").utf8))
        let failed = stderr.last.map { String($0.dropFirst("failed at: ".count)) } ?? ""
        #expect(["h1", "h2", "h3"].contains(failed))
        // The hosts went to libssh (the default), which loses the connection; passh says so.
        let lost =
            nativeByDefault
            ? "[\(failed)] passh: connection to \(failed) lost: Socket error: disconnected"
            : "[\(failed)] Connection to 127.0.0.1 closed by remote host.\r"
        #expect(stderr == [lost, "failed at: \(failed)"])
        for host in ["h1", "h2", "h3"] {
            let printed = stdout.filter { $0.hasPrefix("[\(host)] line ") }.map {
                $0.dropFirst("[\(host)] line ".count)
            }
            if host == failed {
                #expect(printed.count == 30, "the lines up to the kill")
                #expect(printed == (0..<printed.count).map { "\($0)"[...] }, "all of them, in order")
            } else {
                #expect(printed == (0..<60).map { "\($0)"[...] })
            }
        }
    }

    @Test(.needsTestCluster, .timed) func eachFaultIsAClearPerHostOutcome() async throws {
        // A listener that never speaks SSH: the connect timeout fires.
        let silent = SilentListener()
        defer { silent.close() }
        let silentHost = silent.host

        let clock = ContinuousClock()
        let started = clock.now
        let out = try await passhOnCluster([
            "-t", "2", "--json", "h1,refused,nosuchhost.invalid,noauth,unknown-key,\(silentHost)", "echo fine",
        ])
        let elapsed = clock.now - started
        #expect(out.status == 2)
        // The structured failures, read back with the library's own decoder.
        let decoded = try JSONLinesDecoder.decode(out.stdout)
        func outcome(_ host: String) -> HostOutcome? { decoded.results.first { $0.host.name == host }?.outcome }
        #expect(outcome("h1") == .exited(0))
        // unknown-key goes to OpenSSH (its HostKeyAlias), the others to libssh.
        let ssh = nativeByDefault ? "" : "ssh: "
        #expect(
            outcome("refused")
                == .failed(
                    HostFailure(
                        .connectionRefused,
                        "\(ssh)connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused")))
        if case .failed(let failure) = outcome("nosuchhost.invalid") {
            #expect(failure.kind == .hostUnreachable)
            #expect(
                failure.message.hasPrefix(
                    nativeByDefault
                        ? "connect to host nosuchhost.invalid port 22: "
                        : "ssh: Could not resolve hostname nosuchhost.invalid: "))
        } else {
            Issue.record("nosuchhost.invalid: \(String(describing: outcome("nosuchhost.invalid")))")
        }
        #expect(
            outcome("noauth")
                == .failed(
                    HostFailure(.authenticationRefused, "passh-no-such-user@127.0.0.1: Permission denied (publickey)."))
        )
        #expect(outcome("unknown-key") == .failed(HostFailure(.hostKeyUnknown, "Host key verification failed.")))
        #expect(
            outcome(silentHost)
                == .failed(HostFailure(.connectionTimedOut, "Connection timed out during banner exchange")))
        #expect(elapsed < .seconds(60), "the silent host does not hold the run (a hang, not a slow machine)")
        // The advice goes to stderr, on its own line, never into the host's output.
        #expect(
            out.stderrText == """
                passh: the host key of unknown-key is not known: check its fingerprint, then add it to known_hosts \
                (ssh-keyscan unknown-key >> ~/.ssh/known_hosts), or skip the check with --insecure
                failed at: refused nosuchhost.invalid noauth unknown-key \(silentHost)

                """)
    }

    @Test(.needsTestCluster) func aRemoteCommandKilledByASignal() async throws {
        // The remote shell survives and reports 128 + the signal: passh names it.
        let reported = try await passhOnCluster(["--group", "h1", "sleep 5 & kill -TERM $!; wait $!"])
        #expect(
            reported.stdoutText
                == "--- h1 (failed: exit 143 (128 + SIGTERM: a remote shell reporting a killed command)) ---\n")
        // The remote shell itself is killed: libssh (the default here) reports the signal.
        if nativeByDefault {
            let native = try await passhOnCluster(["h1", "kill -KILL $$"])
            #expect(native.stderrText == "[h1] passh: failed: killed by SIGKILL\nfailed at: h1\n")
        }
        // OpenSSH's client drops the signal's name; passh says so.
        let silent = try await passhOnCluster(["--transport", "openssh", "h1", "kill -KILL $$"])
        #expect(
            silent.stderrText
                == "[h1] passh: failed: exit 255 without a message: ssh's status for its own errors; here the "
                + "remote command was probably killed by a signal\nfailed at: h1\n")
    }

    @Test(arguments: [
        ([""], "passh: invalid host pattern \"\": empty pattern\n"),
        ([","], "passh: invalid host pattern \",\": empty name between commas\n"),
        (
            ["node[1-2000000]"],
            "passh: host pattern \"node[1-2000000]\" expands to 2000000 hosts, more than the limit of 1000000\n"
        ),
        (["node[1-"], "passh: invalid host pattern \"node[1-\": missing ']'\n"),
        (["node[a-c]"], "passh: invalid host pattern \"node[a-c]\": \"a-c\" is not a number or range\n"),
        (["h\u{7}1"], "passh: invalid host \"h\\u{7}1\": whitespace or control character in host\n"),
        (["web1,\u{1B}]0;pwned\u{7}"], "passh: invalid host pattern \"\\u{1b}]0;pwned\\u{7}\": ']' without '['\n"),
    ])
    func hostileHostsAreRefusedBeforeAnySSH(hosts: [String], message: String) async throws {
        let (fakeSSH, log) = try recordingSSH()
        let out = try await passh(["--ssh", fakeSSH] + hosts + ["true"])
        #expect(out.status == 64)
        #expect(out.stderrText == message)
        #expect(readText(log) == nil)
    }

    @Test func badFilesAreRefusedBeforeAnySSH() async throws {
        let (fakeSSH, log) = try recordingSSH()
        let directory = try await passh(["--ssh", fakeSSH, "-i", "/tmp", "h1", "true"])
        #expect(directory.status == 1)
        #expect(directory.stderrText == "Not a file: /tmp is a directory\n")
        let missingHosts = try await passh(["--ssh", fakeSSH, "-h", "/nonexistent/hosts", "true"])
        #expect(missingHosts.status == 1)
        #expect(missingHosts.stderrText == "No such file: /nonexistent/hosts\n")
        #expect(readText(log) == nil)
    }

    @Test(.needsTestCluster) func anUnreadableInputFileIsRefused() async throws {
        // Root reads everything: the check runs passh as the test cluster's unprivileged account.
        guard getuid() == 0 else { return }
        let dir = temporaryPath("unreadable")
        let out = try await bash(
            """
            mkdir -p \(dir) && chmod 755 \(dir) && cp \(passhPath) \(dir)/passh && chmod 755 \(dir)/passh
            echo secret >\(dir)/secret && chmod 600 \(dir)/secret
            runuser -u \(TestCluster.loginUser) -- \(dir)/passh --ssh /bin/false -i \(dir)/secret h1 true 2>&1
            echo "status $?"
            """)
        defer { shell("rm -rf \(dir)") }
        #expect(out == ["Cannot read file: \(dir)/secret: Permission denied", "status 1"])
    }

    @Test func theRemoteCommandNeverMeetsALocalShell() async throws {
        let marker = "/tmp/passh-local-shell-\(getpid())"
        let (fakeSSH, log) = try recordingSSH()
        let out = try await passh([
            "--ssh", fakeSSH, "h1", "echo $(touch \(marker))", "`touch \(marker)`", ";", "touch", marker,
        ])
        #expect(out.status == 0)
        #expect(access(marker, F_OK) != 0, "nothing ran locally")
        #expect(
            readText(log)
                == "-T -o LogLevel=INFO -o ConnectTimeout=6 -o BatchMode=yes -E LOG -- h1 echo $(touch \(marker)) `touch \(marker)` ; touch \(marker)\n"
        )
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: Swift.max(0, width - count)) + self
    }

    init(format: String, _ value: Int) {
        // Only "h%04d"-style formats are needed here.
        let width = Int(format.drop { $0 != "%" }.dropFirst().prefix { $0.isNumber }) ?? 0
        let prefix = String(format.prefix { $0 != "%" })
        self = prefix + String(value).leftPadded(to: width)
    }
}
