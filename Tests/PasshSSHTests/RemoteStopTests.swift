import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The OpenSSH transport's modes that stop remote commands.
enum RemoteStopMode: String, CaseIterable, CustomTestStringConvertible, Sendable {
    /// `multiplexing` (`--persist`): sessions in proxy mode through a lasting master.
    case persist
    /// `privateMasters`: a master per host session, closed after it.
    case privateMaster

    var testDescription: String { rawValue }

    static let controlDirectory: FilePath = {
        let path = "/tmp/passh-remote-stop-mux-\(getpid())"
        mkdir(path, 0o700)
        return FilePath(path)
    }()

    func passh(_ configure: (inout RunOptions) -> Void = { _ in }) -> ParallelSSH {
        var ssh = OpenSSHOptions()
        ssh.configFile = FilePath(TestCluster.config)
        switch self {
        case .persist: ssh.multiplexing = Multiplexing(directory: Self.controlDirectory, seconds: 20)
        case .privateMaster: ssh.privateMasters = true
        }
        var options = RunOptions()
        options.collectOutput = true
        configure(&options)
        return ParallelSSH(options: options, ssh: ssh)
    }
}

/// The remote commands a stop must end whole.
enum RemoteCommand: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sleep, trap, pipeline

    var testDescription: String { rawValue }

    /// The command, printing `started` first, and the marker its processes carry.
    func make() -> (command: String, marker: String) {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        switch self {
        case .sleep: return ("echo started; \(sleep)", marker)
        case .trap: return ("echo started; sh -c 'trap \"exit 3\" TERM; \(sleep) & wait'", marker)
        case .pipeline: return ("echo started; \(sleep) | cat", marker)
        }
    }
}

/// Waits (at most 5 s) until `count` `sleep` processes carry `marker`.
func waitForProcesses(_ marker: String, count: Int) async throws {
    let deadline = ContinuousClock.now + .seconds(5)
    while processes(matching: marker, named: "sleep").count < count && ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(20))
    }
}

@Suite("Stopping a host stops its remote command (OpenSSH, proxy mode)", .needsTestSSHD)
struct RemoteStopTests {
    static let hosts = ["h01", "h02"]
    /// terminationGrace (500 ms) + 1 s.
    static let bound: Duration = .milliseconds(1500)

    @Test(arguments: RemoteStopMode.allCases, RemoteCommand.allCases)
    func aCancelledRunStopsTheRemoteCommands(_ mode: RemoteStopMode, _ kind: RemoteCommand) async throws {
        let (command, marker) = kind.make()
        let passh = mode.passh()
        let run = Task { try await passh.run([command], on: Self.hosts) }
        try await waitForProcesses(marker, count: Self.hosts.count)
        #expect(processes(matching: marker, named: "sleep").count == Self.hosts.count)
        run.cancel()
        let results = try await run.value
        #expect(results.map(\.outcome) == [.cancelled, .cancelled])
        #expect(results.map { text($0.stdout) } == ["started\n", "started\n"])
        #expect(try await processesLeft(matching: marker, within: Self.bound).isEmpty)
    }

    /// Cancelled within milliseconds of the first host's command starting: the other host may still be
    /// starting its master, opening its channel or running its command; each must end cancelled, and
    /// no command be left.
    @Test(arguments: RemoteStopMode.allCases)
    func aRunCancelledAsItsFirstCommandStartsStopsEveryHost(_ mode: RemoteStopMode) async throws {
        for delay in [0, 1, 2, 5, 10] {
            let (sleep, marker) = uniqueSleep(seconds: 30)
            let passh = mode.passh()
            let run = Task { try await passh.run(["echo started; \(sleep)"], on: Self.hosts) }
            let deadline = ContinuousClock.now + .seconds(5)
            while processes(matching: marker, named: "sleep").isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .microseconds(200))
            }
            #expect(!processes(matching: marker, named: "sleep").isEmpty)
            if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
            run.cancel()
            let results = try await run.value
            #expect(results.map(\.outcome) == [.cancelled, .cancelled], "\(delay) ms")
            #expect(try await processesLeft(matching: marker, within: Self.bound).isEmpty, "\(delay) ms")
        }
    }

    @Test(arguments: RemoteStopMode.allCases, RemoteCommand.allCases)
    func aTimeoutStopsTheRemoteCommand(_ mode: RemoteStopMode, _ kind: RemoteCommand) async throws {
        let (command, marker) = kind.make()
        let results = try await mode.passh { $0.commandTimeout = .seconds(1) }.run([command], on: Self.hosts)
        #expect(results.map(\.outcome) == [.timedOut, .timedOut])
        #expect(try await processesLeft(matching: marker, within: Self.bound).isEmpty)
    }

    @Test(arguments: RemoteStopMode.allCases, RemoteCommand.allCases)
    func failFastStopsTheOtherRemoteCommands(_ mode: RemoteStopMode, _ kind: RemoteCommand) async throws {
        let (command, marker) = kind.make()
        let lock = temporaryPath("remote-stop-fail-fast")
        defer { rmdir(lock) }
        // The first host to make the directory fails soon; the others run on until stopped.
        let failing = "mkdir \(lock) 2>/dev/null && { sleep 0.5; exit 1; }; \(command)"
        let results = try await mode.passh { $0.failFast = true }.run([failing], on: ["h01", "h02", "h03"])
        #expect(results.map(\.outcome).sorted { "\($0)" < "\($1)" } == [.cancelled, .cancelled, .exited(1)])
        #expect(try await processesLeft(matching: marker, within: Self.bound).isEmpty)
    }

    @Test(arguments: RemoteStopMode.allCases, RemoteCommand.allCases)
    func anAbandonedEventStreamStopsTheRemoteCommands(_ mode: RemoteStopMode, _ kind: RemoteCommand) async throws {
        let (command, marker) = kind.make()
        var started = 0
        let passh = mode.passh { $0.collectOutput = false }
        for try await event in passh.events([command], on: try ParallelSSH.hosts(Self.hosts)) {
            if case .line = event { started += 1 }
            if started == Self.hosts.count {
                // Stopped before its sleep has exec'd, a shell's child can take the TERM as the
                // shell's trap, then run on; once the shell has exited sshd has no process group
                // left to send the KILL to. Stop once the sleeps run.
                try await waitForProcesses(marker, count: Self.hosts.count)
                break
            }
        }
        #expect(started == Self.hosts.count)
        #expect(try await processesLeft(matching: marker, within: Self.bound + .seconds(1)).isEmpty)
    }

    @Test(arguments: RemoteStopMode.allCases)
    func aCommandKilledByASignalIsThatSignal(_ mode: RemoteStopMode) async throws {
        let results = try await mode.passh().run(["echo out; echo err >&2; kill -TERM $$"], on: ["h01"])
        #expect(results[0].outcome == .signaled(Signal(number: 15)))
        #expect(results[0].outcome.description == "failed: killed by SIGTERM")
        #expect(text(results[0].stdout) == "out\n")
        #expect(text(results[0].stderr) == "err\n")
    }

    @Test(arguments: RemoteStopMode.allCases)
    func streamsStatusAndStdinAreTheCommandsOwn(_ mode: RemoteStopMode) async throws {
        let path = temporaryPath("remote-stop-stdin")
        try writeFile(path, (0..<300_000).map { UInt8(truncatingIfNeeded: $0) })
        defer { unlink(path) }
        let results = try await mode.passh { $0.stdinFile = FilePath(path) }
            .run(["cksum; printf 'a\\r\\nb' >&2; exit 255"], on: ["h01", "h02"])
        let expected = shell("cksum < \(path)").text
        #expect(results.map(\.outcome) == [.exited(255), .exited(255)])
        #expect(results.map { text($0.stdout) } == [expected, expected])
        #expect(results.map { text($0.stderr) } == ["a\r\nb", "a\r\nb"])
    }

    @Test(arguments: RemoteStopMode.allCases)
    func manyLinesArriveWhole(_ mode: RemoteStopMode) async throws {
        let results = try await mode.passh().run(["seq 200000"], on: ["h01"])
        #expect(results[0].outcome == .exited(0))
        #expect(results[0].stdout == Array((1...200_000).map { "\($0)\n" }.joined().utf8))
    }

    @Test func aPrivateMasterFailsAsSSHDoes() async throws {
        let results = try await RemoteStopMode.privateMaster.passh().run(["true"], on: ["refused", "noauth", "h01"])
        let refused = "ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused"
        #expect(results[0].outcome == .failed(HostFailure(.connectionRefused, refused)))
        #expect(
            results[1].outcome
                == .failed(
                    HostFailure(.authenticationRefused, "passh-no-such-user@127.0.0.1: Permission denied (publickey)."))
        )
        #expect(results[2].outcome == .exited(0))
    }
}
