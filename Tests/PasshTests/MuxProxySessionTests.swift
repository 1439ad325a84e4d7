import Synchronization
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// The output a session delivered, as `stream:text` per chunk.
final class OutputLog: Sendable {
    private let chunks = Mutex<[String]>([])
    var all: [String] { chunks.withLock { $0 } }
    func record(_ chunk: OutputChunk) {
        chunks.withLock { $0.append("\(chunk.stream):" + String(decoding: chunk.bytes, as: UTF8.self)) }
    }
}

/// The mux proxy session against a master played by a script over a socketpair (``FakeMaster``): no
/// sshd, no master process; every case ends by construction (the master's reads time out).
@Suite("The mux proxy session, against a fake master")
struct MuxProxySessionTests {
    static let host = try! Host("h1")

    /// Runs `command` through a session on `master`'s socket.
    static func run(
        _ master: FakeMaster, _ command: String = "cmd", poller: Poller = Poller(),
        _ configure: (inout SessionOptions) -> Void = { _ in }
    ) async -> (Termination, OutputLog) {
        var options = SessionOptions()
        configure(&options)
        let log = OutputLog()
        var session = MuxProxySession(MuxClient(connected: master.sessionEnd, poller: poller), host: host)
        let termination = await session.run(command, options: options) { log.record($0) }
        return (termination, log)
    }

    /// The start every script shares: the channel confirmed (server id 5) with `window`, the
    /// command accepted.
    static func accept(_ master: FakeMaster, window: UInt32 = 0) -> Bool {
        guard master.next(.open) != nil else { return false }
        master.send(.openConfirmation, .u32(0), .u32(5), .u32(window), .u32(32768))
        guard master.next(.request) != nil else { return false }
        master.send(.success, .u32(0))
        return true
    }

    /// The stdin bytes in `frames`.
    static func data(_ frames: [FakeMaster.Frame]) -> [UInt8] {
        frames.filter { $0.type == MuxProxyFrames.Kind.data.rawValue }.flatMap { frame -> [UInt8] in
            var reader = frame.reader
            _ = reader.u32()
            return Array(reader.string() ?? [])
        }
    }

    @Test func aCommandRunsAndEndsWithItsExitStatus() async throws {
        let master = FakeMaster { master in
            guard Self.accept(master) else { return }
            master.send(.data, .u32(0), .text("hello\nwor"))
            master.send(.extendedData, .u32(0), .u32(1), .text("oops\n"))
            master.send(.data, .u32(0), .text("ld\n"))
            master.send(.request, .u32(0), .text("exit-status"), .byte(0), .u32(3))
            master.send(.request, .u32(0), .text("eow@openssh.com"), .byte(0))
            master.send(.eof, .u32(0))
            master.send(.close, .u32(0))
            _ = master.next(.close)
        }
        let (termination, log) = await Self.run(master, "echo hello")
        await master.finished()
        #expect(termination == .exited(3))
        #expect(log.all == ["stdout:hello\n", "stderr:oops\n", "stdout:world\n"])
        let frames = master.received
        #expect(frames.map { $0.type } == [90, 98, 96, 97], "open, exec, EOF (no stdin), close")
        var open = frames[0].reader
        #expect(open.string().map { Array($0) } == Array("session".utf8))
        #expect([open.u32(), open.u32(), open.u32()] == [0, 2 << 20, 32 << 10])
        var exec = frames[1].reader
        #expect(exec.u32() == 5, "the server's id for the channel")
        #expect(exec.string().map { Array($0) } == Array("exec".utf8))
        #expect(exec.byte() == 1)
        #expect(exec.string().map { Array($0) } == Array("echo hello".utf8))
    }

    @Test func stdinStopsAtTheEndOfTheWindowAndGoesOnWhenItGrows() async throws {
        let input = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let sentBeforeTheMarker = Mutex(-1)
        let master = FakeMaster { master in
            guard Self.accept(master) else { return }
            master.send(.windowAdjust, .u32(0), .u32(10_000))
            var frames: [FakeMaster.Frame] = []
            while Self.data(frames).count < 10_000, let frame = master.next() { frames.append(frame) }
            // Anything more would have gone in the same burst, before the answer to this request.
            master.send(.request, .u32(0), .text("keepalive@openssh.com"), .byte(1))
            while let frame = master.next(), frame.type != MuxProxyFrames.Kind.failure.rawValue { frames.append(frame) }
            sentBeforeTheMarker.withLock { $0 = Self.data(frames).count }
            master.send(.windowAdjust, .u32(0), .u32(1 << 20))
            _ = master.next(.eof)
            master.send(.request, .u32(0), .text("exit-status"), .byte(0), .u32(0))
            master.send(.eof, .u32(0))
            master.send(.close, .u32(0))
            _ = master.next(.close)
        }
        let (termination, _) = await Self.run(master) { $0.stdinPreamble = input }
        await master.finished()
        #expect(termination == .exited(0))
        #expect(sentBeforeTheMarker.withLock { $0 } == 10_000)
        #expect(Self.data(master.received) == input)
        let sizes = master.received.filter { $0.type == MuxProxyFrames.Kind.data.rawValue }.map { $0.payload.count - 8 }
        #expect(sizes.allSatisfy { $0 <= 32 << 10 }, "no packet over the largest the server takes")
    }

    @Test func aCommandThatEndsBeforeReadingItsStdinEndsTheSession() async throws {
        let master = FakeMaster { master in
            guard Self.accept(master, window: 65_536) else { return }
            var frames: [FakeMaster.Frame] = []
            while Self.data(frames).count < 65_536, let frame = master.next() { frames.append(frame) }
            master.send(.request, .u32(0), .text("exit-status"), .byte(0), .u32(0))
            master.send(.eof, .u32(0))
            master.send(.close, .u32(0))
            _ = master.next(.close)
        }
        let (termination, _) = await Self.run(master) { $0.stdinPreamble = Array(repeating: 7, count: 1 << 20) }
        await master.finished()
        #expect(termination == .exited(0))
        #expect(Self.data(master.received).count == 65_536)
    }

    @Test func anExitSignalIsThatSignal() async throws {
        let master = FakeMaster { master in
            guard Self.accept(master) else { return }
            master.send(
                .request, .u32(0), .text("exit-signal"), .byte(0), .text("TERM"), .byte(0), .text(""), .text(""))
            master.send(.eof, .u32(0))
            master.send(.close, .u32(0))
            _ = master.next(.close)
        }
        let (termination, _) = await Self.run(master)
        await master.finished()
        #expect(termination == .signaled(Signal(name: "TERM")))
    }

    @Test func aMasterThatDiesMidStreamIsALostConnectionAfterItsOutput() async throws {
        let master = FakeMaster { master in
            guard Self.accept(master) else { return }
            master.send(.data, .u32(0), .text("line\npart"))
            master.hangUp()
        }
        let (termination, log) = await Self.run(master)
        await master.finished()
        // Lost as it is read ("the master connection closed") or written ("Broken pipe").
        guard case .failed(let failure) = termination else {
            Issue.record("\(termination)")
            return
        }
        #expect(failure.kind == .connectionLost && failure.message.hasPrefix("connection to h1 lost: "))
        #expect(failure.commandMayHaveRun)
        #expect(log.all == ["stdout:line\n", "stdout:part"])
    }

    @Test func aMasterThatNeverAnswersEndsWithTheTasksCancellation() async throws {
        let master = FakeMaster { master in
            _ = master.next(.open)
            master.mark("opened")
            _ = master.next()  // silence, until the session goes
        }
        let run = Task { await Self.run(master).0 }
        await master.reached("opened")
        let clock = ContinuousClock()
        let cancelled = clock.now
        run.cancel()
        #expect(await run.value == .cancelled)
        #expect(clock.now - cancelled < .seconds(5))
        await master.finished()
    }

    @Test func aMasterThatNeverGreetsFailsAtTheDeadlineOrOnCancellation() async throws {
        let poller = Poller()
        let silent = FakeMaster { master in
            _ = master.next()  // the hello
            _ = master.next()  // silence
        }
        var client = MuxClient(connected: silent.sessionEnd, poller: poller)
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: MuxClient.Failure.self) { try await client.greet(deadline: start + .milliseconds(300)) }
        #expect(clock.now - start >= .milliseconds(300))
        #expect(clock.now - start < .seconds(5))

        let other = FakeMaster { master in
            _ = master.next()
            master.mark("greeted")
            _ = master.next()
        }
        let greeting = Task { () -> MuxClient.Failure.Kind? in
            var client = MuxClient(connected: other.sessionEnd, poller: poller)
            do throws(MuxClient.Failure) {
                try await client.greet(deadline: .now + .seconds(60))
                return nil
            } catch {
                return error.kind
            }
        }
        await other.reached("greeted")
        let cancelled = clock.now
        greeting.cancel()
        #expect(await greeting.value == .cancelled)
        #expect(clock.now - cancelled < .seconds(5))
        withExtendedLifetime((silent, other)) {}
    }

    /// TERM, then KILL once the grace has passed. The grace is measured from the stop (the test's
    /// cancellation) to the KILL's arrival: a delay in reading the TERM (a loaded machine) cannot
    /// make it look shorter, as a gap measured between the two arrivals did.
    @Test func aStopSendsTermThenAfterTheGraceKill() async throws {
        let killed = Mutex<ContinuousClock.Instant?>(nil)
        let master = FakeMaster { master in
            guard Self.accept(master) else { return }
            master.mark("running")
            var signals: [String] = []
            while signals.count < 2, let frame = master.next(.request) {
                var reader = frame.reader
                _ = reader.u32()
                guard reader.string().map({ Array($0) }) == Array("signal".utf8) else { continue }
                _ = reader.byte()
                signals.append(String(decoding: reader.string() ?? [], as: UTF8.self))
                if signals.count == 2 { killed.withLock { $0 = .now } }
            }
            guard signals == ["TERM", "KILL"] else { return }
            master.send(
                .request, .u32(0), .text("exit-signal"), .byte(0), .text("KILL"), .byte(0), .text(""), .text(""))
            master.send(.close, .u32(0))
            _ = master.next(.close)
        }
        let run = Task { await Self.run(master) { $0.terminationGrace = .milliseconds(200) }.0 }
        await master.reached("running")
        let stopped = ContinuousClock.now
        run.cancel()
        #expect(await run.value == .cancelled)
        await master.finished()
        let kill = try #require(killed.withLock { $0 })
        #expect(kill - stopped >= .milliseconds(200))
        #expect(kill - stopped < .seconds(5))
    }

    /// A `KILL` the host does not answer is read by the master before the session lets the socket
    /// go: the session shuts its end for writing and waits for the master's end of file. When it
    /// closed the socket at once, a master stopped right after (the shell's ^D after ^C twice)
    /// could take its request to exit in the same round as the `KILL`, and leave without sending
    /// it: the host's command went on. Here the master reads nothing until the session stops
    /// writing, as one busy elsewhere.
    @Test func aKillTheHostDoesNotAnswerIsHandedToTheMasterFirst() async throws {
        let handed = Mutex<[Bool]?>(nil)
        let master = FakeMaster { master in
            guard Self.accept(master) else { return }
            master.mark("running")
            guard master.waitForTheSessionToStopWriting() else { return }
            var killed = false
            while let frame = master.next() {
                guard frame.type == MuxProxyFrames.Kind.request.rawValue else { continue }
                var reader = frame.reader
                _ = reader.u32()
                let name = reader.string().map { String(decoding: $0, as: UTF8.self) }
                _ = reader.byte()
                let signal = reader.string().map { String(decoding: $0, as: UTF8.self) }
                if name == "signal" && signal == "KILL" { killed = true }
            }
            handed.withLock { $0 = [killed, master.sessionStillReads()] }
            master.hangUp()
        }
        let stop = EmergencyStop()
        let run = Task { await Self.run(master) { $0.emergencyStop = stop }.0 }
        await master.reached("running")
        stop.trigger()
        #expect(await run.value == .cancelled)
        await master.finished()
        #expect(handed.withLock { $0 } == [true, true])  // the KILL read, the session still there
    }

    @Test func anEmergencyStopSendsKillAtOnceAndSaysSoOnceItLeft() async throws {
        let first = Mutex<String?>(nil)
        let master = FakeMaster { master in
            guard Self.accept(master) else { return }
            master.mark("running")
            guard let frame = master.next(.request) else { return }
            var reader = frame.reader
            _ = reader.u32()
            _ = reader.string()
            _ = reader.byte()
            first.withLock { $0 = String(decoding: reader.string() ?? [], as: UTF8.self) }
            master.send(
                .request, .u32(0), .text("exit-signal"), .byte(0), .text("KILL"), .byte(0), .text(""), .text(""))
            master.send(.close, .u32(0))
            _ = master.next(.close)
        }
        let stop = EmergencyStop()
        let run = Task {
            await Self.run(master) {
                $0.emergencyStop = stop; $0.terminationGrace = .seconds(30)
            }.0
        }
        await master.reached("running")
        stop.trigger()
        #expect(await stop.killsSent(within: .seconds(5)))
        #expect(await run.value == .cancelled)
        await master.finished()
        #expect(first.withLock { $0 } as String? == "KILL")
    }
}
