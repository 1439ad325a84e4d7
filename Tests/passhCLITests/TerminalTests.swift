import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What passh shows when stderr is a terminal: run under `script`, which gives it a pseudo-terminal.
@Suite("passh on a terminal", .needsTestCluster)
struct TerminalTests {
    /// Runs passh under a pseudo-terminal; returns everything it wrote there (stdout and stderr).
    func onTerminal(_ arguments: String, environment: String = "unset NO_COLOR;", release: Release? = nil)
        async throws -> String
    {
        try await PasshTestSupport.onTerminal(
            "\(environment) exec \(passhPath) -F \(TestCluster.config) \(arguments)", release: release)
    }

    /// The screen's last line as it stays: what follows the last erasure of a progress line, if any.
    func lastLine(of screen: String) -> String {
        let last = screen.split(separator: "\r\n").last.map(String.init) ?? ""
        return last.components(separatedBy: "\u{1B}[K").last ?? ""
    }

    @Test(.timed) func summaryLineAtTheEnd() async throws {
        let screen = try await onTerminal("--color never h1,refused 'echo hi'")
        #expect(screen.contains("[h1] hi\r\n"))
        #expect(screen.contains("failed at: refused\r\n"))
        // On a loaded machine the run may pass its first second and draw a progress line; the
        // summary then follows the line's erasure. No assertion here counts on how long a run takes.
        let summary = lastLine(of: screen)
        #expect(summary.wholeMatch(of: /1 ok, 1 failed \(refused\), [0-9]+\.[0-9] s/) != nil, "\(summary)")
    }

    @Test(.timed) func progressLineIsClearedBeforeOutputAndGoneAtTheEnd() async throws {
        // The slow host ends once the progress line has been drawn (a second into the run).
        let release = Release(when: "passh: 2/3 done")
        let screen = try await onTerminal(
            "--color never --local h1,h2,slow '[ $PASSH_HOST = slow ] && { \(release.waitCommand); }; echo done'",
            release: release)
        #expect(screen.contains("passh: 2/3 done, 0 failed, 1 running, 1."))
        // Every progress line drawn is cleared again ("\r\u{1B}[K") before the next output.
        let drawn = screen.ranges(of: "passh: ").count
        let cleared = screen.ranges(of: "\r\u{1B}[K").count
        #expect(drawn >= 1)
        #expect(cleared == drawn)
        // The summary comes last: the hosts, then the run's duration (over a second).
        let summary = lastLine(of: screen)
        #expect(summary.wholeMatch(of: /3 ok, [1-9][0-9]*\.[0-9] s/) != nil, "\(summary)")
        #expect(screen.hasSuffix("\r\n"))
        #expect(screen.contains("\r\u{1B}[K[slow] done\r\n"))
    }

    @Test func aCopyEndsWithTheBytesAndTheRate() async throws {
        let file = temporaryPath("copy-terminal")
        let destination = temporaryPath("copy-terminal-dest")
        try writeFile(file, Array(repeating: UInt8(ascii: "x"), count: 1500))
        defer { shell("rm -rf '\(file)' '\(destination)'") }
        let screen = try await onTerminal("h1,h2,refused --copy \(file) --dest \(destination)")
        let last = lastLine(of: screen)
        #expect(last.hasPrefix("2 ok, 1 failed (refused), 3.0 kB copied, "))
        #expect(last.hasSuffix(" B/s") || last.hasSuffix(" kB/s"))
        #expect(readText(destination + "/" + file.split(separator: "/").last!)?.count == 1500)
    }

    @Test func colorsOnATerminal() async throws {
        let screen = try await onTerminal("h1 'echo o; echo e >&2'")
        #expect(screen.contains("\u{1B}[94m[h1]\u{1B}[0m o\r\n"))
        #expect(screen.contains("\u{1B}[91m[h1]\u{1B}[0m e\r\n"))
        let noColor = try await onTerminal("h1 'echo o'", environment: "export NO_COLOR=1;")
        // The line may follow a progress line's erasure ("\r\u{1B}[K") if the run passed a second.
        #expect(noColor.contains("[h1] o\r\n"))
        #expect(!noColor.contains("\u{1B}[9") && !noColor.contains("\u{1B}[0m"), "\(noColor)")
    }
}
