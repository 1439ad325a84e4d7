import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `passh` binary against the test cluster's real sshd: exact output and exit status.
@Suite("passh command line", .needsTestCluster)
struct CLITests {
    @Test func prefixesEveryLineWithItsHost() async throws {
        let out = try await passhOnCluster(["h1,h2,h3", "echo out-$((1+1)); echo err >&2"])
        #expect(out.status == 0)
        #expect(out.sortedStdoutLines == ["[h1] out-2", "[h2] out-2", "[h3] out-2"])
        #expect(out.sortedStderrLines == ["[h1] err", "[h2] err", "[h3] err"])
    }

    @Test func lastLineWithoutNewlineGetsOne() async throws {
        let out = try await passhOnCluster(["h1", "printf 'a\\nb'; printf 'c' >&2"])
        #expect(out.stdoutText == "[h1] a\n[h1] b\n")
        #expect(out.stderrText == "[h1] c\n")
        #expect(out.status == 0)
    }

    @Test func commandWordsReachSSHUntouched() async throws {
        // `-la` belongs to ls, not to passh; ssh joins the words with spaces for the remote shell.
        let out = try await passhOnCluster(["h1", "ls", "-la", "-d", "/"])
        #expect(out.status == 0)
        #expect(out.stdoutText.hasPrefix("[h1] dr"))
        #expect(out.stdoutText.hasSuffix(" /\n"))
        let quoted = try await passhOnCluster(["h1", "printf", "'%s|'", "a", "-n", "--help"])
        #expect(quoted.stdoutText == "[h1] a|-n|--help|\n")
    }

    @Test func failedHostsAreNamedInTheGivenOrder() async throws {
        let out = try await passhOnCluster([
            "h3,h1,h2,h4", "case $(hostname) in *) [ -n \"$SSH_CLIENT\" ] && exit 1;; esac",
        ])
        #expect(out.status == 2)
        #expect(out.stdout.isEmpty)
        // Hosts that failed without a word are explained, once each, before the summary.
        #expect(
            out.stderrText == """
                [h3] passh: failed: exit 1
                [h1] passh: failed: exit 1
                [h2] passh: failed: exit 1
                [h4] passh: failed: exit 1
                failed at: h3 h1 h2 h4

                """)
    }

    @Test func refusedConnectionFailsOnlyThatHost() async throws {
        // By default the hosts go to libssh, whose failure passh words.
        let out = try await passhOnCluster(["h1,refused,h2", "echo ok"])
        #expect(out.status == 2)
        #expect(out.sortedStdoutLines == ["[h1] ok", "[h2] ok"])
        let refused = "connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused"
        #expect(
            out.stderrText
                == (nativeByDefault ? "[refused] passh: \(refused)\n" : "[refused] ssh: \(refused)\r\n")
                + "failed at: refused\n")
        // ssh ends its own messages with \r\n; passh passes bytes through as they are.
        let ssh = try await passhOnCluster(["--transport", "openssh", "h1,refused,h2", "echo ok"])
        #expect(ssh.status == 2)
        #expect(ssh.sortedStdoutLines == ["[h1] ok", "[h2] ok"])
        #expect(
            ssh.stderrText
                == "[refused] ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused\r\nfailed at: refused\n"
        )
    }

    @Test func nonZeroExitIsAFailure() async throws {
        let out = try await passhOnCluster(["h1,h2", "test $(id -u) -lt 0"])
        #expect(out.status == 2)
        #expect(out.stderrText == "[h1] passh: failed: exit 1\n[h2] passh: failed: exit 1\nfailed at: h1 h2\n")
    }

    @Test func stdinFileGoesWholeToEveryHost() async throws {
        let path = "/tmp/passh-cli-stdin-\(getpid())"
        let content = String(repeating: "passh\n", count: 50_000)
        try writeFile(path, Array(content.utf8))
        defer { unlink(path) }
        let out = try await passhOnCluster([
            "-i", path, "-n", "0", (1...10).map { "h\($0)" }.joined(separator: ","), "wc -c",
        ])
        #expect(out.status == 0)
        #expect(out.sortedStdoutLines == (1...10).map { "[h\($0)] 300000" }.sorted())
    }

    @Test func missingStdinFileStopsBeforeAnySSH() async throws {
        let (fakeSSH, log) = try recordingSSH()
        let out = try await passh(["--ssh", fakeSSH, "-i", "/nonexistent/file", "h1", "true"])
        #expect(out.status == 1)
        #expect(out.stdout.isEmpty)
        #expect(out.stderrText == "No such file: /nonexistent/file\n")
        #expect(shell("cat \(log) 2>/dev/null").text == "")
    }

    @Test(arguments: [
        (
            "h1,-oProxyCommand=touch /tmp/pwned",
            "passh: invalid host \"-oProxyCommand=touch /tmp/pwned\": a host must not begin with '-'\n"
        ),
        ("h1,,h2", "passh: invalid host pattern \"h1,,h2\": empty name between commas\n"),
        ("h1,h 2", "passh: invalid host \"h 2\": whitespace or control character in host\n"),
    ])
    func badHostsAreRefusedBeforeAnySSH(hosts: String, message: String) async throws {
        let (fakeSSH, log) = try recordingSSH()
        let out = try await passh(["--ssh", fakeSSH, hosts, "true"])
        #expect(out.status == 64)
        #expect(out.stderrText == message)
        #expect(shell("cat \(log) 2>/dev/null").text == "")
    }

    @Test func hostKeyCheckingIsOnUnlessInsecure() async throws {
        let checked = try await passhOnCluster(["unknown-key", "echo reached"])
        #expect(checked.status == 2)
        #expect(checked.stdout.isEmpty)
        #expect(
            checked.stderrText == """
                [unknown-key] Host key verification failed.\r
                passh: the host key of unknown-key is not known: check its fingerprint, then add it \
                to known_hosts (ssh-keyscan unknown-key >> ~/.ssh/known_hosts), or skip the check with --insecure
                failed at: unknown-key

                """)
        let insecure = try await passhOnCluster(["--insecure", "unknown-key", "echo reached"])
        #expect(insecure.stdoutText == "[unknown-key] reached\n")
        #expect(
            insecure.stderrText
                == "passh: warning: --insecure: host keys are not checked, so anyone between you and the hosts can pose as them\n"
        )
        #expect(insecure.status == 0)
        let changed = try await passhOnCluster(["changed-key", "echo reached"])
        #expect(changed.status == 2)
        #expect(
            changed.stderrText.contains("[changed-key] @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n")
        )
        #expect(
            changed.stderrText.hasSuffix(
                """
                [changed-key] Host key verification failed.\r
                passh: the host key of changed-key has changed: if that was expected, remove the old key \
                (ssh-keygen -R changed-key) and connect again; if not, someone may be posing as the host
                failed at: changed-key

                """))
    }

    @Test(arguments: [
        (
            ["-I", "h1"],
            "passh: -I cannot be used without a COMMAND (the shell reads its commands from stdin). (see passh --help)\n"
        ),
        (
            ["--tty", "h1"],
            "passh: --tty cannot be used without a COMMAND (the shell reads its commands from stdin). (see passh --help)\n"
        ),
        (["-n=-1", "h1", "true"], "passh: -n must be 0 (no limit) or more, not -1. (see passh --help)\n"),
        (["-n", "-1", "h1", "true"], "passh: -n must be 0 (no limit) or more, not -1. (see passh --help)\n"),
        (
            ["--timeout", "9.3e15", "h1", "true"],
            "passh: --timeout must be a number of seconds above 0 and at most 1000000000, not 9.3e+15. (see passh --help)\n"
        ),
        (
            ["-t", "0", "h1", "true"],
            "passh: -t must be a number of seconds from 1 to 1000000000, not 0. (see passh --help)\n"
        ),
        (["--persist-seconds", "5", "h1", "true"], "passh: --persist-seconds needs --persist. (see passh --help)\n"),
        (["-n", "lots", "h1", "true"], "passh: The value 'lots' is invalid for '-n <PROCS>' (see passh --help)\n"),
        (
            ["--timeout=-1", "h1", "true"],
            "passh: --timeout must be a number of seconds above 0 and at most 1000000000, not -1.0. (see passh --help)\n"
        ),
        (["--bogus", "h1", "true"], "passh: Unknown option '--bogus' (see passh --help)\n"),
        ([], "passh: Missing the hosts: give HOSTS or -h FILE. (see passh --help)\n"),
    ])
    func usageErrorsAreOneLine(arguments: [String], message: String) async throws {
        let (fakeSSH, log) = try recordingSSH()
        let out = try await passh(["--ssh", fakeSSH] + arguments)
        #expect(out.status == 64)
        #expect(out.stdout.isEmpty)
        #expect(out.stderrText == message)
        #expect(readText(log) == nil)
    }

    @Test func helpAndVersion() async throws {
        let help = try await passh(["--help"])
        #expect(help.status == 0)
        #expect(help.stdoutText.hasPrefix("OVERVIEW: Run one command over SSH on many hosts at once.\n"))
        #expect(help.stdoutText.contains("passh -h hosts.txt -x web3 --timeout 30 'systemctl restart app'"))
        let version = try await passh(["--version"])
        #if LIBSSH
        #expect(version.stdoutText == "2.1.0 (transports: openssh, libssh)\n")
        #else
        #expect(version.stdoutText == "2.1.0 (transports: openssh)\n")
        #endif
    }

    @Test func blockingExampleRunsTwiceFromPlainCode() async throws {
        let out = try await runBinary(
            productsDirectory + "/passh-blocking-example", ["-F", TestCluster.config, "h1,refused", "echo hi"])
        #expect(out.status == 0)
        #expect(
            out.stdoutText == """
                round 1 h1: ok hi
                round 1 refused: failed 
                round 2 h1: ok hi
                round 2 refused: failed 

                """)
    }

    /// Top-level code that stops reading events ends the run: the program exits, no process left.
    @Test(.timeLimit(.minutes(1))) func eventsExampleEndsItsRunFromTopLevelCode() async throws {
        let marker = uniqueMarker("events-example")
        let out = try await runBinary(productsDirectory + "/passh-events-example", [marker])
        #expect(out.status == 0)
        #expect(out.stdoutText == "first line: 1\n")
        #expect(try await processesLeft(matching: marker, within: .zero).isEmpty)
    }
}

/// A stand-in for ssh that only records that it was started: to prove that nothing was.
func recordingSSH() throws -> (path: String, log: String) {
    let directory = "/tmp/passh-fake-ssh-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let path = directory + "/ssh"
    let log = directory + "/started"
    // ssh's log file (`-E /proc/PID/fd/N`) is recorded as `-E LOG`.
    shell("mkdir -p \(directory)")
    try writeFile(path, Array("#!/bin/sh\necho \"$@\" | sed 's|-E /proc/[0-9]*/fd/[0-9]*|-E LOG|' >> \(log)\n".utf8))
    shell("chmod +x \(path)")
    return (path, log)
}
