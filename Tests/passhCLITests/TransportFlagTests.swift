import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--transport` / `PASSH_TRANSPORT`: which way hosts are reached.
@Suite struct TransportFlagTests {
    @Test func anUnknownTransportIsAUsageError() async throws {
        let out = try await passh(["--transport", "telnet", "h1", "true"])
        #expect(out.status == 64)
        #expect(
            out.stderrText
                == "passh: --transport telnet: the transport must be auto, openssh or libssh. (see passh --help)\n"
        )
    }

    #if !LIBSSH
    @Test func libSSHInABuildWithoutItSaysHowToRebuild() async throws {
        let flag = try await passh(["--transport", "libssh", "h1", "true"])
        #expect(flag.status == 64)
        #expect(
            flag.stderrText == """
                passh: --transport libssh: this passh was built without libssh; rebuild it with the LibSSH trait (the \
                default; needs libssh-dev). (see passh --help)

                """)
        let variable = try await passh(["h1", "true"], environment: ["PASSH_TRANSPORT": "libssh"])
        #expect(variable.status == 64)
        #expect(variable.stderrText.hasPrefix("passh: PASSH_TRANSPORT=libssh: this passh was built without libssh; "))
    }
    #else
    @Test(.needsTestCluster)
    func libSSHRunsTheCommandWithTheSameOutput() async throws {
        let out = try await passhOnCluster(["--transport", "libssh", "h1,h2", "echo hi; echo oops >&2"])
        #expect(out.status == 0)
        #expect(out.stdoutText == "[h1] hi\n[h2] hi\n" || out.stdoutText == "[h2] hi\n[h1] hi\n")
        #expect(out.stderrText.contains("[h1] oops\n"))
        let variable = try await passhOnCluster(
            ["-l", TestCluster.loginUser, "h3", "kill -TERM $$"],
            environment: ["PASSH_TRANSPORT": "libssh"])
        #expect(variable.status != 0)
        #expect(variable.stderrText.contains("failed: killed by SIGTERM"))
    }

    @Test(.needsTestCluster, .timed)
    func anInterruptEndsTheRemoteCommands() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let run = try await interruptPassh(
            "--transport libssh h1,h2,h3 'echo started; printf partial; \(sleep)'", after: 3, signal: "INT")
        #expect(run.status == 130)
        #expect(run.elapsedMilliseconds < promptExitMilliseconds)
        #expect(
            sortedLines(run.stdout) == [
                "[h1] partial", "[h1] started", "[h2] partial", "[h2] started", "[h3] partial", "[h3] started",
            ])
        #expect(run.stderr == "passh: interrupted by SIGINT; did not finish: h1 h2 h3\n")
        #expect(try await processesLeft(matching: marker).isEmpty)  // the remote commands: the test sshd runs here
    }

    @Test(.needsTestCluster, .timed)
    func aSecondInterruptKillsTheRemoteCommandsAtOnce() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let run = try await interruptPassh(
            "--transport libssh h1,h2 '\(termedCommand(sleep))'", after: 2, signal: "INT", secondAfter: 4)
        #expect(run.status == 130)
        #expect(run.elapsedMilliseconds < promptExitMilliseconds)
        // passh exits at once; its KILL requests left before it did: sshd ends the commands.
        #expect(try await processesLeft(matching: marker, within: .seconds(5)).isEmpty)
    }

    @Test(.needsTestCluster, .timed)
    func aTimeoutOrAFailFastEndsTheRemoteCommands() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let timeout = try await passhOnCluster([
            "--transport", "libssh", "--timeout", "3", "h1", "echo begun; \(sleep)",
        ])
        #expect(timeout.status == 2)
        #expect(timeout.stdoutText == "[h1] begun\n")
        #expect(timeout.stderrText.hasPrefix("[h1] passh: timed out after 3 s\n"))
        #expect(try await processesLeft(matching: marker).isEmpty)
        let (otherSleep, otherMarker) = uniqueSleep(seconds: 30)
        let failFast = try await passhOnCluster([
            "--transport", "libssh", "--fail-fast", "h1,h2,noauth", "echo up; exec \(otherSleep)",
        ])
        #expect(failFast.status == 2)
        #expect(failFast.stderrText.contains("cancelled"))
        #expect(try await processesLeft(matching: otherMarker).isEmpty)
    }

    /// A configuration that names no key file: the login can only come from the agent.
    private static func configWithoutKeys(in dir: String) throws -> String {
        let cluster = String(TestCluster.config.dropLast("/ssh_config".count))
        let config = dir + "/ssh_config"
        try writeFile(
            config,
            Array(
                """
                Host h*
                    HostName 127.0.0.1
                    Port \(TestCluster.port)
                    User passhtest
                    UserKnownHostsFile \(cluster)/known_hosts
                    GlobalKnownHostsFile /dev/null

                """.utf8))
        return config
    }

    @Test(.needsTestCluster)
    func libSSHLogsInThroughTheAgent() async throws {
        _ = TestCluster.config
        let dir = temporaryPath("agent")
        let cluster = String(TestCluster.config.dropLast("/ssh_config".count))
        defer { shell("SSH_AGENT_PID=$(cat \(dir)/pid 2>/dev/null) ssh-agent -k >/dev/null 2>&1; rm -rf \(dir)") }
        let agent = shell(
            """
            mkdir -p \(dir) && eval "$(ssh-agent -a \(dir)/agent.sock -s)" >/dev/null && echo $SSH_AGENT_PID >\(dir)/pid \
            && SSH_AUTH_SOCK=\(dir)/agent.sock ssh-add -q \(cluster)/client_ed25519 2>&1
            """)
        try #require(agent.status == 0, "ssh-agent: \(agent.text)")
        let config = try Self.configWithoutKeys(in: dir)
        // No agent: no key at all, the login is refused.
        let without = try await passh(
            ["--transport", "libssh", "-F", config, "h1", "echo in"], environment: ["SSH_AUTH_SOCK": ""])
        #expect(without.status == 2)
        #expect(without.stdoutText == "")
        let with = try await passh(
            ["--transport", "libssh", "-F", config, "h1,h2", "echo in"],
            environment: ["SSH_AUTH_SOCK": dir + "/agent.sock"])
        #expect(with.status == 0)
        #expect(sortedLines(with.stdoutText) == ["[h1] in", "[h2] in"])
    }

    @Test(
        .needsTestCluster,
        .timeLimit(.minutes(1)))
    func libSSHConnectsThroughAProxyCommand() async throws {
        // How libssh 0.10 runs a ProxyJump too: a forked command relays the connection (there,
        // `ssh -W`; here a relay in perl, as the test sshd forwards nothing). The relay ends only
        // when libssh's SIGTERM reaches it: it used to inherit an engine thread's blocked signals,
        // and passh hung at the end of the session, waiting for it.
        let relay = temporaryPath("relay") + ".pl"
        defer { unlink(relay) }
        try writeFile(
            relay,
            Array(
                """
                use IO::Socket::INET; use IO::Select;
                my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => $ARGV[1]) or die "relay: $!\\n";
                my $in = \\*STDIN; my $sel = IO::Select->new($in, $s);
                while (my @ready = $sel->can_read) {
                    for my $fh (@ready) {
                        my $n = sysread($fh, my $b, 65536);
                        if (!$n) { exit 0 if $fh == $s; shutdown($s, 1); $sel->remove($in); next }
                        syswrite($fh == $s ? \\*STDOUT : $s, $b);
                    }
                }

                """.utf8))
        let out = try await passhOnCluster([
            "--transport", "libssh", "-o", "ProxyCommand=perl \(relay) %h %p", "h1,h2", "echo through",
        ])
        #expect(out.status == 0)
        #expect(sortedLines(out.stdoutText) == ["[h1] through", "[h2] through"])
        #expect(out.stderrText == "")
    }

    @Test func libSSHRefusesWhatItCannotDo() async throws {
        let persist = try await passh(["--transport", "libssh", "--persist", "h1", "true"])
        #expect(persist.status == 64)
        #expect(
            persist.stderrText == """
                passh: --persist uses OpenSSH's connection sharing (ControlMaster): it cannot be used with --transport libssh. \
                (see passh --help)

                """)
        let option = try await passh(["--transport", "libssh", "-o", "ControlMaster=auto", "h1", "true"])
        #expect(option.status == 64)
        #expect(
            option.stderrText == """
                passh: -o ControlMaster=auto: ControlMaster is not an option the libssh transport understands (use --transport openssh)

                """)
        // The library names its option (insecure); the tool words it as its flag.
        let checking = try await passh(["--transport", "libssh", "-o", "StrictHostKeyChecking=no", "h1", "true"])
        #expect(checking.status == 64)
        #expect(
            checking.stderrText == """
                passh: -o StrictHostKeyChecking=no: the libssh transport checks host keys (yes, or accept-new to add \
                unknown keys): use --insecure to skip checking

                """)
    }
    #endif
}
