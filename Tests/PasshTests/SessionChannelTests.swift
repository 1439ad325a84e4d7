import Synchronization
import Testing

@testable import Passh

/// Bytes standing in for a stdin file.
final class BytesFile: StdinFile {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let start = Int(offset)
        guard start < bytes.count else { return 0 }
        let count = min(buffer.count, bytes.count - start)
        bytes[start..<(start + count)].withUnsafeBytes { buffer.copyMemory(from: $0) }
        return count
    }
}

/// Drives a ``SessionChannel`` with events and instants, as a codec would, and keeps what it asks.
struct ChannelDriver {
    var channel: SessionChannel
    var sent: [ChannelMessage] = []
    var output: [(OutputStreamKind, String)] = []
    var termination: Termination?
    let start = ContinuousClock.now

    init(
        command: String = "cmd", stdin: StdinSource = StdinSource(), grace: Duration = .milliseconds(500),
        waitsForClose: Bool = true, window: Int = 1 << 20
    ) {
        var settings = SessionChannel.Settings(command: command)
        settings.terminationGrace = grace
        settings.waitsForClose = waitsForClose
        settings.window = window
        channel = SessionChannel(host: try! Host("h1"), settings: settings, stdin: stdin, maximumLineLength: 1 << 20)
    }

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    mutating func take(_ actions: [ChannelAction]) {
        for action in actions {
            switch action {
            case .send(let message): sent.append(message)
            case .deliver(let chunks):
                for chunk in chunks { output.append((chunk.stream, String(decoding: chunk.bytes, as: UTF8.self))) }
            case .finish(let end):
                #expect(termination == nil, "one finish")
                termination = end
            }
        }
    }

    mutating func startChannel(at time: Int = 0) {
        var actions: [ChannelAction] = []
        channel.start(now: at(time), into: &actions)
        take(actions)
    }

    mutating func handle(_ event: ChannelEvent, at time: Int = 0) {
        var actions: [ChannelAction] = []
        channel.handle(event, now: at(time), into: &actions)
        take(actions)
    }

    mutating func poll(at time: Int = 0, room: Int = 0) {
        var actions: [ChannelAction] = []
        channel.poll(now: at(time), room: room, into: &actions)
        take(actions)
    }

    /// Opened and accepted: the command runs.
    mutating func running(window: Int = 0, packet: Int = 32 << 10) {
        startChannel()
        handle(.opened(window: window, maximumPacket: packet))
        handle(.execAccepted)
    }

    /// What was sent since the last call.
    mutating func drain() -> [ChannelMessage] {
        defer { sent = [] }
        return sent
    }

    /// The stdin bytes sent.
    static func data(_ messages: [ChannelMessage]) -> [UInt8] {
        messages.flatMap { message -> [UInt8] in
            if case .data(let bytes) = message { return bytes }
            return []
        }
    }
}

@Suite("The channel core, in memory")
struct SessionChannelTests {
    @Test func aSessionOpensRunsAndEndsWithItsExitStatus() {
        var driver = ChannelDriver(command: "echo hi")
        driver.startChannel()
        #expect(driver.drain() == [.open(window: 1 << 20, maximumPacket: 32 << 10)])
        driver.handle(.opened(window: 0, maximumPacket: 32 << 10))
        #expect(driver.drain() == [.exec("echo hi")])
        driver.handle(.execAccepted)
        #expect(driver.drain() == [.eof], "no stdin: its end at once")
        driver.handle(.output(.stdout, Array("hel".utf8)[...]))
        driver.handle(.output(.stdout, Array("lo\nwor".utf8)[...]))
        driver.handle(.output(.stderr, Array("oops\n".utf8)[...]))
        driver.handle(.exitStatus(3))
        driver.handle(.outputEnded)
        #expect(driver.termination == nil, "the close ends the session")
        driver.handle(.closed)
        #expect(driver.drain() == [.close])
        #expect(driver.termination == .exited(3))
        #expect(driver.output.map { "\($0.0):\($0.1)" } == ["stdout:hello\n", "stderr:oops\n", "stdout:wor"])
    }

    @Test func anExitSignalIsThatSignal() {
        var driver = ChannelDriver()
        driver.running()
        driver.handle(.exitSignal("TERM"))
        driver.handle(.outputEnded)
        driver.handle(.closed)
        #expect(driver.termination == .signaled(Signal(name: "TERM")))
    }

    @Test func withoutWaitingForTheCloseTheOutputsEndAndTheExitEndTheSession() {
        var driver = ChannelDriver(waitsForClose: false)
        driver.running()
        driver.handle(.exitStatus(0))
        #expect(driver.termination == nil, "the output has not ended")
        driver.handle(.outputEnded)
        #expect(driver.termination == .exited(0))
        #expect(driver.sent.last == .close)
    }

    @Test func stdinIsThePreambleThenTheFileWithinTheWindowThenItsEnd() {
        let file = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var driver = ChannelDriver(stdin: StdinSource(preamble: Array("secret\n".utf8), file: BytesFile(file)))
        driver.running(window: 0, packet: 16 << 10)
        _ = driver.drain()
        driver.poll(room: 1 << 20)
        #expect(driver.drain().isEmpty, "no window: nothing goes")
        driver.handle(.windowAdjusted(10_000))
        driver.poll(room: 1 << 20)
        let first = driver.drain()
        #expect(ChannelDriver.data(first).count == 10_000, "exactly the window")
        driver.handle(.windowAdjusted(50_000))
        driver.poll(room: 20_000)
        let second = driver.drain()
        #expect(ChannelDriver.data(second).count == 20_000, "no more than the codec's room")
        #expect(second.allSatisfy { if case .data(let bytes) = $0 { bytes.count <= 16 << 10 } else { false } })
        driver.handle(.windowAdjusted(1 << 20))
        driver.poll(room: 1 << 20)
        let rest = driver.drain()
        #expect(rest.last == .eof)
        #expect(ChannelDriver.data(first + second + rest) == Array("secret\n".utf8) + file)
    }

    @Test func aCommandThatEndsBeforeReadingItsStdinEndsTheSessionAndNothingMoreIsSent() {
        var driver = ChannelDriver(stdin: StdinSource(file: BytesFile(Array(repeating: 1, count: 1 << 20))))
        driver.running(window: 65_536)
        driver.poll(room: 1 << 20)
        #expect(ChannelDriver.data(driver.drain()).count == 65_536)
        driver.handle(.exitStatus(0))
        driver.handle(.outputEnded)
        driver.handle(.closed)
        driver.handle(.windowAdjusted(1 << 20))
        driver.poll(room: 1 << 20)
        #expect(driver.drain() == [.close])
        #expect(driver.termination == .exited(0))
    }

    @Test func aRefusedStdinIsDroppedAndTheCommandsExitStands() {
        var driver = ChannelDriver(stdin: StdinSource(file: BytesFile(Array(repeating: 1, count: 100_000))))
        driver.running(window: 1 << 20)
        driver.handle(.stdinRefused)
        driver.poll(room: 1 << 20)
        #expect(ChannelDriver.data(driver.drain()).isEmpty)
        driver.handle(.exitStatus(0))
        driver.handle(.outputEnded)
        driver.handle(.closed)
        #expect(driver.termination == .exited(0))
    }

    @Test func theWindowIsGivenBackOnceHalfOfItWasTaken() {
        var driver = ChannelDriver(window: 1000)
        driver.running()
        _ = driver.drain()
        driver.handle(.output(.stdout, Array(repeating: 0x41, count: 400)[...]))
        driver.handle(.discarded(50))
        #expect(driver.drain().isEmpty)
        driver.handle(.output(.stderr, Array(repeating: 0x41, count: 100)[...]))
        #expect(driver.drain() == [.windowAdjust(550)])
    }

    @Test func theStopLadderSendsTermThenKillThenGivesUp() {
        var driver = ChannelDriver(grace: .milliseconds(100))
        driver.running()
        _ = driver.drain()
        driver.handle(.stop(.terminate), at: 10)
        #expect(driver.drain() == [.signal("TERM")])
        #expect(driver.channel.deadline == driver.at(110))
        driver.poll(at: 109)
        #expect(driver.drain().isEmpty)
        driver.poll(at: 110)
        #expect(driver.drain() == [.signal("KILL")])
        #expect(driver.channel.deadline == driver.at(1110))
        driver.poll(at: 1109)
        #expect(driver.termination == nil)
        driver.poll(at: 1110)
        #expect(driver.drain() == [.close])
        #expect(driver.termination == .cancelled)
    }

    @Test func aStoppedCommandThatExitsZeroSucceedsAndOtherwiseIsCancelled() {
        var ok = ChannelDriver()
        ok.running()
        ok.handle(.stop(.terminate))
        ok.handle(.exitStatus(0))
        ok.handle(.outputEnded)
        ok.handle(.closed)
        #expect(ok.termination == .exited(0))
        var killed = ChannelDriver()
        killed.running()
        killed.handle(.stop(.kill))
        #expect(killed.drain().last == .signal("KILL"), "an emergency: KILL at once, no TERM")
        killed.handle(.exitSignal("KILL"))
        killed.handle(.closed)
        #expect(killed.termination == .cancelled)
    }

    @Test func aStopBeforeTheCommandWasAskedForEndsAtOnce() {
        var driver = ChannelDriver()
        driver.startChannel()
        driver.handle(.stop(.terminate))
        #expect(driver.termination == .cancelled)
        #expect(driver.drain() == [.open(window: 1 << 20, maximumPacket: 32 << 10)], "no exec, no close")
    }

    @Test func aStopWhileTheCommandIsAskedForSignalsOnceItIsAccepted() {
        var driver = ChannelDriver()
        driver.startChannel()
        driver.handle(.opened(window: 0, maximumPacket: 32 << 10))
        _ = driver.drain()
        driver.handle(.stop(.terminate))
        #expect(driver.drain().isEmpty, "nothing to signal yet")
        driver.handle(.execAccepted)
        #expect(driver.drain() == [.eof, .signal("TERM")])
    }

    @Test func aLostConnectionFailsTheHostUnlessItHadSaidAll() {
        var early = ChannelDriver()
        early.startChannel()
        early.handle(.connectionLost("connection to h1 lost: gone"))
        #expect(
            early.termination
                == .failed(HostFailure(.connectionLost, "connection to h1 lost: gone", commandMayHaveRun: false)))
        var running = ChannelDriver()
        running.running()
        running.handle(.output(.stdout, Array("partial".utf8)[...]))
        running.handle(.connectionLost("connection to h1 lost: gone"))
        #expect(running.output.map(\.1) == ["partial"], "the unfinished line still goes on")
        #expect(!running.sent.contains(.close))
        #expect(running.termination == .failed(HostFailure(.connectionLost, "connection to h1 lost: gone")))
        var done = ChannelDriver()
        done.running()
        done.handle(.exitStatus(4))
        done.handle(.outputEnded)
        done.handle(.connectionLost("connection to h1 lost: gone"))
        #expect(done.termination == .exited(4))
        var stopped = ChannelDriver()
        stopped.running()
        stopped.handle(.stop(.terminate))
        stopped.handle(.connectionLost("connection to h1 lost: gone"))
        #expect(stopped.termination == .cancelled)
    }

    @Test func refusalsAreFailuresAndRequestsThatWantAReplyGetAFailure() {
        var refused = ChannelDriver()
        refused.startChannel()
        refused.handle(.openRefused("no more sessions"))
        #expect(
            refused.termination
                == .failed(
                    HostFailure(
                        .other, "the host refused a session channel: no more sessions", commandMayHaveRun: false)))
        var notRun = ChannelDriver()
        notRun.startChannel()
        notRun.handle(.opened(window: 0, maximumPacket: 100))
        notRun.handle(.execRefused(nil))
        #expect(notRun.termination == .failed(HostFailure(.other, "the host refused to run the command")))
        #expect(notRun.sent.last == .close)
        var asked = ChannelDriver()
        asked.running()
        _ = asked.drain()
        asked.handle(.request(wantsReply: true))
        asked.handle(.request(wantsReply: false))
        #expect(asked.drain() == [.requestFailed])
    }

    @Test func theHostClosingWithoutAnExitIsSaid() {
        var driver = ChannelDriver()
        driver.running()
        driver.handle(.closed)
        #expect(
            driver.termination
                == .failed(HostFailure(.connectionLost, "the host closed the session without an exit status")))
    }
}
