@_spi(Testing) import Passh
import PasshTestSupport
import Synchronization
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `Fleet`: connections kept between commands, on every transport that keeps them (libssh, and
/// OpenSSH through masters), against the test sshd. A remote command's `$PPID` is the sshd process
/// serving its connection: the same one for two commands means one connection kept.
@Suite("Fleet: kept connections", .needsTestCluster)
struct FleetTests {
    static var kinds: [TransportKind] {
        #if LIBSSH
        [.openSSH, .libSSH, .auto]
        #else
        [.openSSH]
        #endif
    }

    func fleet(_ kind: TransportKind, _ hosts: [String]) throws -> Fleet {
        var options = RunOptions()
        options.collectOutput = true
        return try Fleet(hosts: ParallelSSH.hosts(hosts), options: options, transport: kind.passh().transport)
    }

    /// The sshd process of each host's connection, from a command's `$PPID`.
    func servers(_ fleet: Fleet, on hosts: [Host]? = nil) async throws -> [Int32] {
        let results = try await fleet.run(["echo $PPID"], on: hosts)
        let outcomes = results.map(\.outcome)
        #expect(outcomes.allSatisfy { $0 == .exited(0) })
        return results.map { Int32(text($0.stdout).filter(\.isNumber)) ?? -1 }
    }

    func gone(_ pids: [Int32]) async throws -> Bool {
        try await waitUntil { pids.allSatisfy { kill($0, 0) != 0 } }
    }

    @Test(arguments: kinds)
    func laterCommandsRunOnTheSameConnections(_ kind: TransportKind) async throws {
        let fleet = try fleet(kind, ["h01", "h02"])
        #expect(fleet.hosts.map { fleet.state(of: $0) } == [.notConnected, .notConnected])
        let first = try await servers(fleet)
        #expect(Set(first).count == 2)
        #expect(fleet.hosts.map { fleet.state(of: $0) } == [.connected, .connected])
        for _ in 0..<3 { #expect(try await servers(fleet) == first) }
        // Concurrently: a second connection for the second command, kept too.
        async let one = fleet.run(["echo one"])
        async let two = fleet.run(["echo two"])
        let (a, b) = try await (one, two)
        #expect(a.map { text($0.stdout) } == ["one\n", "one\n"])
        #expect(b.map { text($0.stdout) } == ["two\n", "two\n"])
        await fleet.close()
        #expect(try await gone(first))
        do {
            _ = try await fleet.run(["true"])
            Issue.record("a closed fleet ran a command")
        } catch {}
    }

    @Test(arguments: kinds)
    func aConnectionDroppedMidCommandFailsThatHostAndIsMadeAgain(_ kind: TransportKind) async throws {
        let fleet = try fleet(kind, ["h01", "h02", "h03"])
        defer { Task { await fleet.close() } }
        let mark = "/tmp/passh-fleet-\(UInt32.random(in: 100_000_000...999_999_999))"
        defer { shell("rmdir \(mark)") }
        _ = try await servers(fleet)
        // The first host to make the directory kills its own connection's sshd.
        let results = try await fleet.run([
            "if mkdir \(mark) 2>/dev/null; then kill -9 $PPID; exit 3; fi; echo ok"
        ])
        let failed = results.filter { !$0.isSuccess }
        #expect(failed.count == 1)
        #expect(results.filter(\.isSuccess).map { text($0.stdout) } == ["ok\n", "ok\n"])
        guard let victim = failed.first else { return }
        guard case .failed(let failure) = victim.outcome else {
            Issue.record("not a failure: \(victim.outcome)")
            return
        }
        #expect(failure.kind == .connectionLost)
        #expect(!failure.message.isEmpty)
        if kind != .openSSH {
            guard case .disconnected(let reason) = fleet.state(of: victim.host) else {
                Issue.record("\(fleet.state(of: victim.host))")
                return
            }
            #expect(reason?.isEmpty == false)
        }
        let again = try await fleet.run(["echo again"])
        #expect(again.map(\.isSuccess) == [true, true, true])
        #expect(again.map { text($0.stdout) } == ["again\n", "again\n", "again\n"])
    }

    @Test(arguments: kinds)
    func anIdleConnectionTheHostClosedIsMadeAgainOnNextUse(_ kind: TransportKind) async throws {
        let fleet = try fleet(kind, ["h01", "h02"])
        defer { Task { await fleet.close() } }
        let first = try await servers(fleet)
        kill(first[0], SIGKILL)  // the host's sshd for that connection is gone (a restart)
        #expect(try await gone([first[0]]))
        let second = try await servers(fleet)
        #expect(second[0] != first[0] && second[0] > 0)
        #expect(second[1] == first[1])
    }

    @Test(arguments: kinds)
    func hostsAreAddedAndRemoved(_ kind: TransportKind) async throws {
        let fleet = try fleet(kind, ["h01"])
        defer { Task { await fleet.close() } }
        let first = try await servers(fleet)
        fleet.add(try ParallelSSH.hosts(["h02", "h01"]))
        #expect(fleet.hosts.map(\.name) == ["h01", "h02"])
        let both = try await servers(fleet)
        #expect(both[0] == first[0])
        await fleet.remove(try ParallelSSH.hosts(["h01"]))
        #expect(fleet.hosts.map(\.name) == ["h02"])
        #expect(try await gone([first[0]]))
        #expect(try await servers(fleet) == [both[1]])
    }

    @Test(.timed, arguments: kinds)
    func cancellingTheTaskStopsTheCommandsAndClosesEverything(_ kind: TransportKind) async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let hosts = try ParallelSSH.hosts(["h01", "h02"])
        let servers = Mutex<[Int32]>([])
        let run = Task {
            var options = RunOptions()
            options.collectOutput = true
            return try await Fleet.with(hosts, options: options, transport: kind.passh().transport) { fleet in
                let found = try await self.servers(fleet)
                servers.withLock { $0 = found }
                return try await fleet.run(["echo started; \(sleep)"])
            }
        }
        try await waitForProcesses(matching: marker, named: "sleep", count: 2)
        run.cancel()
        let results: [HostResult] = try await run.value
        #expect(results.map(\.outcome) == [.cancelled, .cancelled])
        #expect(try await processesLeft(matching: marker, within: .seconds(10)).isEmpty)
        #expect(try await gone(servers.withLock { $0 }))
    }

    @Test(arguments: kinds)
    func connectOpensEveryConnectionAndSaysWhichFailed(_ kind: TransportKind) async throws {
        let fleet = try fleet(kind, ["h01", "refused"])
        defer { Task { await fleet.close() } }
        let results = await fleet.connect()
        #expect(results.map(\.isSuccess) == [true, false])
        #expect(fleet.state(of: fleet.hosts[0]) == .connected)
        if kind != .openSSH {
            guard case .disconnected(let reason?) = fleet.state(of: fleet.hosts[1]) else {
                Issue.record("\(fleet.state(of: fleet.hosts[1]))")
                return
            }
            #expect(reason.contains("Connection refused"))
        }
        let first = try await servers(fleet, on: [fleet.hosts[0]])
        #expect(try await servers(fleet, on: [fleet.hosts[0]]) == first)
    }

    #if LIBSSH
    /// A fleet's connections are made under the libssh engine's handshake limit, as a run's are (a
    /// burst of 1000 would overflow one server's listen queue). With a limit of 2 and a listener
    /// that accepts and never greets, 6 hosts connect 2 at a time, each pair after the one before
    /// timed out (2 s): 6 s at least. Without the limit all 6 connect at once and time out together
    /// (2 s; a loaded machine only makes that longer, so the bound cannot fail with the limit).
    @Test func connectionsAreMadeUnderTheHandshakeLimit() async throws {
        let (listener, address) = listenOnLoopback(backlog: 64)
        let port = address.split(separator: ":").last!
        let config = temporaryPath("ssh_config")
        defer { unlink(config) }
        try writeFile(config, Array("Host s*\n    HostName 127.0.0.1\n    Port \(port)\n".utf8))
        let accepted = Mutex(0)
        let done = Flag()
        startThread {
            var clients: [Int32] = []
            while !done.isSet {
                var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 100) > 0 else { continue }
                let client = accept(listener, nil, nil)
                guard client >= 0 else { continue }
                clients.append(client)
                accepted.withLock { $0 += 1 }
            }
            for client in clients { close(client) }
            close(listener)
        }
        defer { done.set() }
        var options = LibSSHOptions()
        options.configFile = FilePath(config)
        options.connectTimeout = 2
        options.maximumHandshakes = 2
        let fleet = try Fleet(
            hosts: ParallelSSH.hosts(["s1", "s2", "s3", "s4", "s5", "s6"]),
            transport: LibSSHTransport(options: options))
        let clock = ContinuousClock()
        let started = clock.now
        let results = try await fleet.run(["true"])
        let elapsed = clock.now - started
        await fleet.close()
        #expect(results.allSatisfy { $0.outcome.status == .failed }, "\(results)")
        #expect(accepted.withLock { $0 } == 6)
        #expect(elapsed >= .seconds(5.5), "\(elapsed)")
    }

    /// Connections kept idle between commands leave the engine asleep: about one round of its loop
    /// a tick (each thread wakes once a second). An idle session used to be polled for `POLLOUT` on
    /// libssh's stale `SSH_WRITE_PENDING`, and woke its thread again and again — 65 times per
    /// connection per second with the engine's cap, for ever without it — so a shell idle at its
    /// prompt kept a core busy.
    @Test func idleConnectionsLeaveTheEngineAsleep() async throws {
        let transport = try LibSSHTransport(options: TransportKind.libSSHOptions)
        let fleet = try Fleet(hosts: ParallelSSH.hosts(["h01", "h02", "h03", "h04"]), transport: transport)
        defer { Task { await fleet.close() } }
        for _ in 0..<2 { #expect(try await fleet.run(["true"]).allSatisfy(\.isSuccess)) }
        // Three ticks of each thread from now: the last command's close has arrived by then.
        let settled = transport.engineActivity.ticks + 3 * 2
        #expect(try await waitUntil { transport.engineActivity.ticks >= settled })
        let (rounds, ticks) = transport.engineActivity
        #expect(try await waitUntil { transport.engineActivity.ticks >= ticks + 4 * 2 })
        let (laterRounds, laterTicks) = transport.engineActivity
        // A round a tick, and a few for wake-ups from the tests' own pool: never 64 a connection.
        #expect(
            laterRounds - rounds <= 2 * (laterTicks - ticks),
            "\(laterRounds - rounds) rounds in \(laterTicks - ticks) ticks")
    }
    #endif
}
