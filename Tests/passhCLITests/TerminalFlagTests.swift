import PasshTestSupport
import Testing

/// `--tty`: a terminal for every command (`ssh -tt`, or libssh's `pty-req`), with its costs.
@Suite struct TerminalFlagTests {
    /// The transports of this build.
    static let transports = TransportKind.transports

    @Test(.needsTestCluster, arguments: transports)
    func theCommandGetsATerminalAndItsCosts(transport: TransportKind) async throws {
        let out = try await passhOnCluster(
            transport.flags + [
                "--tty", "h1", "test -t 1 && echo terminal; echo oops >&2",
            ])
        #expect(out.status == 0)
        // A terminal merges stderr into stdout and ends lines in CR LF.
        #expect(out.stdoutText == "[h1] terminal\r\n[h1] oops\r\n")
        #expect(out.stderrText == "")
        let plain = try await passhOnCluster(transport.flags + ["h1", "test -t 1 && echo terminal; echo oops >&2"])
        #expect(plain.stdoutText == "")
        #expect(plain.stderrText == "[h1] oops\n")
    }

    @Test(.needsTestCluster, .timed, arguments: transports)
    func aTimedOutHostsCommandIsHungUp(transport: TransportKind) async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let out = try await passhOnCluster(
            transport.flags + [
                "--tty", "--timeout", "3", "h1,h2", "echo started; \(sleep)",
            ])
        #expect(out.status == 2)
        #expect(out.stdoutText.contains("[h1] started\r\n"))
        // The remote commands (the test sshd runs on this machine) are gone with their terminal.
        #expect(try await processesLeft(matching: marker, within: .seconds(5)).isEmpty)
    }

    @Test(arguments: [(["-i", "/dev/null"], "-i"), (["-I"], "-I")])
    func aTerminalCannotTakeStdin(flags: [String], name: String) async throws {
        let out = try await passh(["--tty"] + flags + ["h1", "cat"])
        #expect(out.status == 64)
        #expect(
            out.stderrText
                == "passh: --tty cannot be used with \(name): the host's terminal would echo the input back. (see passh --help)\n"
        )
    }

    @Test func aTerminalNeedsSSH() async throws {
        let out = try await passh(["--tty", "--local", "h1", "true"])
        #expect(out.status == 64)
        #expect(out.stderrText == "passh: --local runs no ssh: it cannot be used with --tty. (see passh --help)\n")
    }
}
