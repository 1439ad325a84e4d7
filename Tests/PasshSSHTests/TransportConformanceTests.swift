import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

func text(_ bytes: [UInt8]?) -> String { String(decoding: bytes ?? [], as: UTF8.self) }

/// `.timed`: every kind but `local` has a deadline in it (a private master idles out after 10 s; a
/// session that waits longer to reach it finds it gone), and the library runs on this process's
/// pool, which a CPU-bound test beside it can hold.
@Suite(
    "Transport conformance: every transport and OpenSSH mode, on the test sshd", .needsTestCluster,
    .ownMasterConnections, .timed)
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

    @Test(.timed, arguments: TransportKind.allCases)
    func anEmergencyStopEndsSessionsWithoutTheGrace(_ kind: TransportKind) async throws {
        // Commands that outlive SIGTERM would take the whole grace (30 s here) to end: each shell
        // notes the TERM in a file of its own and waits on for its sleep, which ignores it.
        let (sleep, marker) = uniqueSleep(seconds: 30)
        // A plain ssh leaves its remote command running (its limit): the test ends it.
        defer { killProcesses(matching: marker, named: "sleep") }
        let termed = temporaryPath("emergency-termed")
        let release = temporaryPath("emergency-release")
        defer { shell("rm -rf \(termed) \(release)") }
        #expect(shell("mkdir -m 777 \(termed)").status == 0)
        try await kind.prepare(["h01", "h02"])
        let stop = EmergencyStop()
        let passh = kind.passh {
            $0.terminationGrace = .seconds(30); $0.emergencyStop = stop
        }
        // Another run in the same process, which must not be touched: it ends when the test says so.
        let other = kind.passh { $0.terminationGrace = .seconds(30) }
        let bystander = Task {
            try await other.run(
                ["i=0; while [ ! -e \(release) ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; echo survived"],
                on: ["h01"])
        }
        let returned = Flag()
        let run = Task {
            defer { returned.set() }
            return try await passh.run(
                ["echo started; trap 'touch \(termed)/$$' TERM; (trap '' TERM; exec \(sleep)) & wait; wait"],
                on: ["h01", "h02"])
        }
        // Both commands run, their traps set (the sleeps start after them).
        #expect(try await waitForProcesses(matching: marker, named: "sleep", count: 2) == 2)
        run.cancel()
        // The TERM has reached both shells: the grace is running (a plain ssh instead ends at once,
        // taking its remote command's connection with it).
        let termedOrReturned = try await waitUntil {
            returned.isSet || shell("ls \(termed) | wc -l").text == "2\n"
        }
        #expect(termedOrReturned)
        let clock = ContinuousClock()
        let triggered = clock.now
        stop.trigger()
        let results = try await run.value
        // Far within the grace (30 s): the KILL came at once.
        #expect(clock.now - triggered < .seconds(10))
        #expect(results.map(\.outcome) == [.cancelled, .cancelled])
        #expect(try await processesLeft(matching: marker, named: kind.processName).isEmpty)
        #expect(shell("touch \(release)").status == 0)
        let survivor = try await bystander.value
        #expect(survivor.map(\.outcome) == [.exited(0)])
        #expect(text(survivor[0].stdout) == "survived\n")
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
        let results = try await kind.passh {
            $0.stdinFile = FilePath(path); $0.fanout = 0
        }
        .run(["cksum"], on: (1...20).map { "h\($0)" })
        let expected = shell("cksum < \(path)").text
        #expect(results.map { text($0.stdout) } == Array(repeating: expected, count: 20))
    }

    /// A file past the size from which a plain ssh gets it as its stdin itself, not through a pipe.
    @Test(arguments: TransportKind.allCases)
    func aLargeStdinFileArrivesWholeAndFromItsStartOnEveryHost(_ kind: TransportKind) async throws {
        let path = "/tmp/passh-conformance-large-\(getpid())-\(kind.rawValue)"
        try writeFile(path, (0..<(17 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 16) })
        defer { unlink(path) }
        try await kind.prepare(["h1", "h2", "h3"])
        let results = try await kind.passh { $0.stdinFile = FilePath(path) }.run(["cksum"], on: ["h1", "h3"])
        let expected = shell("cksum < \(path)").text
        #expect(results.map { text($0.stdout) } == [expected, expected])
        // A host that reads only the start of it ends well.
        let short = try await kind.passh { $0.stdinFile = FilePath(path) }.run(["head -c 5 | od -An -tx1"], on: ["h2"])
        #expect(text(short[0].stdout) == shell("head -c 5 \(path) | od -An -tx1").text)
        #expect(short[0].outcome == .exited(0))
    }

    @Test(.timed, arguments: TransportKind.allCases)
    func cancellationTearsTheProcessesDown(_ kind: TransportKind) async throws {
        let (sleep, marker) = uniqueSleep(seconds: 60)
        // A plain ssh cannot stop its remote command: it would outlive the suite (by up to 60 s).
        defer { killProcesses(matching: marker, named: "sleep") }
        try await kind.prepare(["h01", "h02"])
        // A grace of 30 s: the sessions end on the TERM (or, with a plain ssh, the local ssh's end),
        // not on a KILL after the grace.
        let passh = kind.passh { $0.terminationGrace = .seconds(30) }
        let run = Task { try await passh.run(["echo started; exec \(sleep)"], on: ["h01", "h02"]) }
        // The commands run (the test sshd runs them on this machine too), and with a plain ssh, the
        // local processes that carry them.
        #expect(try await waitForProcesses(matching: marker, named: "sleep", count: 2) == 2)
        if let name = kind.processName {
            #expect(processes(matching: marker, named: name).count == 2)
        }
        let clock = ContinuousClock()
        let cancelled = clock.now
        run.cancel()
        let results = try await run.value
        #expect(clock.now - cancelled < .seconds(10))
        #expect(results.map(\.outcome) == [.cancelled, .cancelled])
        #expect(try await processesLeft(matching: marker, named: kind.processName).isEmpty)
    }

    @Test(.timed, arguments: TransportKind.allCases)
    func timeoutEndsASlowCommand(_ kind: TransportKind) async throws {
        let (sleep, marker) = uniqueSleep(seconds: 60)
        // A plain ssh cannot stop its remote command: it would outlive the suite (by up to 60 s).
        defer { killProcesses(matching: marker, named: "sleep") }
        try await kind.prepare(["h01"])
        // The timeout counts from the start, the connection included: a private master's (two ssh
        // handshakes) took more than 1 s on a loaded machine, and more than 3 s at a load of 15.
        let quick = try await kind.passh { $0.commandTimeout = .seconds(10) }.run(["echo quick"], on: ["h01"])
        #expect(quick[0].outcome == .exited(0))
        let slow = try await kind.passh { $0.commandTimeout = .seconds(10) }.run(["echo begun; \(sleep)"], on: ["h01"])
        #expect(slow[0].outcome == .timedOut)
        #expect(text(slow[0].stdout) == "begun\n")
        #expect(try await processesLeft(matching: marker, named: kind.processName).isEmpty)
    }
}

@Suite("Failures are structured per-host results", .needsTestCluster, .ownMasterConnections, .timed)
struct TransportFailureTests {
    @Test(arguments: [TransportKind.openSSH, .openSSHMultiplexed, .openSSHPrivateMasters])
    func sshFailuresAreClassified(_ kind: TransportKind) async throws {
        let results = try await kind.passh().run(
            ["true"], on: ["refused", "unknown-key", "changed-key", "noauth", "nosuchhost.invalid", "h01"])
        let refused = "ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused"
        #expect(results[0].outcome == .failed(HostFailure(.connectionRefused, refused)))
        #expect(results[1].outcome == .failed(HostFailure(.hostKeyUnknown, "Host key verification failed.")))
        #expect(results[2].outcome == .failed(HostFailure(.hostKeyChanged, "Host key verification failed.")))
        #expect(
            results[3].outcome
                == .failed(
                    HostFailure(.authenticationRefused, "passh-no-such-user@127.0.0.1: Permission denied (publickey)."))
        )
        if case .failed(let failure) = results[4].outcome {
            #expect(failure.kind == .hostUnreachable)
            #expect(failure.message.hasPrefix("ssh: Could not resolve hostname nosuchhost.invalid: "))
        } else {
            Issue.record("nosuchhost.invalid: \(results[4].outcome)")
        }
        #expect(results[5].outcome == .exited(0))
        #expect(
            results.map(\.errorMessage) == [
                refused, "Host key verification failed.", "Host key verification failed.",
                "passh-no-such-user@127.0.0.1: Permission denied (publickey).",
                results[4].errorMessage, nil,
            ])
    }

    @Test func aHostThatNeverSpeaksSSHTimesOut() async throws {
        let silent = SilentListener()
        defer { silent.close() }
        var ssh = TransportKind.openSSH.ssh
        ssh.connectTimeout = 1
        let results = try await ParallelSSH(ssh: ssh).run(["true"], on: [silent.host])
        #expect(
            results[0].outcome
                == .failed(HostFailure(.connectionTimedOut, "Connection timed out during banner exchange")))
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
        #expect(
            results[0].outcome
                == .failed(HostFailure(.cannotStart, "cannot run \(program): no such executable", program: program)))
    }

    @Test func aCommandKilledByASignalIsThatSignalWhereTheTransportCanTell() async throws {
        let local = try await TransportKind.local.passh().run(["kill -TERM $$"], on: ["h01"])
        #expect(local[0].outcome == .signaled(Signal(number: 15)))
        #expect(local[0].outcome.description == "failed: killed by SIGTERM")
        // OpenSSH's client reports a remote signal as 255 with no message; through a master in proxy
        // mode passh sees the exit-signal itself.
        let ssh = try await TransportKind.openSSH.passh().run(["kill -TERM $$"], on: ["h01"])
        #expect(ssh[0].outcome == .exited(255))
        try await TransportKind.openSSHMultiplexed.prepare(["h01"])
        let multiplexed = try await TransportKind.openSSHMultiplexed.passh().run(["kill -TERM $$"], on: ["h01"])
        #expect(multiplexed[0].outcome == .signaled(Signal(number: 15)))
    }
}

#if LIBSSH
@Suite("The libssh transport's failures and signals, on the test sshd", .needsTestCluster)
struct LibSSHTransportTests {
    /// The cluster's ssh_config with `StrictHostKeyChecking no` for every host: the transport
    /// must check host keys all the same.
    static func laxConfig() throws -> String {
        let path = temporaryPath("libssh-lax-config")
        try writeFile(
            path, Array(("Host *\n    StrictHostKeyChecking no\n\n" + (readText(TestCluster.config) ?? "")).utf8))
        return path
    }

    func passh(_ configure: (inout LibSSHOptions) -> Void = { _ in }) throws -> ParallelSSH {
        var options = TransportKind.libSSHOptions
        configure(&options)
        var run = RunOptions()
        run.collectOutput = true
        return ParallelSSH(options: run, transport: try LibSSHTransport(options: options))
    }

    @Test func failuresAreClassified() async throws {
        let results = try await passh().run(["true"], on: ["refused", "noauth", "nosuchhost.invalid", "h01"])
        #expect(
            results[0].outcome
                == .failed(
                    HostFailure(
                        .connectionRefused,
                        "connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused")))
        #expect(
            results[1].outcome
                == .failed(
                    HostFailure(
                        .authenticationRefused, "passh-no-such-user@127.0.0.1: Permission denied (publickey).")))
        if case .failed(let failure) = results[2].outcome {
            #expect(failure.kind == .hostUnreachable)
            #expect(failure.message.hasPrefix("connect to host nosuchhost.invalid port 22: "))
        } else {
            Issue.record("nosuchhost.invalid: \(results[2].outcome)")
        }
        #expect(results[3].outcome == .exited(0))
    }

    @Test func unknownAndChangedHostKeysFailEvenWithStrictCheckingOffInTheConfig() async throws {
        let config = try Self.laxConfig()
        let empty = temporaryPath("libssh-known-hosts-empty")
        let changed = temporaryPath("libssh-known-hosts-changed")
        defer { unlink(config); unlink(empty); unlink(changed) }
        try writeFile(empty, [])
        let directory = String(TestCluster.config.prefix(upTo: TestCluster.config.lastIndex(of: "/")!))
        let otherKey = (readText(directory + "/other_host_ed25519.pub") ?? "").split(separator: " ").prefix(2).joined(
            separator: " ")
        try writeFile(
            changed, Array("[127.0.0.1]:\(readText(directory + "/port")!.split(separator: "\n")[0]) \(otherKey)\n".utf8)
        )

        let unknown = try await passh {
            $0.configFile = FilePath(config); $0.options = ["UserKnownHostsFile=\(empty)"]
        }
        .run(["true"], on: ["h01"])
        #expect(
            unknown[0].outcome
                == .failed(
                    HostFailure(
                        .hostKeyUnknown, "Host key verification failed: the host key of h01 is not known")))
        let changedResult = try await passh {
            $0.configFile = FilePath(config); $0.options = ["UserKnownHostsFile \(changed)"]
        }
        .run(["true"], on: ["h01"])
        #expect(
            changedResult[0].outcome
                == .failed(
                    HostFailure(
                        .hostKeyChanged,
                        "Host key verification failed: the host key of h01 has changed (known_hosts holds another key: the host may be an impostor)"
                    )))
        // --insecure is the way round.
        let insecure = try await passh {
            $0.configFile = FilePath(config); $0.options = ["UserKnownHostsFile=\(changed)"]; $0.insecure = true
        }
        .run(["echo reached"], on: ["h01"])
        #expect(insecure[0].outcome == .exited(0))
        #expect(text(insecure[0].stdout) == "reached\n")
    }

    @Test func anEncryptedKeyIsSkippedWithAReasonAndNeverPrompts() async throws {
        let key = temporaryPath("libssh-encrypted-key")
        defer { unlink(key); unlink(key + ".pub") }
        #expect(shell("ssh-keygen -q -t ed25519 -N secret -f \(key) </dev/null").status == 0)
        // Given first, it is skipped; the configuration's key then logs in.
        let results = try await passh { $0.options = ["IdentityFile=\(key)"] }.run(["echo in"], on: ["h01", "noauth"])
        #expect(results[0].outcome == .exited(0))
        #expect(
            results[1].outcome
                == .failed(
                    HostFailure(
                        .authenticationRefused,
                        """
                        passh-no-such-user@127.0.0.1: Permission denied (publickey). Not tried: \(key) (a key that needs a passphrase, \
                        or no private key: passh never asks for a passphrase; add the key to ssh-agent).
                        """)))
    }

    @Test(.timed) func aSilentHostTimesOut() async throws {
        let silent = SilentListener()
        defer { silent.close() }
        let clock = ContinuousClock()
        let started = clock.now
        let results = try await passh { $0.connectTimeout = 1 }.run(["true"], on: [silent.host])
        #expect(
            results[0].outcome
                == .failed(HostFailure(.connectionTimedOut, "Connection timed out during banner exchange")))
        #expect(clock.now - started < .seconds(10))
    }

    @Test(.timed) func aHostThatStallsAfterItsGreetingTimesOutTheHandshake() async throws {
        // A listener that greets like an SSH server, then says nothing more.
        let (fd, host) = listenOnLoopback(backlog: 4)
        let hungUp = Flag()
        startThread {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            let banner = Array("SSH-2.0-OpenSSH_9.2p1 stalls\r\n".utf8)
            _ = banner.withUnsafeBytes { write(client, $0.baseAddress!, $0.count) }
            // Silent until passh hangs up (its handshake timeout): reading returns then, or after 30 s.
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 4096)
            while read(client, &buffer, buffer.count) > 0 {}
            hungUp.set()
            close(client)
        }
        defer { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
        let clock = ContinuousClock()
        let started = clock.now
        let results = try await passh {
            $0.connectTimeout = 1; $0.handshakeTimeout = 1
        }.run(["true"], on: [host])
        #expect(
            results[0].outcome
                == .failed(
                    HostFailure(
                        .connectionTimedOut, "Connection timed out during the key exchange with 127.0.0.1")))
        #expect(clock.now - started < .seconds(10))
        // The connection is closed, not left open.
        #expect(try await waitUntil { hungUp.isSet })
    }

    @Test func aConnectionThatBreaksIsLost() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 8)
        defer { killProcesses(matching: marker) }
        let passh = try passh()
        let run = Task { try await passh.run(["echo $PPID; exec \(sleep)"], on: ["h01"]) }
        try await waitForProcesses(matching: marker, named: "sleep")
        // The shell's parent is the sshd process serving the session: killing it breaks the connection.
        let session = processes(matching: marker).first.flatMap { readText("/proc/\($0)/stat") }
            .map { $0.split(separator: ")").last!.split(separator: " ")[1] }.flatMap { Int32($0) }
        try #require(session != nil)
        kill(session!, SIGKILL)
        let results = try await run.value
        // "disconnected" or "Connection reset by peer", depending on what the socket saw first.
        guard case .failed(let failure) = results[0].outcome else {
            Issue.record("h01: \(results[0].outcome)")
            return
        }
        #expect(failure.kind == .connectionLost)
        #expect(failure.message.hasPrefix("connection to h01 lost: Socket error: "))
    }

    @Test func aRemoteSignalIsThatSignal() async throws {
        let results = try await passh().run(["kill -TERM $$"], on: ["h01"])
        #expect(results[0].outcome == .signaled(Signal(name: "TERM")))
        #expect(results[0].outcome.description == "failed: killed by SIGTERM")
    }

    @Test func anOptionLibSSHDoesNotKnowIsRefusedBeforeAnythingStarts() throws {
        var options = TransportKind.libSSHOptions
        options.options = ["ServerAliveInterval=5"]
        #expect(
            throws: PasshError(
                .invalidOption,
                "-o ServerAliveInterval=5: ServerAliveInterval is not an option the libssh transport understands",
                remedy: .openSSHTransport)
        ) {
            _ = try LibSSHTransport(options: options)
        }
        options.options = ["StrictHostKeyChecking=no"]
        #expect(
            throws: PasshError(
                .invalidOption,
                "-o StrictHostKeyChecking=no: the libssh transport checks host keys (yes, or accept-new to add unknown keys)",
                remedy: .skipHostKeyChecking)
        ) {
            _ = try LibSSHTransport(options: options)
        }
        // The library names its own options, never the tool's flags.
        do {
            _ = try LibSSHTransport(options: options)
        } catch {
            #expect(
                error.message
                    == "-o StrictHostKeyChecking=no: the libssh transport checks host keys (yes, or accept-new to add unknown keys): set insecure to skip checking"
            )
            #expect(!error.message.contains("--"))
        }
        options.options = ["ServerAliveInterval=5"]
        do {
            _ = try LibSSHTransport(options: options)
        } catch {
            #expect(error.message.hasSuffix("the libssh transport understands (use OpenSSHTransport)"))
        }
    }

    /// An emergency stop reaches each run's sessions at once, and a transport reused across runs
    /// stops as fast the second time (its wait for the KILLs used to be spent by the first).
    @Test func aReusedTransportStopsAsFastTheSecondTime() async throws {
        let transport = try LibSSHTransport(options: TransportKind.libSSHOptions)
        let clock = ContinuousClock()
        for round in 1...2 {
            let (sleep, marker) = uniqueSleep(seconds: 60)
            let stop = EmergencyStop()
            var options = RunOptions()
            options.emergencyStop = stop
            options.terminationGrace = .seconds(30)
            let passh = ParallelSSH(options: options, transport: transport)
            let run = Task { try await passh.run(["trap '' TERM; \(sleep); true"], on: ["h01", "h02"]) }
            _ = try await waitForProcesses(matching: marker, named: "sleep", count: 2, within: .seconds(5))
            let triggered = clock.now
            stop.trigger()
            #expect(await stop.killsSent(within: .seconds(2)), "round \(round)")
            let results = try await run.value
            // Far within the grace (30 s) and the command (60 s).
            #expect(clock.now - triggered < .seconds(10), "round \(round)")
            #expect(results.map(\.outcome) == [.cancelled, .cancelled], "round \(round)")
            #expect(try await processesLeft(matching: marker).isEmpty, "round \(round)")
        }
    }

    @Test func oneTransportRunsManyHostsAndRunsAgain() async throws {
        let passh = try passh()
        let hosts = (1...50).map { "h\($0)" }
        for _ in 0..<2 {
            let results = try await passh.run(["echo $((6*7)); echo err >&2"], on: hosts)
            #expect(results.map(\.outcome) == Array(repeating: .exited(0), count: 50))
            #expect(results.map { text($0.stdout) } == Array(repeating: "42\n", count: 50))
            #expect(results.map { text($0.stderr) } == Array(repeating: "err\n", count: 50))
        }
    }
}
#endif
