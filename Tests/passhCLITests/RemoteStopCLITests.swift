import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--persist` and `--stop-remote`: stopping a host stops its remote command, on the OpenSSH transport.
@Suite(
    "passh stops remote commands with --persist, --stop-remote and libssh", .needsTestCluster, .ownMasterConnections,
    .timed)
struct RemoteStopCLITests {
    /// The kinds that keep the promise.
    static let modes = TransportKind.stoppingRemoteCommands

    /// The commands a stop must end whole, each printing `started` first.
    static func commands() -> [(command: String, marker: String)] {
        let sleeps = (0..<3).map { _ in uniqueSleep(seconds: 30) }
        return [
            ("echo started; \(sleeps[0].command)", sleeps[0].marker),
            ("echo started; sh -c 'trap \"exit 3\" TERM; \(sleeps[1].command) & wait'", sleeps[1].marker),
            ("echo started; \(sleeps[2].command) | cat", sleeps[2].marker),
        ]
    }

    @Test(arguments: modes, ["INT", "TERM"])
    func aSignalToPasshStopsTheRemoteCommands(mode: TransportKind, signal: String) async throws {
        for (command, marker) in Self.commands() {
            // Signalled once the sleeps run: a shell's child forked but not yet exec'd takes sshd's
            // TERM as the shell's trap and runs on, out of the KILL's reach (see the README).
            let run = try await interruptPassh(
                "\(mode.flags.joined(separator: " ")) h1,h2 '\(command.replacing("'", with: "'\\''"))'", after: 2,
                signal: signal,
                running: (marker, 2))
            #expect(run.status == (signal == "INT" ? 130 : 143), "\(command)")
            #expect(sortedLines(run.stdout) == ["[h1] started", "[h2] started"], "\(command)")
            #expect(run.stderr == "passh: interrupted by SIG\(signal); did not finish: h1 h2\n", "\(command)")
            #expect(try await processesLeft(matching: marker, within: .seconds(5)).isEmpty, "\(command)")
        }
    }

    @Test(arguments: modes)
    func aTimeoutOrAFailFastStopsTheRemoteCommands(mode: TransportKind) async throws {
        let flags = mode.flags
        for (command, marker) in Self.commands() {
            let timeout = try await passhOnCluster(flags + ["--timeout", "3", "h1", command])
            #expect(timeout.status == 2)
            #expect(timeout.stdoutText == "[h1] started\n")
            #expect(timeout.stderrText == "[h1] passh: timed out after 3 s\nfailed at: h1\n")
            #expect(try await processesLeft(matching: marker, within: .seconds(5)).isEmpty, "\(command)")
        }
        // `env` (the second sshd) fails once the sleeps of h1 and h2 (the first) run: a stop that
        // reaches a shell between its fork and the sleep's exec is the limit the README names.
        for (command, marker) in Self.commands() {
            let sleepsRun =
                "i=0; while [ \"$(pgrep -c -x -f 'sleep \(marker)')\" -lt 2 ] && [ $i -lt 400 ]; do sleep 0.025; i=$((i+1)); done"
            let failFast = try await passhOnCluster(
                flags + [
                    "--fail-fast", "h1,h2,env",
                    "case \"$SSH_CONNECTION\" in *' \(TestCluster.port)') \(command) ;; *) \(sleepsRun); exit 3 ;; esac",
                ])
            #expect(failFast.status == 2)
            #expect(failFast.stderrText.hasSuffix("failed at: h1 h2 env\n"), "\(failFast.stderrText)")
            #expect(try await processesLeft(matching: marker, within: .seconds(5)).isEmpty, "\(command)")
        }
    }

    @Test(arguments: modes)
    func aCommandKilledByASignalIsReportedSo(mode: TransportKind) async throws {
        let flags = mode.flags
        let out = try await passhOnCluster(flags + ["h1", "echo out; kill -TERM $$"])
        #expect(out.status == 2)
        #expect(out.stdoutText == "[h1] out\n")
        #expect(out.stderrText == "[h1] passh: failed: killed by SIGTERM\nfailed at: h1\n")
        let own = try await passhOnCluster(flags + ["h1", "exit 255"])
        #expect(own.stderrText == "[h1] passh: failed: exit 255\nfailed at: h1\n")
    }

    @Test func plainSSHSaysOnceThatRemoteCommandsMayRunOn() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        defer { killProcesses(matching: marker) }
        let out = try await passhOnCluster([
            "--transport", "openssh", "--timeout", "3", "h1,h2", "echo started; \(sleep)",
        ])
        #expect(out.status == 2)
        #expect(
            out.stderrText == """
                [h1] passh: timed out after 3 s
                [h2] passh: timed out after 3 s
                failed at: h1 h2
                passh: ssh cannot stop a remote command: those of the stopped hosts may still run (--stop-remote or --persist stops them)

                """)
        #expect(!processes(matching: marker, named: "sleep").isEmpty)  // what the notice says
    }

    /// With no flags, a host that went to libssh has its remote command stopped on `--timeout` and
    /// `--fail-fast`; one that went to OpenSSH (the `cert` alias: a certificate) keeps the notice.
    @Test(.enabled(if: nativeByDefault, "a build without libssh"))
    func theDefaultStopsRemoteCommandsOfHostsOnLibSSH() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        defer { killProcesses(matching: marker, named: "sleep") }
        let native = try await passhOnCluster(["--timeout", "3", "h1,h2", "echo started; \(sleep)"])
        #expect(native.status == 2)
        #expect(native.stdoutText.split(separator: "\n").sorted() == ["[h1] started", "[h2] started"])
        #expect(
            native.stderrText == "[h1] passh: timed out after 3 s\n[h2] passh: timed out after 3 s\nfailed at: h1 h2\n")
        #expect(try await processesLeft(matching: marker, named: "sleep", within: .seconds(5)).isEmpty)

        // --fail-fast: `env` (the second sshd) fails once h1 and h2 (the first) sleep.
        let command =
            "echo started; case \"$SSH_CONNECTION\" in *' \(TestCluster.port)') \(sleep) ;; *) sleep 0.5; exit 3 ;; esac"
        let failFast = try await passhOnCluster(["--fail-fast", "h1,h2,env", command])
        #expect(failFast.status == 2)
        #expect(failFast.stderrText.hasSuffix("failed at: h1 h2 env\n"))
        #expect(try await processesLeft(matching: marker, named: "sleep", within: .seconds(5)).isEmpty)

        let mixed = try await passhOnCluster(["--timeout", "3", "h1,cert", "echo started; \(sleep)"])
        #expect(mixed.status == 2)
        #expect(
            mixed.stderrText == """
                [h1] passh: timed out after 3 s
                [cert] passh: timed out after 3 s
                failed at: h1 cert
                \(Self.notice)

                """)
        // cert's command runs on (OpenSSH), h1's does not (libssh): h1's ends, cert's stays.
        _ = try await waitUntil(within: .seconds(5)) { processes(matching: marker, named: "sleep").count <= 1 }
        #expect(processes(matching: marker, named: "sleep").count == 1)
    }

    static let notice =
        "passh: ssh cannot stop a remote command: those of the stopped hosts may still run (--stop-remote or --persist stops them)"

    @Test func stopRemoteIsForOpenSSHOnly() async throws {
        let local = try await passh(["--local", "--stop-remote", "h1", "true"])
        #expect(local.status == 64)
        #expect(local.stderrText.contains("--local runs no ssh: it cannot be used with --stop-remote."))
    }
}
