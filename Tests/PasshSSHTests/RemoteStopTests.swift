import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

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

/// Every kind in ``TransportKind/stoppingRemoteCommands``: OpenSSH through masters in proxy mode
/// (`--persist`, `--stop-remote`), and libssh.
@Suite(
    "Stopping a host stops its remote command (OpenSSH in proxy mode, libssh)", .needsTestCluster,
    .ownMasterConnections, .timed)
struct RemoteStopTests {
    static let hosts = ["h01", "h02"]
    /// terminationGrace (500 ms) + 1 s.
    static let bound: Duration = .milliseconds(1500)

    @Test(arguments: TransportKind.stoppingRemoteCommands, RemoteCommand.allCases)
    func aCancelledRunStopsTheRemoteCommands(_ mode: TransportKind, _ kind: RemoteCommand) async throws {
        let (command, marker) = kind.make()
        let passh = mode.passh()
        let run = Task { try await passh.run([command], on: Self.hosts) }
        try await waitForProcesses(matching: marker, named: "sleep", count: Self.hosts.count)
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
    /// `.alone`: its watch for the first command, every 200 µs, keeps one of the pool's two threads
    /// busy, which the timed tests beside it would miss.
    @Test(.alone, arguments: TransportKind.stoppingRemoteCommands)
    func aRunCancelledAsItsFirstCommandStartsStopsEveryHost(_ mode: TransportKind) async throws {
        for delay in [0, 1, 2, 5, 10] {
            let (sleep, marker) = uniqueSleep(seconds: 30)
            let passh = mode.passh()
            let run = Task { try await passh.run(["echo started; \(sleep)"], on: Self.hosts) }
            // Polled finely (not with waitUntil): the point is to cancel within milliseconds.
            let deadline = ContinuousClock.now + .seconds(10)
            while processes(matching: marker, named: "sleep").isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .microseconds(200))
            }
            #expect(!processes(matching: marker, named: "sleep").isEmpty)
            // The delay is what this test varies (how soon after the first start the run is
            // cancelled), not a wait for something.
            if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
            run.cancel()
            let results = try await run.value
            #expect(results.map(\.outcome) == [.cancelled, .cancelled], "\(delay) ms")
            #expect(try await processesLeft(matching: marker, within: Self.bound).isEmpty, "\(delay) ms")
        }
    }

    @Test(arguments: TransportKind.stoppingRemoteCommands, RemoteCommand.allCases)
    func aTimeoutStopsTheRemoteCommand(_ mode: TransportKind, _ kind: RemoteCommand) async throws {
        let (command, marker) = kind.make()
        let results = try await mode.passh { $0.commandTimeout = .seconds(1) }.run([command], on: Self.hosts)
        #expect(results.map(\.outcome) == [.timedOut, .timedOut])
        #expect(try await processesLeft(matching: marker, within: Self.bound).isEmpty)
    }

    @Test(arguments: TransportKind.stoppingRemoteCommands, RemoteCommand.allCases)
    func failFastStopsTheOtherRemoteCommands(_ mode: TransportKind, _ kind: RemoteCommand) async throws {
        let (command, marker) = kind.make()
        let lock = temporaryPath("remote-stop-fail-fast")
        defer { rmdir(lock) }
        // The first host to make the directory fails once the others' commands run (their sleeps
        // exist: the sshd runs here); the others run on until stopped.
        let othersRun =
            "i=0; while [ \"$(pgrep -c -x -f 'sleep \(marker)')\" -lt 2 ] && [ $i -lt 400 ]; do sleep 0.025; i=$((i+1)); done"
        let failing = "mkdir \(lock) 2>/dev/null && { \(othersRun); exit 1; }; \(command)"
        let results = try await mode.passh { $0.failFast = true }.run([failing], on: ["h01", "h02", "h03"])
        #expect(results.map(\.outcome).sorted { "\($0)" < "\($1)" } == [.cancelled, .cancelled, .exited(1)])
        #expect(try await processesLeft(matching: marker, within: Self.bound).isEmpty)
    }

    @Test(arguments: TransportKind.stoppingRemoteCommands, RemoteCommand.allCases)
    func anAbandonedEventStreamStopsTheRemoteCommands(_ mode: TransportKind, _ kind: RemoteCommand) async throws {
        let (command, marker) = kind.make()
        var started = 0
        let passh = mode.passh { $0.collectOutput = false }
        for try await event in passh.events([command], on: try ParallelSSH.hosts(Self.hosts)) {
            if case .line = event { started += 1 }
            if started == Self.hosts.count {
                // Stopped before its sleep has exec'd, a shell's child can take the TERM as the
                // shell's trap, then run on; once the shell has exited sshd has no process group
                // left to send the KILL to. Stop once the sleeps run.
                try await waitForProcesses(matching: marker, named: "sleep", count: Self.hosts.count)
                break
            }
        }
        #expect(started == Self.hosts.count)
        #expect(try await processesLeft(matching: marker, within: Self.bound + .seconds(1)).isEmpty)
    }

    @Test(arguments: TransportKind.stoppingRemoteCommands)
    func aCommandKilledByASignalIsThatSignal(_ mode: TransportKind) async throws {
        let results = try await mode.passh().run(["echo out; echo err >&2; kill -TERM $$"], on: ["h01"])
        #expect(results[0].outcome == .signaled(Signal(number: 15)))
        #expect(results[0].outcome.description == "failed: killed by SIGTERM")
        #expect(text(results[0].stdout) == "out\n")
        #expect(text(results[0].stderr) == "err\n")
    }

    @Test(arguments: TransportKind.stoppingRemoteCommands)
    func streamsStatusAndStdinAreTheCommandsOwn(_ mode: TransportKind) async throws {
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

    @Test(arguments: TransportKind.stoppingRemoteCommands)
    func manyLinesArriveWhole(_ mode: TransportKind) async throws {
        let results = try await mode.passh().run(["seq 200000"], on: ["h01"])
        #expect(results[0].outcome == .exited(0))
        #expect(results[0].stdout == Array((1...200_000).map { "\($0)\n" }.joined().utf8))
    }
}
