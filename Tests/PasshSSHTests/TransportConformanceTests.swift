import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The transports under test: the same expectations hold for both.
enum TransportKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case local
    case openSSH

    var testDescription: String { rawValue }

    /// The name of the local process that stands for a host (to check none is left behind).
    var processName: String? { self == .openSSH ? "ssh" : nil }

    func passh(_ configure: (inout RunOptions) -> Void = { _ in }) -> ParallelSSH {
        var options = RunOptions()
        options.collectOutput = true
        configure(&options)
        switch self {
        case .local:
            return ParallelSSH(options: options, transport: LocalTransport())
        case .openSSH:
            var ssh = OpenSSHOptions()
            ssh.configFile = FilePath(TestCluster.config)
            return ParallelSSH(options: options, ssh: ssh)
        }
    }
}

func text(_ bytes: [UInt8]?) -> String { String(decoding: bytes ?? [], as: UTF8.self) }

@Suite("Transport conformance: LocalTransport and OpenSSH on the test sshd")
struct TransportConformanceTests {
    @Test(arguments: TransportKind.allCases)
    func bytesArriveExactly(_ kind: TransportKind) async throws {
        let results = try await kind.passh().run(
            ["printf 'crlf\\r\\n\\377\\376 raw\\n'; printf 'err\\n' >&2; printf 'last'"], on: ["h01", "h02"])
        for result in results {
            #expect(result.outcome == .exited(0))
            #expect(result.stdout == Array("crlf\r\n".utf8) + [0xFF, 0xFE] + Array(" raw\nlast".utf8))
            #expect(text(result.stderr) == "err\n")
        }
    }

    @Test(arguments: TransportKind.allCases)
    func everyByteValueIsCollectedExactly(_ kind: TransportKind) async throws {
        let octal = (0...255).filter { $0 != 10 }.map { value -> String in
            let digits = String(value, radix: 8)
            return "\\" + String(repeating: "0", count: 3 - digits.count) + digits
        }
        let results = try await kind.passh().run(["printf '\(octal.joined())\\ncrlf\\r\\nend'"], on: ["h01"])
        let expected = (0...255).filter { $0 != 10 }.map(UInt8.init) + Array("\ncrlf\r\nend".utf8)
        #expect(results[0].stdout == expected)
        #expect(results[0].outcome == .exited(0))
    }

    @Test(arguments: TransportKind.allCases)
    func exitStatusPassesThrough(_ kind: TransportKind) async throws {
        let results = try await kind.passh().run(["exit 7"], on: ["h01"])
        #expect(results[0].outcome == .exited(7))
        #expect(results[0].outcome.status == .failed)
    }

    @Test(arguments: TransportKind.allCases)
    func aOneMegabyteLineArrivesWhole(_ kind: TransportKind) async throws {
        let results = try await kind.passh().run(["head -c 1048576 /dev/zero | tr '\\0' x; echo"], on: ["h01"])
        #expect(results[0].stdout == Array(repeating: UInt8(ascii: "x"), count: 1 << 20) + [0x0A])
    }

    @Test(arguments: TransportKind.allCases)
    func everyHostGetsTheWholeStdinFile(_ kind: TransportKind) async throws {
        let path = "/tmp/passh-conformance-\(getpid())-\(kind.rawValue)"
        try writeFile(path, (0..<300_000).map { UInt8(truncatingIfNeeded: $0) })
        defer { unlink(path) }
        let results = try await kind.passh { $0.stdinFile = FilePath(path); $0.fanout = 0 }
            .run(["cksum"], on: (1...20).map { "h\($0)" })
        let expected = shell("cksum < \(path)").text
        #expect(results.map { text($0.stdout) } == Array(repeating: expected, count: 20))
    }

    @Test(arguments: TransportKind.allCases)
    func cancellationTearsTheProcessesDown(_ kind: TransportKind) async throws {
        let (sleep, marker) = uniqueSleep(seconds: 8)
        let passh = kind.passh()
        let run = Task { try await passh.run(["echo started; exec \(sleep)"], on: ["h01", "h02"]) }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while processes(matching: marker, named: kind.processName).count < 2 && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(processes(matching: marker, named: kind.processName).count == 2)
        let cancelled = clock.now
        run.cancel()
        let results = try await run.value
        #expect(clock.now - cancelled < .seconds(2))
        #expect(results.map(\.outcome) == [.cancelled, .cancelled])
        #expect(processes(matching: marker, named: kind.processName).isEmpty)
    }

    @Test(arguments: TransportKind.allCases)
    func timeoutEndsASlowCommand(_ kind: TransportKind) async throws {
        let (sleep, marker) = uniqueSleep(seconds: 8)
        let quick = try await kind.passh { $0.commandTimeout = .seconds(1) }.run(["echo quick"], on: ["h01"])
        #expect(quick[0].outcome == .exited(0))
        let slow = try await kind.passh { $0.commandTimeout = .seconds(1) }.run(["echo begun; \(sleep)"], on: ["h01"])
        #expect(slow[0].outcome == .timedOut)
        #expect(text(slow[0].stdout) == "begun\n")
        #expect(processes(matching: marker, named: kind.processName).isEmpty)
    }
}

@Suite("OpenSSH failures are per-host results")
struct OpenSSHFailureTests {
    @Test func sshErrorsCarrySSHsOwnMessage() async throws {
        let results = try await TransportKind.openSSH.passh().run(["true"], on: ["refused", "unknown-key", "noauth", "h01"])
        #expect(results.map(\.outcome) == [.exited(255), .exited(255), .exited(255), .exited(0)])
        #expect(results[0].errorMessage == "ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused")
        #expect(results[1].errorMessage?.hasPrefix("passh: the host key of unknown-key is not known: check its fingerprint") == true)
        #expect(results[2].errorMessage == "passh-no-such-user@127.0.0.1: Permission denied (publickey).")
        #expect(results[3].errorMessage == nil)
    }
}
