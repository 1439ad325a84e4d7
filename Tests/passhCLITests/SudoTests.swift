import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--sudo` and `--sudo-password-file` against the test sshd, whose account's sudo asks for a
/// password (`TestCluster.sudoPassword`) and whose `nopw*` hosts' sudo asks for none.
@Suite(.needsTestClusterSudo, .ownMasterConnections)
struct SudoTests {
    static let modes = TransportKind.overSSH.map(\.flags)

    /// A file of ours, mode 0600, holding `password` (the cluster's by default) and a line end.
    static func passwordFile(_ password: String? = nil) throws -> String {
        let path = temporaryPath("sudo-pw")
        try writeFile(path, Array(((password ?? TestCluster.sudoPassword ?? "") + "\n").utf8))
        return path
    }

    @Test(arguments: modes)
    func theCommandRunsAsRootAndGetsTheStdinFileWhole(_ mode: [String]) async throws {
        let password = try Self.passwordFile()
        let input = temporaryPath("sudo-input")
        try writeFile(input, Array("one\ntwo\n".utf8))
        defer { shell("rm -f \(password) \(input)") }
        let out = try await passhOnCluster(
            mode + ["--sudo", "--sudo-password-file", password, "-i", input, "h1,h2", "id -un; cat"])
        #expect(out.status == 0)
        #expect(out.sortedStdoutLines == ["[h1] one", "[h1] root", "[h1] two", "[h2] one", "[h2] root", "[h2] two"])
        // In order on each host (the two hosts' lines may interleave).
        #expect(lines(out.stdout).filter { $0.hasPrefix("[h1] ") } == ["[h1] root", "[h1] one", "[h1] two"])
        #expect(lines(out.stdout).filter { $0.hasPrefix("[h2] ") } == ["[h2] root", "[h2] one", "[h2] two"])
        #expect(out.stderrText == "")
    }

    @Test func aCopyAndAGatherRunAsRootToo() async throws {
        let password = try Self.passwordFile()
        let source = temporaryPath("sudo-copy-source")
        let dest = "/root/" + temporaryPath("sudo-copy").split(separator: "/").last!  // only root may write there
        let gathered = temporaryPath("sudo-gathered")
        try writeFile(source, Array("for root\n".utf8))
        defer { shell("rm -rf \(password) \(source) \(dest) \(gathered)") }
        let copy = try await passhOnCluster([
            "--sudo", "--sudo-password-file", password, "h1", "--copy", source, "--dest", dest,
        ])
        #expect(copy.status == 0)
        #expect(copy.stderrText == "")
        let name = source.split(separator: "/").last.map(String.init) ?? ""
        #expect(readText("\(dest)/\(name)") == "for root\n")
        #expect(shell("stat -c %U \(dest)/\(name)").text == "root\n")
        let gather = try await passhOnCluster(
            ["--sudo", "--sudo-password-file", password, "h1,h2", "--rcopy", "\(dest)/\(name)", "--dest", gathered])
        #expect(gather.status == 0)
        #expect(readText("\(gathered)/h2/\(name)") == "for root\n")
    }

    @Test func withARollout() async throws {
        let password = try Self.passwordFile()
        defer { shell("rm -f \(password)") }
        let out = try await passhOnCluster([
            "--sudo", "--sudo-password-file", password, "--canary", "1", "--batch", "2", "--retry", "1",
            "--retry-delay", "0",
            "h1,refused,h3,h4", "id -un",
        ])
        #expect(out.status == 2)
        #expect(out.sortedStdoutLines == ["[h1] root", "[h3] root", "[h4] root"])
        #expect(out.stderrText.hasSuffix("failed at: refused\n"))
    }

    @Test func aHostWhoseSudoAsksNothingSkipsThePassword() async throws {
        // No password file and no terminal: the first host's sudo needs none, so none is asked for.
        let out = try await passhOnCluster(["--sudo", "nopw1,nopw2", "id -un"])
        #expect(out.status == 0)
        #expect(out.sortedStdoutLines == ["[nopw1] root", "[nopw2] root"])
        #expect(out.stderrText == "")
        // Given a password all the same, it still gets its stdin file from the first byte.
        let password = try Self.passwordFile()
        let input = temporaryPath("sudo-input")
        try writeFile(input, Array("first\n".utf8))
        defer { shell("rm -f \(password) \(input)") }
        let given = try await passhOnCluster([
            "--sudo", "--sudo-password-file", password, "-i", input, "h1,nopw1", "cat",
        ])
        #expect(given.status == 0)
        #expect(given.sortedStdoutLines == ["[h1] first", "[nopw1] first"])
    }

    @Test(.timeLimit(.minutes(1)))
    func aWrongPasswordFailsTheHostWithSudosReasonAndDoesNotHang() async throws {
        let password = try Self.passwordFile("not-the-password")
        let input = temporaryPath("sudo-input")
        try writeFile(input, Array("data\n".utf8))
        defer { shell("rm -f \(password) \(input)") }
        let out = try await passhOnCluster(["--sudo", "--sudo-password-file", password, "-i", input, "h1", "cat"])
        #expect(out.status == 2)
        #expect(out.stdoutText == "")
        #expect(out.stderrText == "[h1] passh: sudo: wrong password; stopped after one attempt\nfailed at: h1\n")
    }

    /// Issue 22, item 9: a wrong password cost three failed logins per host (the two mark lines
    /// were sudo's second and third tries): with pam_faillock's `deny = 3`, one typo locked the
    /// account everywhere. The cluster's `passhlock` account's sudo counts them (pam_faillock).
    @Test(.timeLimit(.minutes(1)))
    func aWrongPasswordCostsOneFailedLogin() async throws {
        // The tally is the account's: a suite run beside this one (another checkout) takes its turn.
        try await withMachineLock("faillock") {
            guard shell("\(repositoryRoot)/scripts/testcluster faillock").status == 0,
                let right = readText(TestCluster.directory + "/lock_password")?.split(separator: "\n").first
            else {
                Issue.record("scripts/testcluster faillock could not make the passhlock account")
                return
            }
            let tally = "faillock --dir \(TestCluster.directory)/faillock --user passhlock"
            func failures() -> Int {
                shell(tally).text.split(separator: "\n").filter { $0.first?.isNumber == true }.count
            }
            shell(tally + " --reset")
            let wrong = try Self.passwordFile("not-the-password")
            let password = try Self.passwordFile(String(right))
            let input = temporaryPath("sudo-input")
            try writeFile(input, Array("data\nmore\n".utf8))
            defer { shell("rm -f \(wrong) \(password) \(input)") }
            let out = try await passhOnCluster([
                "-l", "passhlock", "--sudo", "--sudo-password-file", wrong, "-i", input, "h1,h2", "cat",
            ])
            #expect(out.status == 2)
            #expect(out.stdoutText == "")
            #expect(
                out.sortedStderrLines == [
                    "[h1] passh: sudo: wrong password; stopped after one attempt",
                    "[h2] passh: sudo: wrong password; stopped after one attempt", "failed at: h1 h2",
                ])
            #expect(failures() == 2, "one failed login per host")
            // Only passhlock's: other tests beside this one (and other test runs) may hold their own.
            let sleepers = "pgrep -u passhlock -f '^sleep 2147483647$'"
            #expect(
                try await waitUntil(within: .seconds(10)) { shell(sleepers).status != 0 },
                "the check leaves nothing behind: \(shell(sleepers).text)")
            let right2 = try await passhOnCluster([
                "-l", "passhlock", "--sudo", "--sudo-password-file", password, "-i", input, "h1", "id -un; cat",
            ])
            #expect(right2.status == 0)
            #expect(right2.stdoutText == "[h1] root\n[h1] data\n[h1] more\n")
            #expect(right2.stderrText == "")
            #expect(failures() == 0, "a login that succeeded resets the count")
        }
    }

    /// Holding a sudo password, passh leaves no core dump (issue 22, item 11: a trap's core held it).
    @Test func withAPasswordNoCoreIsDumped() async throws {
        let password = try Self.passwordFile()
        defer { shell("rm -f \(password)") }
        let (sleep, marker) = uniqueSleep(seconds: 5)
        let run = Task { try await passhOnCluster(["--sudo", "--sudo-password-file", password, "h1", sleep]) }
        _ = try await waitForProcesses(matching: marker, named: "sleep")
        let passh = processes(matching: "--sudo-password-file \(password)", named: "passh").first
        let limits = passh.flatMap { readText("/proc/\($0)/limits") } ?? ""
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }
        #expect(core?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2) == ["0", "0"])
        for pid in processes(matching: marker, named: "sleep") { kill(pid, SIGKILL) }
        _ = try await run.value
    }

    /// An empty password file, or a blank first line, would be a failed attempt on every host.
    @Test func aBlankPasswordIsRefused() async throws {
        for text in ["", "\n", "  \t\nsecond line\n", "\r\n"] {
            let path = temporaryPath("sudo-pw-blank")
            try writeFile(path, Array(text.utf8))
            defer { unlink(path) }
            let out = try await passhOnCluster(["--sudo", "--sudo-password-file", path, "h1", "true"])
            #expect(out.status == 1, "\(text.debugDescription)")
            #expect(
                out.stderrText
                    == "passh: --sudo-password-file \(path): a sudo password must not be empty or blank\n",
                "\(text.debugDescription)")
        }
    }

    @Test func withoutATerminalToAskOnNothingStarts() async throws {
        let marker = temporaryPath("sudo-started")
        let out = try await passhOnCluster(["--sudo", "h1,h2", "touch \(marker)"])
        #expect(out.status == 1)
        #expect(out.stdoutText == "")
        #expect(
            out.stderrText
                == "passh: sudo on h1 asks for a password, and there is no terminal to ask it on: give it with --sudo-password-file\n"
        )
        #expect(access(marker, F_OK) != 0)
    }

    /// Issue 22, item 12: a first host that is down no longer decides ("asks for a password, and
    /// there is no terminal": the run was refused) — the first hosts that answer do.
    @Test func aFirstHostDownDoesNotDecide() async throws {
        let out = try await passhOnCluster(["--sudo", "refused,nopw1,nopw2", "id -un"])
        #expect(out.status == 2)
        #expect(out.sortedStdoutLines == ["[nopw1] root", "[nopw2] root"])
        let refused =
            nativeByDefault
            ? "[refused] passh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused\n"
            : "[refused] ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused\r\n"
        #expect(out.stderrText == refused + "failed at: refused\n")
    }

    /// Issue 22, item 12: a first host whose sudo needs no password no longer decides for hosts
    /// that need one.
    @Test func aMixedFleetIsAskedForThePassword() async throws {
        let marker = temporaryPath("sudo-mixed")
        defer { unlink(marker) }
        let out = try await passhOnCluster(["--sudo", "nopw1,h1", "touch \(marker)"])
        #expect(out.status == 1)
        #expect(
            out.stderrText
                == "passh: sudo on h1 asks for a password, and there is no terminal to ask it on: give it with --sudo-password-file\n"
        )
        #expect(access(marker, F_OK) != 0, "nothing started")
        // Past the hosts checked first, a host that needs a password and got none says so.
        let hosts = (1...32).map { "nopw\($0)" }.joined(separator: ",") + ",h1"
        let far = try await passhOnCluster(["--sudo", hosts, "true"])
        #expect(far.status == 2)
        #expect(far.stderrText == "[h1] passh: sudo asks for a password here, and none was given\nfailed at: h1\n")
    }

    @Test func aPasswordFileOthersCanReadIsRefused() async throws {
        let password = try Self.passwordFile()
        defer { shell("rm -f \(password)") }
        chmod(password, 0o640)
        let open = try await passhOnCluster(["--sudo", "--sudo-password-file", password, "h1", "true"])
        #expect(open.status == 1)
        #expect(
            open.stderrText
                == "passh: --sudo-password-file \(password): mode 0640 lets others at it: it must be readable by you alone (chmod 600 \(password))\n"
        )
        chmod(password, 0o600)
        chown(password, 65534, 65534)
        let notOurs = try await passhOnCluster(["--sudo", "--sudo-password-file", password, "h1", "true"])
        #expect(notOurs.status == 1)
        #expect(
            notOurs.stderrText
                == "passh: --sudo-password-file \(password): the file is not yours: it must belong to you and be readable by you alone (mode 0600)\n"
        )
        let missing = try await passhOnCluster(["--sudo", "--sudo-password-file", password + ".missing", "h1", "true"])
        #expect(missing.status == 1)
        #expect(missing.stderrText == "passh: --sudo-password-file \(password).missing: no such file\n")
    }

    @Test func usageErrors() async throws {
        let alone = try await passh(["--sudo-password-file", "/dev/null", "h1", "true"])
        #expect(alone.status == 64)
        #expect(alone.stderrText == "passh: --sudo-password-file needs --sudo. (see passh --help)\n")
        let tty = try await passh(["--sudo", "--tty", "h1", "true"])
        #expect(tty.status == 64)
        #expect(
            tty.stderrText
                == "passh: --sudo cannot be used with --tty: the host's terminal would echo the password. (see passh --help)\n"
        )
    }

    /// The password is in no process's argument list or environment (the test sshd runs here: that
    /// covers the remote side too), in no file passh writes and in no output.
    @Test func thePasswordIsNeverExposed() async throws {
        let secret = Array((TestCluster.sudoPassword ?? "").utf8)
        let password = try Self.passwordFile()
        let outdir = temporaryPath("sudo-outdir")
        let failedTo = temporaryPath("sudo-failed")
        defer { shell("rm -rf \(password) \(outdir) \(failedTo)") }
        // Each host's command waits (at most 20 s) until the test has looked at every process while
        // both commands run, then says who it is.
        let release = temporaryPath("sudo-release")
        defer { unlink(release) }
        let marker = uniqueMarker("sudo-waits")
        let returned = Flag()
        let run = Task {
            defer { returned.set() }
            return try await passhOnCluster([
                "--sudo", "--sudo-password-file", password, "--outdir", outdir, "--failed-to", failedTo,
                "h1,h2,refused",
                "i=0; while [ ! -e \(release) ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; id -un # \(marker)",
            ])
        }
        var seen: [String] = []
        // Looked at before, while and after both commands run, until passh has returned.
        let running = try await waitUntil {
            seen += processesExposing(secret)
            return returned.isSet || processes(matching: marker, named: "sh").count >= 2
        }
        #expect(running)
        for _ in 0..<5 { seen += processesExposing(secret) }
        shell("touch \(release)")
        try await waitUntil {
            seen += processesExposing(secret)
            return returned.isSet
        }
        let out = try await run.value
        #expect(out.status == 2)
        #expect(readText(outdir + "/h1") == "root\n")
        #expect(seen.isEmpty, "\(seen)")
        #expect(!contains(out.stdout, secret) && !contains(out.stderr, secret))
        // Every file passh wrote.
        let written = shell("find \(outdir) \(failedTo) -type f").text.split(separator: "\n")
        #expect(written.count == 4)  // a file per host, and the list of failed hosts
        for file in written {
            #expect(!(readText(String(file)) ?? "").contains(TestCluster.sudoPassword ?? "\u{0}"), "\(file)")
        }
        let json = try await passhOnCluster(["--sudo", "--sudo-password-file", password, "--json", "h1", "id -un"])
        #expect(json.stdoutText.contains(#""host":"h1","stream":"stdout","line":"root""#))
        #expect(!contains(json.stdout, secret) && !contains(json.stderr, secret))
    }

    /// On a terminal the password is asked once, without echo, and ^C there leaves the terminal
    /// as it was.
    @Test(.enabled(if: access("/usr/bin/python3", X_OK) == 0, "needs python3 for a pseudo-terminal"))
    func thePromptDoesNotEchoAndPutsTheTerminalBack() async throws {
        let password = try Self.passwordFile()
        defer { shell("rm -f \(password)") }
        let typed = onTerminal(["--sudo", "nopw1,h1,h2", "id -un"], typing: password)
        #expect(typed.hasPrefix("[passh] sudo password: \r\n"))
        // (On a terminal, the progress and summary lines come too.) A first host that needs no
        // password does not decide for the others.
        #expect(
            typed.contains("[h1] root\r\n") && typed.contains("[h2] root\r\n") && typed.contains("[nopw1] root\r\n"))
        #expect(typed.hasSuffix("status 0\necho on\n"))
        #expect(!typed.contains(TestCluster.sudoPassword ?? "\u{0}"))
        let interrupted = onTerminal(["--sudo", "h1,h2", "id -un"], typing: nil)
        // passh ends as ^C ends a program: by SIGINT (2), the terminal as it was.
        #expect(lines(Array(interrupted.utf8)) == ["[passh] sudo password: \r", "status -2", "echo on"])
    }

    /// Runs passh on a pseudo-terminal; when its prompt appears, types the first line of the file
    /// `typing`, or ^C. The terminal's transcript, then `status N` and `echo on` or `echo off`: the
    /// terminal's settings once passh has ended.
    private func onTerminal(_ arguments: [String], typing: String?) -> String {
        let script = temporaryPath("sudo-pty") + ".py"
        let program = """
            import os, pty, sys, termios, time
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(sys.argv[2], sys.argv[2:])
            data, answered, deadline = b"", False, time.time() + 30
            while time.time() < deadline:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
                if not answered and b"password: " in data:
                    # Once passh has turned the echo off (its prompt comes first), it is reading.
                    while termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < deadline:
                        time.sleep(0.01)
                    answered = True
                    os.write(fd, open(sys.argv[1], "rb").readline() if sys.argv[1] else b"\\x03")
            _, status = os.waitpid(pid, 0)
            echo = termios.tcgetattr(fd)[3] & termios.ECHO
            sys.stdout.buffer.write(data + b"status %d\\necho %s\\n" % (os.waitstatus_to_exitcode(status), b"on" if echo else b"off"))
            """
        try? writeFile(script, Array(program.utf8))
        defer { unlink(script) }
        let words = [typing ?? "", passhPath, "-F", TestCluster.config] + arguments
        return shell("/usr/bin/python3 \(script) " + words.map { "'" + $0 + "'" }.joined(separator: " ")).text
    }
}

/// Processes whose argument list or environment holds `secret`.
private func processesExposing(_ secret: [UInt8]) -> [String] {
    processIDs().flatMap { pid in
        ["cmdline", "environ"].filter { contains(readBytes("/proc/\(pid)/\($0)") ?? [], secret) }.map { "\(pid)/\($0)" }
    }
}

private func contains(_ bytes: [UInt8], _ part: [UInt8]) -> Bool {
    !part.isEmpty && bytes.firstRange(of: part) != nil
}
