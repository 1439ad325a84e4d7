import Passh
import PasshTestSupport
import SystemPackage
import Testing

@Suite("sudo over every transport", .needsTestClusterSudo, .ownMasterConnections, .timed)
struct SudoConformanceTests {
    static func password() throws -> SudoPassword { try SudoPassword(Array((TestCluster.sudoPassword ?? "").utf8)) }

    /// The password reaches sudo ahead of the stdin file, which the command then reads unchanged.
    @Test(arguments: TransportKind.allCases)
    func theCommandRunsAsRootAndReadsItsStdinUnchanged(_ kind: TransportKind) async throws {
        try await kind.prepare(["h01", "nopw1"])
        let input = temporaryPath("sudo-input")
        let bytes = Array("first line\n".utf8) + (0...255).map(UInt8.init) + Array("\nno newline at the end".utf8)
        try writeFile(input, bytes)
        defer { _ = shell("rm -f \(input)") }
        let sudo = Sudo(password: try Self.password())
        let results = try await kind.passh {
            $0.sudo = sudo
            $0.stdinFile = FilePath(input)
        }.run(["id -u; cat"], on: ["h01", "nopw1"])
        for result in results {
            #expect(result.outcome == .exited(0), "\(result.host)")
            #expect(result.stdout == Array("0\n".utf8) + bytes, "\(result.host)")
            #expect(text(result.stderr) == "", "\(result.host)")
        }
    }

    @Test(arguments: TransportKind.allCases)
    func withoutAPasswordSudoMustNotAsk(_ kind: TransportKind) async throws {
        try await kind.prepare(["nopw1"])
        let results = try await kind.passh { $0.sudo = Sudo() }.run(["id", "-un"], on: ["nopw1"])
        #expect(results[0].outcome == .exited(0))
        #expect(text(results[0].stdout) == "root\n")
        guard kind != .local else { return }  // the tests' own user, root, needs no password
        let asked = try await kind.passh { $0.sudo = Sudo() }.run(["id", "-un"], on: ["h01"])
        #expect(asked[0].outcome == .exited(1))
        #expect(text(asked[0].stderr) == "passh: sudo asks for a password here, and none was given\n")
    }

    @Test(.timeLimit(.minutes(1)), arguments: TransportKind.allCases.filter { $0 != .local })
    func aWrongPasswordFailsTheHostWithoutReadingItsStdin(_ kind: TransportKind) async throws {
        try await kind.prepare(["h01"])
        let input = temporaryPath("sudo-input")
        try writeFile(input, Array("must not be tried as a password\n".utf8))
        defer { _ = shell("rm -f \(input)") }
        let results = try await kind.passh {
            $0.sudo = Sudo(password: try! SudoPassword(Array("wrong".utf8)))
            $0.stdinFile = FilePath(input)
        }.run(["cat"], on: ["h01"])
        #expect(results[0].outcome == .exited(1))
        #expect(text(results[0].stdout) == "")
        #expect(text(results[0].stderr) == "passh: sudo: wrong password; stopped after one attempt\n")
        #expect(results[0].errorMessage == "passh: sudo: wrong password; stopped after one attempt")
    }
}

@Suite("sudo's options")
struct SudoOptionTests {
    @Test func aPasswordNeverPrintsItself() throws {
        let password = try SudoPassword(Array("hunter2".utf8))
        #expect("\(password)" == "SudoPassword(redacted)")
        #expect(String(reflecting: password) == "SudoPassword(redacted)")
        var options = RunOptions()
        options.sudo = Sudo(password: password)
        #expect(!"\(options)".contains("hunter2"))
    }

    @Test(arguments: ["two\nlines", "carriage\rreturn", "nul\0byte"])
    func aPasswordIsOneLine(_ text: String) {
        #expect(throws: PasshError(.invalidOption, "a sudo password must be one line, without a NUL byte")) {
            try SudoPassword(Array(text.utf8))
        }
    }

    @Test(arguments: ["", " ", "\t  "])
    func aPasswordIsNotBlank(_ text: String) {
        #expect(throws: PasshError(.invalidOption, "a sudo password must not be empty or blank")) {
            try SudoPassword(Array(text.utf8))
        }
        #expect(throws: Never.self) { try SudoPassword(Array(" x ".utf8)) }
    }

    @Test func aPasswordIsNotSentToATerminal() async throws {
        var options = RunOptions()
        options.terminal = true
        options.sudo = Sudo(password: try SudoPassword(Array("x".utf8)))
        await #expect(
            throws: PasshError(
                .invalidOption,
                "a sudo password cannot be sent to a command that has a terminal: the terminal would echo it")
        ) {
            try await ParallelSSH(options: options, transport: LocalTransport()).run(["true"], on: ["h1"])
        }
    }
}
