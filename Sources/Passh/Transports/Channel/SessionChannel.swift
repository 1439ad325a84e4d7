/// One session channel, from the request to open it to its end: everything a transport does for a
/// host's command that does not depend on how it speaks to the host. A transport is a codec around
/// it: it turns what it reads into ``ChannelEvent``s, carries out the ``ChannelAction``s it gets
/// back, and waits — for its wire, at most until ``deadline`` — between the two. The channel does
/// no I/O and knows no clock: tests drive it with events and instants.
///
/// What it holds, each in a type of its own:
/// - stdin (``StdinSource``): the preamble, then the file, then EOF — never more than the host's
///   window, its packet size and the codec's room take; stopped when the host no longer reads;
/// - the stop (``StopLadder``): a request to stop sends `TERM`, the grace later `KILL`, and a command
///   that outlives its `KILL` is given up on; a stop before the command was asked for ends the
///   session at once;
/// - the end (``EndOfSession``): when the session is over and how it ended;
/// - the output (``LineSplitter``, one per stream): chunks of whole lines, and the window given back
///   to the host as they are taken.
///
/// Phases: ``Phase/idle`` → ``start(now:into:)`` → ``Phase/opening`` → (opened) →
/// ``Phase/executing`` → (accepted) → ``Phase/running`` → ``Phase/done`` (after a
/// ``ChannelAction/finish(_:)``).
struct SessionChannel: Sendable {
    /// How the channel is set up.
    struct Settings: Sendable {
        /// The command, as the remote shell gets it.
        var command: String
        /// Ask for a terminal before the command.
        var terminal = false
        /// The window passh grants the host; given back once half of it was taken.
        var window = 2 << 20
        /// The largest packet passh takes, and sends.
        var maximumPacket = 32 << 10
        /// Only the host's close ends the session (see ``EndOfSession``).
        var waitsForClose = true
        /// Between `TERM` and `KILL`.
        var terminationGrace: Duration = .milliseconds(500)
        /// Between `KILL` and giving up.
        var killWait: Duration = StopLadder.defaultKillWait

        init(command: String) {
            self.command = command
        }
    }

    enum Phase: Int, Comparable, Sendable {
        case idle, opening, executing, running, done
        static func < (a: Phase, b: Phase) -> Bool { a.rawValue < b.rawValue }
    }

    let settings: Settings
    private(set) var phase = Phase.idle
    private var stdin: StdinSource
    private var ladder: StopLadder
    private var end: EndOfSession
    private var stdout: LineSplitter
    private var stderr: LineSplitter
    /// What the host lets passh send now, and in one packet.
    private var sendWindow = 0
    private var sendPacket = 0
    /// Output taken since the window was last given back.
    private var received = 0
    /// The host opened the channel: it must be closed at the end.
    private var opened = false
    private var eofSent = false
    private var closeSent = false

    /// A channel for `host`'s command: its output cut at `maximumLineLength` (stdout as data when
    /// `binaryStdout`), `stdin` on its stdin.
    init(
        host: Host, settings: Settings, stdin: StdinSource, maximumLineLength: Int, binaryStdout: Bool = false
    ) {
        self.settings = settings
        self.stdin = stdin
        ladder = StopLadder(grace: settings.terminationGrace, killWait: settings.killWait)
        end = EndOfSession(waitsForClose: settings.waitsForClose)
        stdout = LineSplitter(host: host, stream: .stdout, maximumLineLength: maximumLineLength, binary: binaryStdout)
        stderr = LineSplitter(host: host, stream: .stderr, maximumLineLength: maximumLineLength)
    }

    /// Whether a ``ChannelAction/finish(_:)`` was given.
    var isDone: Bool { phase == .done }

    /// Whether the session was asked to stop.
    var isStopping: Bool { ladder.isStopping }

    /// The last signal sent (``StopLevel/kill`` once the `KILL` request went to the codec).
    var signalSent: StopLevel { ladder.sent }

    /// Whether the session ended without the host's word that its command ended: a signal went
    /// out and the ladder's wait after `KILL` ran out (or nothing had been asked for yet).
    var gaveUp: Bool { end.gaveUp }

    /// The next instant at which ``poll(now:room:into:)`` has something to do whatever the wire
    /// does; `nil`: nothing until an event.
    var deadline: ContinuousClock.Instant? { phase == .done ? nil : ladder.deadline }

    /// Asks the host for the channel.
    mutating func start(now: ContinuousClock.Instant, into actions: inout [ChannelAction]) {
        guard phase == .idle else { return }
        phase = .opening
        actions.append(.send(.open(window: settings.window, maximumPacket: settings.maximumPacket)))
        poll(now: now, room: 0, into: &actions)
    }

    /// Takes in what the codec saw.
    mutating func handle(_ event: ChannelEvent, now: ContinuousClock.Instant, into actions: inout [ChannelAction]) {
        guard phase != .done else { return }
        switch event {
        case .opened(let window, let maximumPacket):
            guard phase == .opening else { break }
            opened = true
            sendWindow = window
            sendPacket = maximumPacket
            if ladder.isStopping {
                // Stopped before the command was asked for: nothing runs; the channel is let go.
                end.gaveUp = true
                break
            }
            phase = .executing
            if settings.terminal { actions.append(.send(.terminal)) }
            actions.append(.send(.exec(settings.command)))
        case .openRefused(let reason):
            end.failure = HostFailure(.other, "the host refused a session channel: \(reason)", commandMayHaveRun: false)
        case .execAccepted:
            guard phase == .executing else { break }
            phase = .running
            if stdin.isEmpty { sendEOF(&actions) }
        case .execRefused(let detail):
            guard phase == .executing else { break }
            end.failure = HostFailure(.other, "the host refused to run the command" + (detail.map { ": \($0)" } ?? ""))
        case .windowAdjusted(let count):
            sendWindow += count
        case .windowIs(let count):
            sendWindow = count
        case .output(let stream, let bytes):
            let chunks = stream == .stdout ? stdout.append(bytes) : stderr.append(bytes)
            if !chunks.isEmpty { actions.append(.deliver(chunks)) }
            took(bytes.count, &actions)
        case .discarded(let count):
            took(count, &actions)
        case .outputEnded:
            end.outputEnded = true
            deliverRest(&actions)
        case .exitStatus(let status):
            end.exitStatus = status
        case .exitSignal(let name):
            end.exitSignal = name
        case .request(let wantsReply):
            if wantsReply && phase >= .executing && !closeSent { actions.append(.send(.requestFailed)) }
        case .closed:
            end.closed = true
            stdin.drop()
        case .connectionLost(let message):
            end.connectionLost(HostFailure(.connectionLost, message, commandMayHaveRun: phase >= .executing))
            closeSent = true  // nothing can be sent any more
        case .stdinRefused:
            stdin.drop()
        case .stop(let level):
            ladder.request(level, now: now)
        }
        poll(now: now, room: 0, into: &actions)
    }

    /// Reads output into the stream's splitter (see ``LineSplitter/read(upTo:_:)``), for a codec that
    /// reads it straight from its wire; the chunks are appended to `actions`. Returns `fill`'s result.
    mutating func read(
        _ stream: OutputStreamKind, upTo count: Int, into actions: inout [ChannelAction],
        _ fill: (UnsafeMutableRawBufferPointer) -> Int
    ) -> Int {
        let (result, chunks) = stream == .stdout ? stdout.read(upTo: count, fill) : stderr.read(upTo: count, fill)
        if !chunks.isEmpty { actions.append(.deliver(chunks)) }
        if result > 0 { took(result, &actions) }
        return result
    }

    /// Takes the time into account, and sends what can go: the stop's signals, and as much stdin as
    /// the host's window and `room` (what the codec can take now) allow. Ends the session when it is
    /// over.
    mutating func poll(now: ContinuousClock.Instant, room: Int, into actions: inout [ChannelAction]) {
        guard phase != .done else { return }
        ladder.advance(now: now)
        if ladder.isStopping {
            if phase <= .opening {
                end.gaveUp = true  // the command was never asked for: nothing to stop
            } else if phase == .running, !closeSent, !end.closed, let signal = ladder.signalToSend() {
                actions.append(.send(.signal(signal)))
            }
            if ladder.hasGivenUp(now: now) { end.gaveUp = true }
        }
        if room > 0 { feedStdin(room: room, &actions) }
        if end.isOver { finish(&actions) }
    }

    // MARK: -

    private mutating func took(_ count: Int, _ actions: inout [ChannelAction]) {
        received += count
        if received >= settings.window / 2 && !end.closed && !closeSent && opened {
            actions.append(.send(.windowAdjust(received)))
            received = 0
        }
    }

    private mutating func feedStdin(room: Int, _ actions: inout [ChannelAction]) {
        guard phase == .running, !eofSent, !closeSent, !end.closed, !stdin.isFinished else { return }
        let packet = Swift.min(sendPacket, settings.maximumPacket)
        guard packet > 0 else { return }
        var room = room
        while room > 0 && sendWindow > 0 {
            switch stdin.next(atMost: Swift.min(sendWindow, packet, room)) {
            case .data(let bytes):
                actions.append(.send(.data(bytes)))
                sendWindow -= bytes.count
                room -= bytes.count
            case .end:
                sendEOF(&actions)
                return
            }
        }
    }

    private mutating func sendEOF(_ actions: inout [ChannelAction]) {
        guard !eofSent, !closeSent, !end.closed else { return }
        eofSent = true
        stdin.drop()
        actions.append(.send(.eof))
    }

    private mutating func deliverRest(_ actions: inout [ChannelAction]) {
        let rest = [stdout.finish(), stderr.finish()].compactMap { $0 }
        if !rest.isEmpty { actions.append(.deliver(rest)) }
    }

    private mutating func finish(_ actions: inout [ChannelAction]) {
        deliverRest(&actions)
        stdin.drop()
        if opened && !closeSent {
            closeSent = true
            actions.append(.send(.close))
        }
        phase = .done
        actions.append(.finish(end.termination(stopped: ladder.isStopping)))
    }
}
