import Passh
import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

#if LIBSSH
/// An ssh-agent for one test, holding `keys` in that order; stopped when released.
final class TestAgent {
    let socket: String
    private let pid: Int32

    init(keys: [String]) throws {
        socket = temporaryPath("agent") + ".sock"
        let output = shell("ssh-agent -s -a \(socket)").text
        let pidLine = output.split(separator: ";").first { $0.contains("SSH_AGENT_PID=") }
        pid = Int32(pidLine?.split(separator: "=").last ?? "") ?? -1
        try #require(pid > 0, "ssh-agent did not start: \(output)")
        for key in keys {
            #expect(shell("SSH_AUTH_SOCK=\(socket) ssh-add -q \(key) 2>&1").status == 0)
        }
    }

    deinit {
        kill(pid, SIGTERM)
        unlink(socket)
    }
}

/// `--transport auto` (the default) on the test cluster's aliases: which hosts go where, and that
/// each gets the result `ssh HOST` gives.
@Suite(
    "auto: per host, libssh or OpenSSH", .serialized,
    .enabled(if: TestCluster.isAvailable, "no OpenSSH server for scripts/testcluster: install openssh-server"))
struct AutoTransportTests {
    static var directory: String { TestCluster.directory }

    @Test func listHostsVerboseSaysEachHostsTransportAndWhy() async throws {
        let out = try await passhOnCluster(["--list-hosts", "-v", "h1,cert,kbdint,unknown-key,gss,env,ionly,refused"])
        #expect(out.status == 0)
        #expect(
            out.stdoutText == """
                h1           libssh
                cert         openssh  CertificateFile
                kbdint       openssh  PreferredAuthentications keyboard-interactive
                unknown-key  openssh  HostKeyAlias
                gss          libssh
                env          libssh
                ionly        libssh
                refused      libssh

                """)
        // A flag only OpenSSH serves takes every host there; a forced transport says no why.
        let persist = try await passhOnCluster(["--list-hosts", "-v", "--persist", "h1,cert"])
        #expect(persist.stdoutText == "h1    openssh  --persist\ncert  openssh  --persist\n")
        let stopRemote = try await passhOnCluster(["--list-hosts", "-v", "--stop-remote", "h1"])
        #expect(stopRemote.stdoutText == "h1  openssh  --stop-remote\n")
        let named = try await passhOnCluster(["--list-hosts", "-v", "--ssh", "/usr/bin/ssh", "h1"])
        #expect(named.stdoutText == "h1  openssh  --ssh\n")
        let forced = try await passhOnCluster(["--list-hosts", "-v", "--transport", "openssh", "h1,cert"])
        #expect(forced.stdoutText == "h1    openssh\ncert  openssh\n")
        let native = try await passhOnCluster(["--list-hosts", "-v", "--transport", "libssh", "h1,cert"])
        #expect(native.stdoutText == "h1    libssh\ncert  libssh\n")
        let local = try await passhOnCluster(["--list-hosts", "-v", "--local", "h1"])
        #expect(local.stdoutText == "h1  local\n")
        // An -o option libssh lacks applies to every host.
        let option = try await passhOnCluster(["--list-hosts", "-v", "-o", "ForwardAgent=yes", "h1,h2"])
        #expect(option.stdoutText == "h1  openssh  ForwardAgent\nh2  openssh  ForwardAgent\n")
        let variable = try await passhOnCluster(
            ["--list-hosts", "-v", "h1"], environment: ["PASSH_TRANSPORT": "openssh"])
        #expect(variable.stdoutText == "h1  openssh\n")
        let usage = try await passhOnCluster(["-v", "h1", "true"])
        #expect(usage.status == 64)
        #expect(
            usage.stderrText
                == "passh: -v goes with --list-hosts (it prints each host's transport). (see passh --help)\n")
    }

    @Test func jsonStartedNamesEachHostsTransport() async throws {
        let out = try await passhOnCluster(["--json", "h1,cert", "echo hi"])
        #expect(out.status == 0)
        let started = lines(out.stdout).filter { $0.contains(#""event":"started""#) }.sorted()
        #expect(
            started == [
                #"{"event":"started","host":"cert","transport":"openssh"}"#,
                #"{"event":"started","host":"h1","transport":"libssh"}"#,
            ])
        let decoded = try JSONLinesDecoder.decode(out.stdout)
        #expect(decoded.transports == [try Host("h1"): "libssh", try Host("cert"): "openssh"])
        #expect(decoded.results.allSatisfy { $0.outcome == .exited(0) })
    }

    /// `cert` logs in only with its certificate: auto sends it to OpenSSH, which can; libssh forced
    /// cannot, and tries the key alone.
    @Test func aCertificateHostGoesToOpenSSHAndLogsIn() async throws {
        let out = try await passhOnCluster(["cert,h1", "echo in"])
        #expect(out.status == 0)
        #expect(out.sortedStdoutLines == ["[cert] in", "[h1] in"])
        #expect(out.stderrText == "")
        let native = try await passhOnCluster(["--transport", "libssh", "cert", "echo in"])
        #expect(native.status == 2)
        #expect(
            native.stderrText
                == "[cert] passh: \(TestCluster.loginUser)@127.0.0.1: Permission denied (publickey).\nfailed at: cert\n"
        )
    }

    /// `kbdint` asks for keyboard-interactive only: OpenSSH offers no key (BatchMode leaves it
    /// nothing to try), as passh's choice of OpenSSH keeps it.
    @Test func keyboardInteractiveOnlyGoesToOpenSSHAndOffersNoKey() async throws {
        let out = try await passhOnCluster(["--json", "kbdint", "true"])
        #expect(out.status == 2)
        let decoded = try JSONLinesDecoder.decode(out.stdout)
        #expect(decoded.transports[try Host("kbdint")] == "openssh")
        #expect(
            decoded.results.first?.outcome
                == .failed(
                    HostFailure(
                        .authenticationRefused, "\(TestCluster.loginUser)@127.0.0.1: Permission denied (publickey).")))
    }

    /// IdentitiesOnly: of an agent's keys, only those of the identity files are offered (OpenSSH's
    /// rule) — here with MaxAuthTries 2 on the server, so that offering the agent's other keys
    /// first would fail the login.
    @Test func identitiesOnlyOffersOnlyTheIdentityFilesKeys() async throws {
        let agent = try TestAgent(keys: (1...3).map { "\(Self.directory)/agent\($0)_ed25519" })
        let environment = ["SSH_AUTH_SOCK": agent.socket]
        // ionly: agent3, whose private key is not on disk: only the agent can sign with it.
        // env: the cluster's client key, a file the agent does not hold.
        for transport in ["auto", "openssh", "libssh"] {
            let out = try await passhOnCluster(
                ["--transport", transport, "ionly,env", "echo in"], environment: environment)
            #expect(out.status == 0, "\(transport): \(out.stderrText)")
            #expect(out.sortedStdoutLines == ["[env] in", "[ionly] in"], "\(transport)")
            // Without IdentitiesOnly, the agent's keys go first (agent1, agent2) and the server
            // hangs up: both transports say so, alike.
            let all = try await passhOnCluster(
                ["--transport", transport, "--json", "-o", "IdentitiesOnly=no", "env", "echo in"],
                environment: environment)
            let decoded = try JSONLinesDecoder.decode(all.stdout)
            #expect(
                decoded.results.first?.outcome
                    == .failed(
                        HostFailure(
                            .authenticationRefused,
                            "Received disconnect from 127.0.0.1 port \(TestCluster.authPort):2: Too many authentication failures"
                        )), "\(transport)")
        }
        let json = try await passhOnCluster(["--json", "ionly", "true"], environment: environment)
        #expect(try JSONLinesDecoder.decode(json.stdout).transports[try Host("ionly")] == "libssh")
    }

    /// SendEnv and SetEnv reach the host over libssh as over OpenSSH (the second sshd accepts
    /// PASSH_*).
    @Test func sendEnvAndSetEnvReachTheHostOnEitherTransport() async throws {
        var outputs: [String] = []
        for transport in ["auto", "openssh"] {
            let out = try await passhOnCluster(
                ["--transport", transport, "env", "env | grep -E '^PASSH_(SET|TEST_ONE|TEST_TWO|OTHER)=' | sort"],
                environment: ["PASSH_TEST_ONE": "1", "PASSH_TEST_TWO": "two words", "PASSH_OTHER": "no"])
            #expect(out.status == 0)
            outputs.append(out.stdoutText)
        }
        #expect(outputs[0] == "[env] PASSH_SET=set\n[env] PASSH_TEST_ONE=1\n[env] PASSH_TEST_TWO=two words\n")
        #expect(outputs[0] == outputs[1])
    }

    /// `StrictHostKeyChecking accept-new`: an unknown key is added once per name, as OpenSSH adds
    /// it, however many hosts share it; a changed key is refused; the file stays whole when passh
    /// is killed.
    @Test func acceptNewAddsEachNewKeyOnce() async throws {
        let native = temporaryPath("accept-new-libssh")
        let ssh = temporaryPath("accept-new-openssh")
        defer { unlink(native); unlink(ssh) }
        try writeFile(native, [])
        try writeFile(ssh, [])
        let port = TestCluster.port
        // Six names for the one server: aliases, its address in three spellings (ssh records the
        // canonical one), and localhost.
        let hosts = ["h1", "h2", "127.0.0.1:\(port)", "127.1:\(port)", "2130706433:\(port)", "localhost:\(port)"]
            .joined(separator: ",")
        func options(_ file: String) -> [String] {
            [
                "-l", TestCluster.loginUser, "-o", "IdentityFile=\(Self.directory)/client_ed25519",
                "-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=\(file)",
                "-o", "GlobalKnownHostsFile=/dev/null",
            ]
        }
        let out = try await passhOnCluster(options(native) + ["-n", "0", "--json", hosts + ",h[3-200]", "true"])
        #expect(out.status == 0, "\(out.stderrText)")
        #expect(Set(try JSONLinesDecoder.decode(out.stdout).transports.values) == ["libssh"])
        let reference = try await passhOnCluster(options(ssh) + ["--transport", "openssh", "-n", "1", hosts, "true"])
        #expect(reference.status == 0, "\(reference.stderrText)")
        let added = (readText(native) ?? "").split(separator: "\n").sorted()
        #expect(added == (readText(ssh) ?? "").split(separator: "\n").sorted())
        #expect(added.map { $0.split(separator: " ")[0] } == ["[127.0.0.1]:\(port)", "[localhost]:\(port)"])
        // Known now: the next run adds nothing, and OpenSSH with strict checking accepts them.
        _ = try await passhOnCluster(options(native) + [hosts, "true"])
        #expect((readText(native) ?? "").split(separator: "\n").sorted() == added)
        let strict = try await passhOnCluster(
            [
                "--transport", "openssh", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(native)", "h1",
                "echo ok",
            ])
        #expect(strict.stdoutText == "[h1] ok\n")
        // Hashed, as HashKnownHosts asks; OpenSSH reads the names back.
        let hashed = temporaryPath("accept-new-hashed")
        defer { unlink(hashed) }
        _ = try await passhOnCluster(options(hashed) + ["-o", "HashKnownHosts=yes", "h1,h2,h3", "true"])
        let hashedLines = (readText(hashed) ?? "").split(separator: "\n")
        #expect(hashedLines.count == 1)
        #expect(hashedLines.first?.hasPrefix("|1|") == true)
        let check = try await passhOnCluster(
            [
                "--transport", "openssh", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(hashed)", "h1",
                "echo ok",
            ])
        #expect(check.stdoutText == "[h1] ok\n")
        // A changed key is refused, as with `yes`.
        let changed = temporaryPath("accept-new-changed")
        defer { unlink(changed) }
        let other = (readText(Self.directory + "/other_host_ed25519.pub") ?? "").split(separator: " ").prefix(2)
        try writeFile(changed, Array("[127.0.0.1]:\(port) \(other.joined(separator: " "))\n".utf8))
        let refused = try await passhOnCluster(options(changed) + ["--json", "h1", "true"])
        let outcome = try JSONLinesDecoder.decode(refused.stdout).results.first?.outcome
        guard case .failed(let failure) = outcome else {
            Issue.record("h1 with a changed key: \(String(describing: outcome))")
            return
        }
        #expect(failure.kind == .hostKeyChanged)
        #expect((readText(changed) ?? "").split(separator: "\n").count == 1)
    }

    /// Killed while its hosts run, passh leaves known_hosts whole: every key it accepted is there,
    /// on a line of its own.
    @Test func aKilledRunLeavesKnownHostsWhole() async throws {
        let file = temporaryPath("accept-new-killed")
        defer { unlink(file) }
        try writeFile(file, Array("# kept\n".utf8))
        let (sleep, marker) = uniqueSleep(seconds: 30)
        defer { killProcesses(matching: marker, named: "sleep") }
        let port = TestCluster.port
        let run = try await interruptPassh(
            "-l \(TestCluster.loginUser) -o IdentityFile=\(Self.directory)/client_ed25519 "
                + "-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=\(file) -o GlobalKnownHostsFile=/dev/null "
                + "127.0.0.1:\(port),localhost:\(port),h1 'echo up; \(sleep)'",
            after: 3, signal: "KILL", running: (marker, 3))
        #expect(run.status == 137)
        let kept = (readText(file) ?? "").split(separator: "\n", omittingEmptySubsequences: false)
        #expect(kept.count == 4 && kept.last == "", "\(kept)")
        #expect(kept.first == "# kept")
        let names: [String] = kept.dropFirst().dropLast().map { line in String(line.prefix { $0 != " " }) }
        let expected: Set<String> = ["[127.0.0.1]:\(port)", "[localhost]:\(port)"]
        #expect(Set(names) == expected)
    }
}
#else
/// `--transport auto` in a build without libssh: every host goes to OpenSSH.
@Suite("auto: a build without libssh")
struct AutoTransportWithoutLibSSHTests {
    @Test func everyHostGoesToOpenSSHAndSaysWhy() async throws {
        let out = try await passh(["--list-hosts", "-v", "h1,cert"])
        #expect(out.stdoutText == "h1    openssh  built without libssh\ncert  openssh  built without libssh\n")
    }
}
#endif
