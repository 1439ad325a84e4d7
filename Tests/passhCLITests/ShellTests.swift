import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `passh HOSTS` with no command: the shell, driven on a pseudo-terminal (``drive(_:environment:steps:)``)
/// and as a script on stdin. The remote command's `$PPID` is the sshd process of its host's
/// connection: the same one across lines means the connection was kept, and its absence after
/// passh ends means nothing was left on the host.
@Suite("The shell (passh HOSTS with no command)", .needsTestCluster)
struct ShellTests {
    /// A private `XDG_STATE_HOME` (the history) for one test.
    func stateHome() -> String {
        let path = temporaryPath("state")
        mkdir(path, 0o700)
        return path
    }

    /// The sshd processes named by `[host] PID` lines of the transcript.
    func servers(in transcript: String) -> [Int32] {
        transcript.split(whereSeparator: \.isNewline).compactMap { line in
            // `[h01] 1234`, the name coloured on a terminal.
            guard line.contains("h0"), line.contains("] "), !line.contains("passh:"),
                let pid = line.split(separator: " ").last
            else { return nil }
            return Int32(pid)
        }
    }

    func gone(_ pids: [Int32]) async throws -> Bool {
        #expect(pids.count >= 2)
        return try await waitUntil { pids.allSatisfy { kill($0, 0) != 0 } }
    }

    @Test func aSessionKeepsItsConnectionsAndItsHistory() async throws {
        let state = stateHome()
        defer { shell("rm -rf \(state)") }
        let session = try await drive(
            ["h[01-02]"], environment: ["XDG_STATE_HOME": state],
            steps: [
                .expect("Working with hosts: h[01-02]"), .expect("passh[2]> "),
                .type("echo $PPID\n"), .expect("2 ok, "), .expect("passh[2]> "),
                .type("echo $PPID\n"), .expect("2 ok, "), .expect("passh[2]> "),
                .type("+h03\n"), .expect("Working with hosts: h[01-03]"), .expect("passh[3]> "),
                .type("?\n"), .expect("h03: not connected"), .expect("passh[3]> "),
                .type("=\n"), .expect("Switching to gathered output format"), .expect("passh[3]> "),
                .type("echo same\n"), .expect("same"), .expect("3 ok, "), .expect("passh[3]> "),
                .type("=\n"), .expect("Switching to standard output format"), .expect("passh[3]> "),
                .type("-h01\n"), .expect("Working with hosts: h[02-03]"), .expect("passh[2]> "),
                .type("test -e /nonexistent-\(UInt32.random(in: 1...999_999))\n"), .expect("0 ok, 2 failed (h02 h03)"),
                .expect("passh[2]> "),
                .type(":retry\n"), .expect("0 ok, 2 failed (h02 h03)"), .expect("passh[2]> "),
                .type(":down\n"), .expect("passh: no host is disconnected"), .expect("passh[2]> "),
                .type(":nope\n"), .expect("unknown shell command :nope"), .expect("passh[2]> "),
                .type("quit\n"),
            ])
        #expect(session.status == 0, "\(session.transcript)")
        let pids = servers(in: session.transcript)
        #expect(pids.count == 4)
        #expect(pids.count == 4 && pids[0] != pids[1] && Set(pids[0...1]) == Set(pids[2...3]), "\(pids)")
        #expect(session.transcript.contains("h[01-03]"))  // the gathered view's header
        #expect(try await gone(pids))
        let history = state + "/passh/history"
        let lines: [String] = (readText(history) ?? "").split(separator: "\n").map(String.init)
        let typed: [String] = ["echo $PPID", "echo $PPID", "+h03", "?", "=", "echo same", "=", "-h01"]
        #expect(lines.count == 13 && Array(lines[..<8]) == typed && lines[8].hasPrefix("test -e "))
        #expect(lines.count == 13 && Array(lines[9...]) == [":retry", ":down", ":nope", "quit"])
        var info = stat()
        #expect(stat(history, &info) == 0 && info.st_mode & 0o777 == 0o600)
    }

    @Test func controlCStopsTheCommandEverywhereAndGivesThePromptBack() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let session = try await drive(
            ["h[01-02]"], environment: ["XDG_STATE_HOME": stateHome()],
            steps: [
                .expect("passh[2]> "), .type("echo $PPID\n"), .expect("2 ok, "), .expect("passh[2]> "),
                .type("echo started; \(sleep)\n"), .sleepRunning(marker, count: 2), .type("\u{03}"),
                .expect("passh[2]> "), .type("echo after\n"), .expect("2 ok, "), .expect("passh[2]> "),
                .type("\u{03}"), .expect("passh[2]> "), .type("\u{04}"),
            ])
        #expect(session.status == 0, "\(session.transcript)")
        #expect(session.transcript.contains("[h01] after") && session.transcript.contains("[h02] after"))
        #expect(try await processesLeft(matching: marker).isEmpty)
        #expect(try await gone(servers(in: session.transcript)))
    }

    @Test(.timed) func controlCTwiceKillsTheCommandAtOnce() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let session = try await drive(
            ["h[01-02]"], environment: ["XDG_STATE_HOME": stateHome()],
            steps: [
                .expect("passh[2]> "), .type("echo $PPID\n"), .expect("2 ok, "), .expect("passh[2]> "),
                // The second ^C once the first was taken (two at once are one signal).
                .type(termedCommand(sleep) + "\n"), .sleepRunning(marker, count: 2), .type("\u{03}"),
                .expect("] termed"),
                .type("\u{03}"), .expect("killed every process at once"), .expect("passh[2]> "), .type("\u{04}"),
            ])
        #expect(session.status == 0, "\(session.transcript)")
        // Once seen (1 run in ~90) and not reproduced: the sleeps still ran 5 s after. Should it come
        // again, the message shows who is left, with their sessions, and what the terminal showed.
        let left = try await processesLeft(matching: marker)
        #expect(
            left.isEmpty,
            "\(shell("ps -eo pid,ppid,pgid,sid,stat,args | grep -e \(marker) -e sshd").text)\(session.transcript)")
        #expect(try await gone(servers(in: session.transcript)))
    }

    @Test(arguments: [SIGTERM, SIGHUP])
    func aSignalStopsEverythingAndEndsPasshByIt(_ signal: Int32) async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let session = try await drive(
            ["h[01-02]"], environment: ["XDG_STATE_HOME": stateHome()],
            steps: [
                .expect("passh[2]> "), .type("echo $PPID\n"), .expect("2 ok, "), .expect("passh[2]> "),
                .type("echo started; \(sleep)\n"), .sleepRunning(marker, count: 2), .signal(signal),
            ])
        #expect(session.status == 128 + signal, "\(session.transcript)")
        #expect(try await processesLeft(matching: marker).isEmpty)
        #expect(try await gone(servers(in: session.transcript)))
    }

    /// The hosts' output lines of a transcript (`[h01] text`, uncoloured), in order. A command that
    /// runs for a second shows a progress line (ended by `\r`), erased (`ESC [K`) before the next line
    /// (seen under load: a first command on OpenSSH waits for the masters to come up).
    func outputLines(of transcript: String) -> [String] {
        transcript.split(whereSeparator: \.isNewline).map { String($0.replacing("\u{1b}[K", with: "")) }
            .filter { $0.hasPrefix("[h0") }
    }

    @Test func upArrowRecallsALineAndTheSessionLeavesNothingBehind() async throws {
        let state = stateHome()
        defer { shell("rm -rf \(state)") }
        let marker = "again-\(UInt32.random(in: 1...999_999))"
        let session = try await drive(
            ["h[01-02]"], environment: ["XDG_STATE_HOME": state, "NO_COLOR": "1"],
            steps: [
                .expect("passh[2]> "), .type("echo $PPID\n"), .expect("2 ok, "), .expect("passh[2]> "),
                .type("echo \(marker)\n"), .expect("2 ok, "), .expect("passh[2]> "),
                .type("\u{1b}[A\n"), .expect("2 ok, "), .expect("passh[2]> "),
                // Up to the first line, down, up again.
                .type("\u{1b}[A\u{1b}[A\u{1b}[A\u{1b}[B\u{1b}[A\n"), .expect("2 ok, "), .expect("passh[2]> "),
                .type("\u{04}"),
            ])
        #expect(session.status == 0, "\(session.transcript)")
        #expect(session.leftTerminalCooked)
        let lines = outputLines(of: session.transcript)
        let pids = servers(in: session.transcript)
        #expect(lines.count == 8 && pids.count == 4, "\(session.transcript)")
        #expect(
            lines.count == 8
                && lines[2..<6].sorted() == [
                    "[h01] \(marker)", "[h01] \(marker)", "[h02] \(marker)", "[h02] \(marker)",
                ])
        #expect(lines.count == 8 && Set(lines[6...]) == Set(lines[..<2]))  // echo $PPID again, on the same connections
        #expect(try await gone(pids))
        let history = (readText(state + "/passh/history") ?? "").split(separator: "\n").map(String.init)
        #expect(history == ["echo $PPID", "echo \(marker)", "echo \(marker)", "echo $PPID"])
    }

    @Test func theHistoryOfAnEarlierSessionIsRecalled() async throws {
        let state = stateHome()
        defer { shell("rm -rf \(state)") }
        mkdir(state + "/passh", 0o700)
        let marker = "before-\(UInt32.random(in: 1...999_999))"
        try writeFile(state + "/passh/history", Array("echo older\necho \(marker)\n".utf8))
        let session = try await drive(
            ["h01"], environment: ["XDG_STATE_HOME": state, "NO_COLOR": "1"],
            steps: [
                .expect("passh[1]> "), .type("\u{1b}[A\n"), .expect("1 ok, "), .expect("passh[1]> "),
                .type("\u{1b}[A\u{1b}[A\u{1b}[A\n"), .expect("1 ok, "), .expect("passh[1]> "), .type("quit\n"),
            ])
        #expect(session.status == 0, "\(session.transcript)")
        #expect(outputLines(of: session.transcript) == ["[h01] \(marker)", "[h01] older"])
    }

    @Test func theEditingKeys() async throws {
        let session = try await drive(
            ["h01"], environment: ["XDG_STATE_HOME": stateHome(), "NO_COLOR": "1"],
            steps: [
                .expect("passh[1]> "),
                .type("cho a\u{01}e\n"), .expect("1 ok, "), .expect("passh[1]> "),  // ^A
                .type("echo b\u{01}\u{05}c\n"), .expect("1 ok, "), .expect("passh[1]> "),  // ^E
                .type("echo x y\u{17}d\n"), .expect("1 ok, "), .expect("passh[1]> "),  // ^W
                .type("xxecho e\u{01}\u{1b}[C\u{1b}[C\u{15}\n"), .expect("1 ok, "), .expect("passh[1]> "),  // ^U
                .type("echo f gone\u{1b}[D\u{1b}[D\u{1b}[D\u{1b}[D\u{0b}\n"), .expect("1 ok, "),
                .expect("passh[1]> "),  // ← ^K
                .type("echo gx\u{7f}\u{08}g\n"), .expect("1 ok, "), .expect("passh[1]> "),  // backspace, ^H
                .type("echo h\u{1b}[D\u{1b}[Ci\n"), .expect("1 ok, "), .expect("passh[1]> "),  // ← →
                .type("quit\n"),
            ])
        #expect(session.status == 0, "\(session.transcript)")
        #expect(
            outputLines(of: session.transcript) == [
                "[h01] a", "[h01] bc", "[h01] x d", "[h01] e", "[h01] f", "[h01] g", "[h01] hi",
            ])
    }

    @Test func controlCDropsAHalfTypedLine() async throws {
        let state = stateHome()
        defer { shell("rm -rf \(state)") }
        let session = try await drive(
            ["h01"], environment: ["XDG_STATE_HOME": state, "NO_COLOR": "1"],
            steps: [
                .expect("passh[1]> "), .type("echo never"), .expect("echo never"), .type("\u{03}"), .expect("^C"),
                .expect("passh[1]> "), .type("echo after\n"), .expect("1 ok, "), .expect("passh[1]> "),
                .type("\u{03}"), .expect("passh[1]> "), .type("\u{1b}[A\n"), .expect("1 ok, "),
                .expect("passh[1]> "), .type("\u{04}"),
            ])
        #expect(session.status == 0, "\(session.transcript)")
        #expect(session.leftTerminalCooked)
        #expect(outputLines(of: session.transcript) == ["[h01] after", "[h01] after"])
        #expect(readText(state + "/passh/history") == "echo after\necho after\n")
    }

    @Test(arguments: [SIGTERM, SIGHUP])
    func aSignalAtThePromptEndsPasshAndGivesTheTerminalBack(_ signal: Int32) async throws {
        let session = try await drive(
            ["h[01-02]"], environment: ["XDG_STATE_HOME": stateHome(), "NO_COLOR": "1"],
            steps: [
                .expect("passh[2]> "), .type("echo $PPID\n"), .expect("2 ok, "), .expect("passh[2]> "),
                .type("echo half"), .expect("echo half"), .signal(signal),
            ])
        #expect(session.status == 128 + signal, "\(session.transcript)")
        #expect(session.leftTerminalCooked)
        #expect(try await gone(servers(in: session.transcript)))
    }

    @Test func withoutATerminalStdinIsAScript() async throws {
        let script = temporaryPath("script")
        defer { unlink(script) }
        try writeFile(script, Array("echo one\n\n+h03\necho two\n".utf8))
        let ok = try await passhOnCluster(["h[01-02]"], stdinPath: script)
        #expect(ok.status == 0)
        #expect(ok.sortedStdoutLines == ["[h01] one", "[h01] two", "[h02] one", "[h02] two", "[h03] two"])
        #expect(!ok.stderrText.contains("passh["))  // no prompt
        try writeFile(script, Array("false\necho last\n".utf8))
        #expect(try await passhOnCluster(["h[01-02]"], stdinPath: script).status == 0)
        try writeFile(script, Array("echo first\nexit 3\n".utf8))
        let failed = try await passhOnCluster(["h[01-02]"], stdinPath: script)
        #expect(failed.status == 2)
        #expect(failed.stderrText.contains("0 ok, 2 failed (h01 h02)"))
    }

    @Test func bangRunsACommandOnThisMachine() async throws {
        let script = temporaryPath("script")
        defer { unlink(script) }
        try writeFile(script, Array("!echo here $PASSH_HOST\necho there\n!\n!exit 3\n".utf8))
        let run = try await passhOnCluster(["h01"], stdinPath: script)
        #expect(run.status == 2, "\(run.stderrText)")
        #expect(run.stdoutText == "[LOCAL] here LOCAL\n[h01] there\n")
        #expect(run.stderrText.contains("passh: ! needs a command to run on this machine (!COMMAND)\n"))
        #expect(run.stderrText.contains("failed at: LOCAL\n0 ok, 1 failed (LOCAL), "), "\(run.stderrText)")
        try writeFile(script, Array("!exit 3\n!true\n".utf8))
        #expect(try await passhOnCluster(["h01"], stdinPath: script).status == 0)
    }

    @Test func controlCStopsALocalCommand() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let session = try await drive(
            ["h01"], environment: ["XDG_STATE_HOME": stateHome(), "NO_COLOR": "1"],
            steps: [
                .expect("passh[1]> "), .type("!echo started; \(sleep)\n"), .expect("[LOCAL] started"),
                .sleepRunning(marker), .type("\u{03}"), .expect("passh[1]> "), .type("!echo after\n"),
                .expect("1 ok, "), .expect("passh[1]> "), .type("quit\n"),
            ])
        #expect(session.status == 0, "\(session.transcript)")
        #expect(session.transcript.contains("[LOCAL] after"), "\(session.transcript)")
        #expect(try await processesLeft(matching: marker).isEmpty)
    }

    @Test func theHistoryNeverFollowsASymbolicLink() async throws {
        let state = stateHome()
        defer { shell("rm -rf \(state)") }
        mkdir(state + "/passh", 0o700)
        let target = state + "/target"
        try writeFile(target, Array("kept\n".utf8))
        symlink(target, state + "/passh/history")
        let session = try await drive(
            ["h01"], environment: ["XDG_STATE_HOME": state],
            steps: [.expect("no history"), .expect("passh[1]> "), .type("echo x\n"), .expect("1 ok"), .type("quit\n")])
        #expect(session.status == 0, "\(session.transcript)")
        #expect(readText(target) == "kept\n")
    }

    @Test func withoutACommandStdinMustBeFree() async throws {
        let refused = try await passhOnCluster(["-I", "h01"])
        #expect(refused.status == 64)
        #expect(refused.stderrText.contains("-I cannot be used without a COMMAND"))
    }
}
