import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A master connection that accepts and never answers (wedged, stopped, a stale socket a live
/// process holds) never hangs a run: task cancellation, a command timeout and fail-fast end the host
/// within the grace and a second, and without any of them the connect timeout does.
@Suite("A silent master connection", .needsTestCluster, .serialized)
struct SilentMasterTests {
    /// Below the connect timeout (6 s) a stop must not wait for: on a quiet machine the grace
    /// (500 ms) and a second are enough.
    static let bound: Duration = .seconds(4)

    /// Options whose master for `h1` is a silent listener; `body` runs with them.
    static func withSilentMaster(
        connectTimeout: Int = 6, _ body: (OpenSSHOptions, SilentUnixListener) async throws -> Void
    ) async throws {
        let directory = temporaryPath("silent-master")
        #expect(mkdir(directory, 0o700) == 0)
        defer { shell("rm -rf '\(directory)'") }
        var ssh = OpenSSHOptions()
        ssh.configFile = FilePath(TestCluster.config)
        ssh.connectTimeout = connectTimeout
        ssh.multiplexing = Multiplexing(directory: FilePath(directory), seconds: 5)
        let listener = SilentUnixListener(path: try #require(ssh.controlPath(for: try Host("h1"))))
        defer { listener.close() }
        try await body(ssh, listener)
    }

    @Test func taskCancellationEndsTheHost() async throws {
        try await Self.withSilentMaster { ssh, listener async throws in
            let run = Task { try await ParallelSSH(ssh: ssh).run(["true"], on: ["h1"]) }
            #expect(try await listener.waitForClient(within: .seconds(5)))
            let clock = ContinuousClock()
            let cancelled = clock.now
            run.cancel()
            #expect(try await run.value.map(\.outcome) == [.cancelled])
            #expect(clock.now - cancelled < Self.bound)
        }
    }

    @Test func aCommandTimeoutEndsTheHost() async throws {
        try await Self.withSilentMaster { ssh, _ async throws in
            var options = RunOptions()
            options.commandTimeout = .seconds(1)
            let clock = ContinuousClock()
            let start = clock.now
            let results = try await ParallelSSH(options: options, ssh: ssh).run(["true"], on: ["h1"])
            #expect(results.map(\.outcome) == [.timedOut])
            #expect(clock.now - start < .seconds(1) + Self.bound)
        }
    }

    @Test func failFastEndsTheHost() async throws {
        try await Self.withSilentMaster { ssh, _ async throws in
            var options = RunOptions()
            options.failFast = true
            let clock = ContinuousClock()
            let start = clock.now
            // `refused` fails at once (its master cannot start): the silent one is stopped.
            let results = try await ParallelSSH(options: options, ssh: ssh).run(["true"], on: ["h1", "refused"])
            #expect(results[0].outcome == .cancelled)
            #expect(results[1].outcome.status == .failed)
            #expect(clock.now - start < .seconds(5), "before the connect timeout (6 s)")
        }
    }

    @Test func withoutAStopTheConnectTimeoutFailsTheHost() async throws {
        try await Self.withSilentMaster(connectTimeout: 1) { ssh, listener async throws in
            let clock = ContinuousClock()
            let start = clock.now
            let results = try await ParallelSSH(ssh: ssh).run(["true"], on: ["h1"])
            #expect(
                results[0].outcome
                    == .failed(
                        HostFailure(
                            .connectionTimedOut,
                            "the master connection to h1 did not answer within 1 s (\(listener.path))",
                            commandMayHaveRun: false)))
            #expect(clock.now - start < .seconds(1) + Self.bound)
        }
    }

    @Test func stoppingAMasterThatDoesNotAnswerEndsToo() async throws {
        try await Self.withSilentMaster(connectTimeout: 1) { ssh, _ async throws in
            let results = await ParallelSSH.stopMasters(on: [try Host("h1")], ssh: ssh)
            #expect(results.map(\.outcome.status) == [.failed])
        }
    }
}
