import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The transports under test: the same expectations hold for each.
enum TransportKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    /// `LocalTransport`: a local shell per host.
    case local
    /// `OpenSSHTransport`: an `ssh` process per host.
    case openSSH
    /// `OpenSSHTransport` with multiplexing, through master connections made beforehand: no process.
    case openSSHMultiplexed

    var testDescription: String { rawValue }

    /// The name of the local process that stands for a host (to check none is left behind).
    var processName: String? { self == .local ? nil : "ssh" }

    /// The master connections of ``openSSHMultiplexed`` live here, idle for 20 s at most.
    static let controlDirectory: FilePath = {
        let path = "/tmp/passh-conformance-mux-\(getpid())"
        mkdir(path, 0o700)
        return FilePath(path)
    }()

    var ssh: OpenSSHOptions {
        var ssh = OpenSSHOptions()
        ssh.configFile = FilePath(TestCluster.config)
        if self == .openSSHMultiplexed { ssh.multiplexing = Multiplexing(directory: Self.controlDirectory, seconds: 20) }
        return ssh
    }

    func passh(_ configure: (inout RunOptions) -> Void = { _ in }) -> ParallelSSH {
        var options = RunOptions()
        options.collectOutput = true
        configure(&options)
        switch self {
        case .local:
            return ParallelSSH(options: options, transport: LocalTransport())
        case .openSSH, .openSSHMultiplexed:
            return ParallelSSH(options: options, ssh: ssh)
        }
    }

    /// Makes sure `hosts` are reached the way this kind says: for ``openSSHMultiplexed``, starts
    /// their master connections.
    func prepare(_ hosts: [String]) async throws {
        guard self == .openSSHMultiplexed else { return }
        let results = try await passh().run(["true"], on: hosts)
        let allUp = results.allSatisfy { $0.isSuccess }
        #expect(allUp)
        for host in try ParallelSSH.hosts(hosts) {
            #expect(ssh.controlPath(for: host).map { access($0, F_OK) == 0 } == true, "a master for \(host)")
        }
    }
}

extension Trait where Self == ConditionTrait {
    /// The test needs the OpenSSH server of `scripts/testcluster`: skipped, with a message, without it.
    static var needsTestSSHD: Self {
        .enabled(if: TestCluster.isAvailable, "no OpenSSH server for scripts/testcluster: install openssh-server")
    }
}

func text(_ bytes: [UInt8]?) -> String { String(decoding: bytes ?? [], as: UTF8.self) }

@Suite("Transport conformance: local, OpenSSH and OpenSSH multiplexed, on the test sshd", .needsTestSSHD)
struct TransportConformanceTests {
    @Test(arguments: TransportKind.allCases)
    func bytesArriveExactly(_ kind: TransportKind) async throws {
        try await kind.prepare(["h01", "h02"])
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
        try await kind.prepare(["h01"])
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
        try await kind.prepare(["h01"])
        let results = try await kind.passh().run(["exit 7"], on: ["h01"])
        #expect(results[0].outcome == .exited(7))
        #expect(results[0].outcome.status == .failed)
    }

    @Test(arguments: TransportKind.allCases)
    func anEmergencyStopEndsSessionsWithoutTheGrace(_ kind: TransportKind) async throws {
        // Commands that ignore SIGTERM would take the whole grace (30 s here) to end.
        let (sleep, marker) = uniqueSleep(seconds: 8)
        try await kind.prepare(["h01", "h02"])
        let stop = EmergencyStop()
        let passh = kind.passh { $0.terminationGrace = .seconds(30); $0.emergencyStop = stop }
        let other = kind.passh { $0.terminationGrace = .seconds(30) }
        let (otherSleep, otherMarker) = uniqueSleep(seconds: 3)
        let bystander = Task { try await other.run(["\(otherSleep); echo survived"], on: ["h01"]) }
        let run = Task { try await passh.run(["echo started; trap '' TERM; \(sleep); true"], on: ["h01", "h02"]) }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        let running = kind == .local ? 4 : 2  // locally, each host's shell and its sleep
        while processes(matching: marker, named: kind.processName).count < running && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(300))
        run.cancel()
        try await Task.sleep(for: .milliseconds(100))
        let triggered = clock.now
        stop.trigger()
        let results = try await run.value
        #expect(clock.now - triggered < .seconds(2))
        #expect(results.map(\.outcome) == [.cancelled, .cancelled])
        #expect(try await processesLeft(matching: marker, named: kind.processName).isEmpty)
        // Another run in the same process is not touched.
        let survivor = try await bystander.value
        #expect(survivor.map(\.outcome) == [.exited(0)])
        #expect(text(survivor[0].stdout) == "survived\n")
        _ = otherMarker
    }

    @Test(arguments: TransportKind.allCases)
    func aOneMegabyteLineArrivesWhole(_ kind: TransportKind) async throws {
        try await kind.prepare(["h01"])
        let results = try await kind.passh().run(["head -c 1048576 /dev/zero | tr '\\0' x; echo"], on: ["h01"])
        #expect(results[0].stdout == Array(repeating: UInt8(ascii: "x"), count: 1 << 20) + [0x0A])
    }

    @Test(arguments: TransportKind.allCases)
    func everyHostGetsTheWholeStdinFile(_ kind: TransportKind) async throws {
        let path = "/tmp/passh-conformance-\(getpid())-\(kind.rawValue)"
        try writeFile(path, (0..<300_000).map { UInt8(truncatingIfNeeded: $0) })
        defer { unlink(path) }
        try await kind.prepare((1...20).map { "h\($0)" })
        let results = try await kind.passh { $0.stdinFile = FilePath(path); $0.fanout = 0 }
            .run(["cksum"], on: (1...20).map { "h\($0)" })
        let expected = shell("cksum < \(path)").text
        #expect(results.map { text($0.stdout) } == Array(repeating: expected, count: 20))
    }

    @Test(arguments: TransportKind.allCases)
    func cancellationTearsTheProcessesDown(_ kind: TransportKind) async throws {
        let (sleep, marker) = uniqueSleep(seconds: 8)
        try await kind.prepare(["h01", "h02"])
        let passh = kind.passh()
        let run = Task { try await passh.run(["echo started; exec \(sleep)"], on: ["h01", "h02"]) }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while processes(matching: marker, named: kind.processName).count < 2 && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        if kind != .openSSHMultiplexed {  // through a master, no local process carries the command
            #expect(processes(matching: marker, named: kind.processName).count == 2)
        } else {
            try await Task.sleep(for: .milliseconds(300))
        }
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
        try await kind.prepare(["h01"])
        let quick = try await kind.passh { $0.commandTimeout = .seconds(1) }.run(["echo quick"], on: ["h01"])
        #expect(quick[0].outcome == .exited(0))
        let slow = try await kind.passh { $0.commandTimeout = .seconds(1) }.run(["echo begun; \(sleep)"], on: ["h01"])
        #expect(slow[0].outcome == .timedOut)
        #expect(text(slow[0].stdout) == "begun\n")
        #expect(processes(matching: marker, named: kind.processName).isEmpty)
    }
}

@Suite("Failures are structured per-host results", .needsTestSSHD)
struct TransportFailureTests {
    @Test(arguments: [TransportKind.openSSH, .openSSHMultiplexed])
    func sshFailuresAreClassified(_ kind: TransportKind) async throws {
        let results = try await kind.passh().run(
            ["true"], on: ["refused", "unknown-key", "changed-key", "noauth", "nosuchhost.invalid", "h01"])
        let refused = "ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused"
        #expect(results[0].outcome == .failed(HostFailure(.connectionRefused, refused)))
        #expect(results[1].outcome == .failed(HostFailure(.hostKeyUnknown, "Host key verification failed.")))
        #expect(results[2].outcome == .failed(HostFailure(.hostKeyChanged, "Host key verification failed.")))
        #expect(results[3].outcome == .failed(HostFailure(.authenticationRefused, "passh-no-such-user@127.0.0.1: Permission denied (publickey).")))
        if case .failed(let failure) = results[4].outcome {
            #expect(failure.kind == .hostUnreachable)
            #expect(failure.message.hasPrefix("ssh: Could not resolve hostname nosuchhost.invalid: "))
        } else {
            Issue.record("nosuchhost.invalid: \(results[4].outcome)")
        }
        #expect(results[5].outcome == .exited(0))
        #expect(results.map(\.errorMessage) == [refused, "Host key verification failed.", "Host key verification failed.",
                                               "passh-no-such-user@127.0.0.1: Permission denied (publickey).",
                                               results[4].errorMessage, nil])
    }

    @Test func aHostThatNeverSpeaksSSHTimesOut() async throws {
        let silent = SilentListener()
        defer { silent.close() }
        var ssh = TransportKind.openSSH.ssh
        ssh.connectTimeout = 1
        let results = try await ParallelSSH(ssh: ssh).run(["true"], on: [silent.host])
        #expect(results[0].outcome == .failed(HostFailure(.connectionTimedOut, "Connection timed out during banner exchange")))
    }

    @Test(arguments: [TransportKind.local, .openSSH])
    func aProgramThatCannotStartIsNamed(_ kind: TransportKind) async throws {
        let passh: ParallelSSH
        if kind == .local {
            passh = ParallelSSH(transport: LocalTransport(shell: "/nonexistent/sh"))
        } else {
            var ssh = kind.ssh
            ssh.sshPath = "/nonexistent/ssh"
            passh = ParallelSSH(ssh: ssh)
        }
        let results = try await passh.run(["true"], on: ["h01"])
        let program = kind == .local ? "/nonexistent/sh" : "/nonexistent/ssh"
        #expect(results[0].outcome == .failed(HostFailure(.cannotStart, "cannot run \(program): no such executable", program: program)))
    }

    @Test func aCommandKilledByASignalIsThatSignalWhereTheTransportCanTell() async throws {
        let local = try await TransportKind.local.passh().run(["kill -TERM $$"], on: ["h01"])
        #expect(local[0].outcome == .signaled(Signal(number: 15)))
        #expect(local[0].outcome.description == "failed: killed by SIGTERM")
        // OpenSSH's client reports a remote signal as 255 with no message: the remote-stop work will tell it.
        let ssh = try await TransportKind.openSSH.passh().run(["kill -TERM $$"], on: ["h01"])
        #expect(ssh[0].outcome == .exited(255))
    }
}
