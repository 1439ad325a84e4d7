#if LIBSSH
import CLibSSH
#if canImport(Glibc)
import Glibc
#endif

/// Everything an engine thread needs to run one host's session (made by the host's `run` call).
struct LibSSHJob: Sendable {
    let id: Int
    let host: Host
    let command: String
    let session: SessionOptions
    let ssh: LibSSHOptions
    let settings: [Setting]
    let connectTimeout: Duration
    let handshakeTimeout: Duration
    let keys: LibSSHKeyStore
    let bridge: SessionBridge
    /// The transport's agent filter and known_hosts writer (with ``hostSettings``).
    var agent: LibSSHAgentFilter? = nil
    var knownHosts: LibSSHKnownHostsWriter? = nil
    /// The host's settings, as read from the ssh configuration the way OpenSSH reads it; `nil`:
    /// libssh reads the configuration itself.
    var hostSettings: SSHHostSettings? = nil
    /// The kept connection this job runs on: the session stays open after the command (idle) and
    /// takes the connection's next job; `nil`: the session closes with its command.
    var kept: LibSSHKeptConnection? = nil
    /// Only connect and log in (a kept connection opened ahead of its first command).
    var connectOnly = false
}

/// One host's session, driven by one engine thread and touched by no other: connect → check the
/// host key → log in, then a ``SessionChannel`` on libssh's channel calls: open → (a terminal, if
/// asked for) → exec → run (output, stdin, exit, stop) → close.
///
/// The handshake is libssh's own and stays here; from the channel on, this is the channel core's
/// codec: libssh's calls and callbacks become ``ChannelEvent``s, the channel's actions become
/// libssh calls. Every libssh call here is non-blocking (`SSH_AGAIN`: call again when the socket is
/// ready), except those noted on ``LibSSHEngine``. The phases from connecting to exec count against
/// the engine's handshake cap, and must end within the connect timeout.
final class LibSSHSession {
    enum Phase { case queued, connecting, authenticating, opening, requestingTerminal, executing, running, idle, done }

    private(set) var job: LibSSHJob
    private(set) var phase = Phase.queued
    private var session: OpaquePointer?
    private var sshChannel: OpaquePointer?
    private var callbacks: UnsafeMutablePointer<ssh_channel_callbacks_struct>?
    private var channel: SessionChannel
    private var actions: [ChannelAction] = []

    private var connectDeadline: ContinuousClock.Instant?
    private var handshakeDeadline: ContinuousClock.Instant?

    private var agentDone = false
    /// The agent's keys, once its socket is set (the file keys among them are not offered again).
    private var agentKeys: Set<String>?
    /// That socket, closed as soon as the agent has had its turn (two descriptors less per host).
    private var agentSocket: Int32 = -1
    private var keys: [PrivateKey]?
    private var configIdentity: String?
    /// Key files that exist but could not be used (they need a passphrase): named in the failure.
    private var skippedKeys: [String] = []
    private var keyIndex = 0
    /// How many of the host's environment variables (SendEnv, SetEnv) were sent.
    private var environmentSent = 0

    /// Set by libssh's callbacks while a call runs; told to the channel after it.
    fileprivate var exitStatus: Int32?
    fileprivate var exitSignal: String?
    fileprivate var closed = false
    private var toldExit = false
    private var toldClose = false
    private var stdoutEnded = false
    private var stderrEnded = false
    /// Stdin bytes a write did not take (libssh wrote less than the window said): sent first.
    private var unwritten: ArraySlice<UInt8> = []
    /// The `KILL` request was handed to libssh: the emergency stop is told once it left.
    private var killQueued = false
    /// The session logged in: a kept one stays open after its command.
    private var loggedIn = false
    /// Idle with bytes waiting that only a channel's pump reads: not polled for input until the
    /// next command (which reads them).
    private var idleInputPending = false
    /// Idle, with everything libssh held written out. libssh's `SSH_WRITE_PENDING` says only that
    /// its socket waits for `POLLOUT`, and only its own poll clears that — which an idle session
    /// never runs (`ssh_blocking_flush` returns at once when nothing is buffered). Polled for
    /// `POLLOUT` on that word alone, an idle connection woke its thread again and again, for ever:
    /// 65 wake-ups per connection per second between two commands (strace), a thread at 100 %.
    private var idleFlushed = false
    /// Closes (instead of going idle) when the command ends: the kept connection was released.
    var releasing = false

    /// Set when a step stopped with data left to read: step again without waiting for the socket.
    private(set) var wantsStep = false

    /// The most a step reads of one stream before letting other sessions run.
    static let readsPerStep = 16
    /// The most stdin a step hands libssh (4 packets of 32 KiB).
    static let stdinPerStep = 128 << 10

    init(_ job: LibSSHJob) {
        self.job = job
        var settings = SessionChannel.Settings(command: job.command)
        settings.terminal = job.session.terminal
        settings.waitsForClose = false  // libssh's pumps stop at EOF and at the exit status
        settings.terminationGrace = job.session.terminationGrace
        channel = SessionChannel(
            host: job.host, settings: settings, stdin: StdinSource(), maximumLineLength: job.session.maximumLineLength,
            binaryStdout: job.session.binaryStdout)
    }

    /// Whether the session holds one of the engine's handshake slots.
    var isHandshaking: Bool {
        phase == .connecting || phase == .authenticating || phase == .opening || phase == .requestingTerminal
            || phase == .executing
    }

    /// The socket, once connecting began.
    var socket: Int32 {
        guard let session, phase != .queued, phase != .done else { return -1 }
        return ssh_get_fd(session)
    }

    /// The `poll` events the session waits for: what libssh wants, without reading while the
    /// consumer is behind.
    func pollEvents() -> Int16 {
        guard let session, socket >= 0 else { return 0 }
        var events: Int16 = 0
        if ssh_get_poll_flags(session) & SSH_WRITE_PENDING != 0 { events |= Int16(POLLOUT) }
        if phase != .running || job.bridge.mayRead() { events |= Int16(POLLIN) }
        return events
    }

    /// The next instant at which the session must be stepped whatever its socket does.
    var deadline: ContinuousClock.Instant? {
        if phase == .connecting || phase == .authenticating {
            return bannerPending ? connectDeadline : handshakeDeadline
        }
        if isHandshaking && !channel.isStopping {
            return [handshakeDeadline, channel.deadline].compactMap { $0 }.min()
        }
        return channel.deadline
    }

    /// Whether the server's SSH banner has yet to arrive: until it does, the connect timeout
    /// applies (OpenSSH's ConnectTimeout covers the connection and the banner exchange).
    private var bannerPending: Bool {
        guard phase == .connecting, let session else { return false }
        return ssh_get_serverbanner(session) == nil
    }

    // MARK: Stepping

    /// Starts connecting (the session got a handshake slot).
    func start(now: ContinuousClock.Instant) {
        guard phase == .queued else { return }
        if job.bridge.stopRequest != .none { return finish(.cancelled) }
        if let failure = makeChannel() { return finish(.failed(failure)) }
        guard let session = ssh_new() else {
            return finish(.failed(HostFailure(.other, "libssh: cannot create a session")))
        }
        self.session = session
        connectDeadline = now + job.connectTimeout
        handshakeDeadline = now + job.connectTimeout + job.handshakeTimeout
        phase = .connecting
        if let failure = configure(session) { return finish(.failed(failure)) }
        step(now: now)
    }

    /// The command's channel state, with its stdin; the failure when the stdin file cannot be read.
    private func makeChannel() -> HostFailure? {
        var file: StdinFileDescriptor?
        if let path = job.session.stdinFile {
            do throws(StdinFileDescriptor.Failure) {
                file = try StdinFileDescriptor.open(path)
            } catch {
                return error.failure
            }
        }
        var settings = SessionChannel.Settings(command: job.command)
        settings.terminal = job.session.terminal
        settings.waitsForClose = false
        settings.terminationGrace = job.session.terminationGrace
        channel = SessionChannel(
            host: job.host, settings: settings,
            stdin: StdinSource(preamble: job.session.stdinPreamble, file: file),
            maximumLineLength: job.session.maximumLineLength, binaryStdout: job.session.binaryStdout)
        return nil
    }

    /// Runs the next job of a kept connection on this idle session: a new channel on the open
    /// connection, no handshake.
    func reuse(_ next: LibSSHJob, now: ContinuousClock.Instant) {
        guard phase == .idle else { return next.bridge.finish(.failed(HostFailure(.other, "the connection is busy"))) }
        job = next
        exitStatus = nil
        exitSignal = nil
        closed = false
        toldExit = false
        toldClose = false
        stdoutEnded = false
        stderrEnded = false
        unwritten = []
        killQueued = false
        wantsStep = false
        environmentSent = 0
        idleInputPending = false
        idleFlushed = false
        actions.removeAll()
        phase = .opening  // until the channel says otherwise
        if job.bridge.stopRequest != .none { return finish(.cancelled) }
        if isBroken { return finish(.failed(lostFailure())) }
        if let failure = makeChannel() { return finish(.failed(failure)) }
        handshakeDeadline = now + job.handshakeTimeout
        authenticated(now: now)
        step(now: now)
    }

    /// The `poll` events an idle kept session waits for: its pending writes, and the connection's
    /// end (a hang-up, or the host closing it).
    func idlePollEvents() -> Int16 {
        guard let session, phase == .idle else { return 0 }
        var events: Int16 = idleInputPending ? 0 : Int16(POLLIN)
        if !idleFlushed && ssh_get_poll_flags(session) & SSH_WRITE_PENDING != 0 { events |= Int16(POLLOUT) }
        return events
    }

    /// An idle kept session's socket is ready: flushes what libssh holds, and closes the session
    /// when the host has closed the connection. `false` once closed.
    func stepIdle() -> Bool {
        guard let session, phase == .idle else { return false }
        if !idleFlushed, ssh_get_poll_flags(session) & SSH_WRITE_PENDING != 0 {
            idleFlushed = ssh_blocking_flush(session, 0) == SSH_OK
        }
        var byte: UInt8 = 0
        let fd = ssh_get_fd(session)
        let peeked = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || isBroken {
            closeConnection(reason: "the host closed the connection")
            return false
        }
        if peeked > 0 { idleInputPending = true }
        return true
    }

    /// Closes the session for good (an idle kept one released, or its host gone).
    func closeConnection(reason: String?) {
        guard phase != .done else { return }
        let wasIdle = phase == .idle
        phase = .done
        freeChannel()
        if let session {
            ssh_disconnect(session)
            ssh_free(session)
        }
        session = nil
        job.kept?.closed(reason: reason)
        if !wasIdle { job.bridge.finish(.cancelled) }
    }

    /// Advances the session as far as it goes without waiting.
    func step(now: ContinuousClock.Instant) {
        wantsStep = false
        switch phase {
        case .queued:
            if job.bridge.stopRequest != .none { finish(.cancelled) }
            return
        case .done, .idle:
            return
        default:
            break
        }
        if (phase == .connecting || phase == .authenticating) && job.bridge.stopRequest != .none {
            return finish(.cancelled)  // nothing was asked of the host yet
        }
        if isHandshaking, !channel.isStopping, let limit = bannerPending ? connectDeadline : handshakeDeadline,
            now >= limit
        {
            return finish(.failed(timedOut()))
        }
        if phase == .connecting { stepConnect() }
        if phase == .authenticating { stepAuthenticate(now: now) }
        if phase == .opening || phase == .requestingTerminal || phase == .executing || phase == .running {
            stepChannel(now: now)
        }
    }

    private func configure(_ session: OpaquePointer) -> HostFailure? {
        let ssh = job.ssh
        if let settings = job.hostSettings {
            if let failure = settings.apply(to: session) { return failure }
        } else if let failure = configureFromSSHConfig(session) {
            return failure
        }
        // Set after the configuration, so that it cannot weaken them (pitfalls 7 and 8 of the
        // spike): host keys are checked as passh decides; libssh logs nothing (this is also
        // libssh's process-wide level).
        var on: Int32 = 1
        var off: Int32 = 0
        var strict: Int32 =
            ssh.insecure || job.hostSettings?.hostKeyPolicy == SSHHostSettings.HostKeyPolicy.none ? 0 : 1
        var quiet = Int32(SSH_LOG_NOLOG)
        ssh_options_set(session, SSH_OPTIONS_NODELAY, &on)
        ssh_options_set(session, SSH_OPTIONS_STRICTHOSTKEYCHECK, &strict)
        ssh_options_set(session, SSH_OPTIONS_LOG_VERBOSITY, &quiet)
        ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &off)
        ssh_set_blocking(session, 0)
        return nil
    }

    /// libssh's own reading of the ssh configuration, then the `-o` settings, user and port.
    private func configureFromSSHConfig(_ session: OpaquePointer) -> HostFailure? {
        let ssh = job.ssh
        let host = job.host
        ssh_options_set(session, SSH_OPTIONS_HOST, host.hostname)
        if ssh_options_parse_config(session, ssh.configFile?.string) < 0 {
            return HostFailure(.other, "cannot read the ssh configuration: \(libSSHError(session))")
        }
        // The configuration's first IdentityFile (libssh lists no further ones), read before
        // `-o IdentityFile` settings go in front of it.
        var identity: UnsafeMutablePointer<CChar>?
        if ssh_options_get(session, SSH_OPTIONS_IDENTITY, &identity) == SSH_OK, let identity {
            configIdentity = String(cString: identity)
            ssh_string_free_char(identity)
        }
        for setting in job.settings where setting.apply(to: session) < 0 {
            return HostFailure(.other, "cannot apply -o \(setting.value): \(libSSHError(session))")
        }
        if let user = host.user ?? ssh.defaultUser { ssh_options_set(session, SSH_OPTIONS_USER, user) }
        if let port = host.port {
            var number = Int32(port)
            ssh_options_set(session, SSH_OPTIONS_PORT, &number)
        }
        return nil
    }

    private func stepConnect() {
        guard let session else { return }
        switch ssh_connect(session) {
        case SSH_AGAIN: return
        case SSH_OK: break
        default: return finish(.failed(connectFailure()))
        }
        if let failure = LibSSHHostKeyPolicy.verify(session, job: job) { return finish(.failed(failure)) }
        phase = .authenticating
    }

    private func stepAuthenticate(now: ContinuousClock.Instant) {
        guard let session else { return }
        // The server hung up (too many failed attempts): libssh 0.10's agent step would go on
        // answering "again".
        if isBroken { return finish(.failed(disconnectFailure())) }
        if agentKeys == nil, let settings = job.hostSettings, let filter = job.agent {
            // The agent, through the filter: under IdentitiesOnly, only the identity files' keys.
            if let (socket, keys) = job.keys.agent(for: settings, filter: filter) {
                ssh_set_agent_socket(session, socket)
                agentSocket = socket
                agentKeys = keys
            } else {
                agentKeys = []
                agentDone = true
            }
        }
        if !agentDone {
            let status = ssh_userauth_agent(session, nil)
            if status == SSH_AUTH_AGAIN.rawValue { return }
            if status == SSH_AUTH_SUCCESS.rawValue { return authenticated(now: now) }
            if status == SSH_AUTH_ERROR.rawValue, isBroken { return finish(.failed(lostFailure())) }
            agentDone = true
            releaseAgent()
        }
        if keys == nil, let settings = job.hostSettings {
            (keys, skippedKeys) = job.keys.keys(files: settings.identityFiles, inAgent: agentKeys ?? [])
        } else if keys == nil {
            let given = job.settings.filter { $0.kind == Setting.table["identityfile"] }.map(\.value)
            (keys, skippedKeys) = job.keys.keys(identities: given.reversed() + [configIdentity].compactMap { $0 })
        }
        let keys = self.keys ?? []
        while keyIndex < keys.count {
            let status = ssh_userauth_publickey(session, nil, keys[keyIndex].key)
            if status == SSH_AUTH_AGAIN.rawValue { return }
            if status == SSH_AUTH_SUCCESS.rawValue { return authenticated(now: now) }
            if status == SSH_AUTH_ERROR.rawValue, isBroken { return finish(.failed(lostFailure())) }
            keyIndex += 1
        }
        finish(.failed(authenticationFailure()))
    }

    /// Closes the agent socket passh gave libssh (libssh forgets it: it would close it only with
    /// the session).
    private func releaseAgent() {
        guard let session, agentSocket >= 0 else { return }
        ssh_set_agent_socket(session, -1)
        close(agentSocket)
        agentSocket = -1
    }

    private func authenticated(now: ContinuousClock.Instant) {
        releaseAgent()
        loggedIn = true
        if job.connectOnly { return finish(.exited(0)) }
        guard let session, let channel = ssh_channel_new(session) else {
            return finish(.failed(HostFailure(.other, "libssh: cannot create a channel")))
        }
        sshChannel = channel
        let callbacks = UnsafeMutablePointer<ssh_channel_callbacks_struct>.allocate(capacity: 1)
        callbacks.initialize(to: ssh_channel_callbacks_struct())
        callbacks.pointee.size = MemoryLayout<ssh_channel_callbacks_struct>.size
        callbacks.pointee.userdata = Unmanaged.passUnretained(self).toOpaque()
        callbacks.pointee.channel_exit_status_function = { _, _, status, userdata in
            guard let userdata else { return }
            Unmanaged<LibSSHSession>.fromOpaque(userdata).takeUnretainedValue().exitStatus = status
        }
        callbacks.pointee.channel_exit_signal_function = { _, _, signal, _, _, _, userdata in
            guard let userdata, let signal else { return }
            Unmanaged<LibSSHSession>.fromOpaque(userdata).takeUnretainedValue().exitSignal = String(cString: signal)
        }
        callbacks.pointee.channel_close_function = { _, _, userdata in
            guard let userdata else { return }
            Unmanaged<LibSSHSession>.fromOpaque(userdata).takeUnretainedValue().closed = true
        }
        self.callbacks = callbacks
        ssh_set_channel_callbacks(channel, callbacks)
        self.channel.start(now: now, into: &actions)
        perform(now: now)
    }

    // MARK: The channel

    /// Advances the channel: the libssh call its phase waits on, or — running — its output, stdin,
    /// exit and stop.
    private func stepChannel(now: ContinuousClock.Instant) {
        guard let channel = sshChannel else { return }
        let requested = job.bridge.stopRequest
        if requested != .none { self.channel.handle(.stop(requested), now: now, into: &actions) }
        perform(now: now)
        if phase == .opening {
            switch ssh_channel_open_session(channel) {
            case SSH_AGAIN: break
            case SSH_OK:
                let window = Int(ssh_channel_window_size(channel))
                self.channel.handle(.opened(window: window, maximumPacket: 32 << 10), now: now, into: &actions)
            default:
                if isBroken { return lost(now) }
                self.channel.handle(.openRefused(libSSHError(session)), now: now, into: &actions)
            }
            perform(now: now)
        }
        if phase == .requestingTerminal {
            switch ssh_channel_request_pty(channel) {  // as `ssh -tt` asks: xterm, 80×24
            case SSH_AGAIN: break
            case SSH_OK: phase = .executing
            default:
                if isBroken { return lost(now) }
                return finish(.failed(HostFailure(.other, "the host refused a terminal: \(libSSHError(session))")))
            }
        }
        if phase == .executing {
            // SendEnv and SetEnv, as ssh sends them after the terminal and before the command; a
            // variable the server refuses (AcceptEnv) is left out, as ssh leaves it.
            let variables = job.hostSettings?.environment ?? []
            while environmentSent < variables.count {
                let variable = variables[environmentSent]
                let status = ssh_channel_request_env(channel, variable.name, variable.value)
                if status == SSH_AGAIN { break }
                if status != SSH_OK && isBroken { return lost(now) }
                environmentSent += 1
            }
        }
        if phase == .executing && environmentSent == (job.hostSettings?.environment.count ?? 0) {
            switch ssh_channel_request_exec(channel, job.command) {
            case SSH_AGAIN: break
            case SSH_OK:
                phase = .running
                self.channel.handle(.execAccepted, now: now, into: &actions)
            default:
                if isBroken { return lost(now) }
                self.channel.handle(.execRefused(libSSHError(session)), now: now, into: &actions)
            }
            perform(now: now)
        }
        if phase == .running {
            stepRunning(channel, now: now)
            perform(now: now)
        }
        if killQueued && phase != .done && writesFlushed {
            killQueued = false
            job.bridge.killSent()
        }
    }

    private func stepRunning(_ channel: OpaquePointer, now: ContinuousClock.Instant) {
        // Reading first also pumps libssh: it takes in window adjustments and flushes what it
        // holds for the socket, which the stdin feed waits for.
        guard read(channel, stderr: false, now: now), read(channel, stderr: true, now: now) else { return }
        if stdoutEnded && stderrEnded && exitStatus == nil && exitSignal == nil && !closed {
            _ = ssh_channel_get_exit_status(channel)  // pumps until the status (or the close) arrives
        }
        tellFacts(channel, now: now)
        if isBroken { return lost(now) }
        var room = 0
        if writesFlushed && unwritten.isEmpty {
            room = Self.stdinPerStep
            self.channel.handle(.windowIs(Int(ssh_channel_window_size(channel))), now: now, into: &actions)
        }
        self.channel.poll(now: now, room: room, into: &actions)
    }

    /// What libssh's callbacks and pumps learnt, told to the channel once.
    private func tellFacts(_ channel: OpaquePointer, now: ContinuousClock.Instant) {
        if !toldExit, let exitSignal {
            toldExit = true
            self.channel.handle(.exitSignal(exitSignal), now: now, into: &actions)
        } else if !toldExit, let exitStatus {
            toldExit = true
            self.channel.handle(.exitStatus(exitStatus), now: now, into: &actions)
        }
        // libssh keeps what arrived before the close until it is read: the close is told once both
        // streams are read to their end (libssh marks a closed channel's end of output itself).
        if !toldClose && stdoutEnded && stderrEnded && (closed || ssh_channel_is_closed(channel) != 0) {
            toldClose = true
            self.channel.handle(.closed, now: now, into: &actions)
        }
    }

    /// Whether libssh has written everything it was given to the socket.
    private var writesFlushed: Bool {
        guard let session else { return false }
        return ssh_get_poll_flags(session) & SSH_WRITE_PENDING == 0
    }

    /// Carries out the channel's actions.
    private func perform(now: ContinuousClock.Instant) {
        var index = 0
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .send(let message):
                send(message, now: now)
            case .deliver(let chunks):
                job.bridge.push(chunks)
            case .finish(let termination):
                actions.removeAll()
                return finish(termination)
            }
        }
        actions.removeAll(keepingCapacity: true)
    }

    private func send(_ message: ChannelMessage, now: ContinuousClock.Instant) {
        guard let channel = sshChannel else { return }
        switch message {
        case .open:
            phase = .opening
        case .terminal:
            phase = .requestingTerminal
        case .exec:
            if phase != .requestingTerminal { phase = .executing }
        case .data(let bytes):
            write(bytes[...], channel, now: now)
        case .eof:
            ssh_channel_send_eof(channel)
        case .signal(let name):
            ssh_channel_request_send_signal(channel, name)
            if name == "KILL" { killQueued = true }
        case .close:
            ssh_channel_close(channel)
        case .windowAdjust, .requestFailed:
            break  // libssh gives the window back and answers requests itself
        }
    }

    /// Writes stdin bytes, keeping what libssh did not take for the next step. A write that fails
    /// while the connection holds means the host closed the channel because the command ended
    /// without reading all of its stdin (`head -c 5`), which is no failure: as ssh does, passh stops
    /// sending and reports the command's own exit.
    private func write(_ bytes: ArraySlice<UInt8>, _ channel: OpaquePointer, now: ContinuousClock.Instant) {
        let pending = unwritten + bytes
        let written = pending.withUnsafeBytes { ssh_channel_write(channel, $0.baseAddress!, UInt32($0.count)) }
        if written < 0 {
            unwritten = []
            if isBroken { return lost(now) }
            return self.channel.handle(.stdinRefused, now: now, into: &actions)
        }
        unwritten = pending.dropFirst(Int(written))
    }

    /// Reads what one stream has, while the consumer keeps up; `false` when the session ended.
    private func read(_ channel: OpaquePointer, stderr isStderr: Bool, now: ContinuousClock.Instant) -> Bool {
        var reads = 0
        let stream: OutputStreamKind = isStderr ? .stderr : .stdout
        while !(isStderr ? stderrEnded : stdoutEnded) {
            guard job.bridge.mayRead() else { return true }
            if reads == Self.readsPerStep {
                wantsStep = true
                return true
            }
            let available = ssh_channel_poll(channel, isStderr ? 1 : 0)
            if available == SSH_EOF {
                if isStderr { stderrEnded = true } else { stdoutEnded = true }
                if stdoutEnded && stderrEnded { self.channel.handle(.outputEnded, now: now, into: &actions) }
                return true
            }
            if available < 0 {
                lost(now)
                return false
            }
            if available == 0 { return true }
            let result = self.channel.read(stream, upTo: min(Int(available), PipeReader.readSize), into: &actions) {
                space in
                Int(ssh_channel_read_nonblocking(channel, space.baseAddress, UInt32(space.count), isStderr ? 1 : 0))
            }
            if result < 0 && result != Int(SSH_EOF) {
                lost(now)
                return false
            }
            if result <= 0 { continue }
            perform(now: now)
            if phase == .done { return false }
            reads += 1
        }
        return true
    }

    /// The connection is gone.
    private func lost(_ now: ContinuousClock.Instant) {
        let message = libSSHError(session)
        channel.handle(
            .connectionLost("connection to \(job.host.hostname) lost\(message.isEmpty ? "" : ": \(message)")"),
            now: now,
            into: &actions)
        perform(now: now)
        if phase != .done { finish(.failed(lostFailure())) }  // not reached: the channel is over
    }

    /// Closes everything and reports `termination`.
    /// A kept connection's session that is logged in and whose connection holds goes idle
    /// instead, and takes the connection's next job.
    func finish(_ termination: Termination) {
        guard phase != .done, phase != .idle else { return }
        freeChannel()
        if let kept = job.kept, loggedIn, !releasing, session != nil, !isBroken {
            phase = .idle
            idleFlushed = false
            kept.opened()
            job.bridge.finish(termination)
            return
        }
        phase = .done
        if let session {
            ssh_disconnect(session)
            ssh_free(session)
        }
        session = nil
        if case .failed(let failure) = termination {
            job.kept?.closed(reason: failure.message)
        } else {
            job.kept?.closed(reason: nil)
        }
        job.bridge.finish(termination)
    }

    private func freeChannel() {
        if let sshChannel {
            ssh_remove_channel_callbacks(sshChannel, callbacks)
            ssh_channel_free(sshChannel)
        }
        sshChannel = nil
        callbacks?.deallocate()
        callbacks = nil
    }

    // MARK: Failures

    private var isBroken: Bool {
        guard let session else { return true }
        return ssh_get_status(session) & (SSH_CLOSED_ERROR | SSH_CLOSED) != 0
    }

    /// `ADDRESS port N`, as the configuration resolved them (OpenSSH's words).
    private var target: String {
        guard let session else { return job.host.hostname }
        var name: UnsafeMutablePointer<CChar>?
        var hostname = job.host.hostname
        if ssh_options_get(session, SSH_OPTIONS_HOST, &name) == SSH_OK, let name {
            hostname = String(cString: name)
            ssh_string_free_char(name)
        }
        var port: UInt32 = 0
        return ssh_options_get_port(session, &port) == SSH_OK ? "\(hostname) port \(port)" : hostname
    }

    private func connectFailure() -> HostFailure {
        let message = libSSHError(session)
        let lower = message.lowercased()
        if lower.contains("refused") {
            return HostFailure(.connectionRefused, "connect to host \(target): Connection refused")
        }
        if lower.contains("resolve") || lower.contains("unreachable") || lower.contains("no route") {
            return HostFailure(.hostUnreachable, "connect to host \(target): \(message)")
        }
        if lower.contains("timed out") {
            return HostFailure(.connectionTimedOut, "connect to host \(target): Connection timed out")
        }
        return HostFailure(
            isBroken ? .connectionLost : .other, message.isEmpty ? "connect to host \(target) failed" : message)
    }

    private func timedOut() -> HostFailure {
        switch phase {
        case .connecting:
            if let session, ssh_get_serverbanner(session) != nil {
                return HostFailure(
                    .connectionTimedOut, "Connection timed out during the key exchange with \(job.host.hostname)")
            }
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let connected = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(socket, $0, &length) == 0 }
            }
            return HostFailure(
                .connectionTimedOut,
                connected
                    ? "Connection timed out during banner exchange"
                    : "connect to host \(target): Connection timed out")
        case .authenticating:
            return HostFailure(
                .connectionTimedOut, "Connection timed out during authentication with \(job.host.hostname)")
        default:
            return HostFailure(
                .connectionTimedOut, "Connection timed out while opening a session on \(job.host.hostname)")
        }
    }

    /// A connection the server ended while logging in: its reason, in OpenSSH's words.
    private func disconnectFailure() -> HostFailure {
        // libssh words it "Received SSH_MSG_DISCONNECT: CODE:REASON".
        let error = libSSHError(session)
        let prefix = "Received SSH_MSG_DISCONNECT: "
        guard error.hasPrefix(prefix) else { return lostFailure() }
        let reason = error.dropFirst(prefix.count)
        let code = reason.prefix { $0 != ":" }
        let text = reason.dropFirst(code.count + 1)
        return HostFailure(
            text.contains("Too many authentication failures") ? .authenticationRefused : .connectionLost,
            "Received disconnect from \(target):\(code): \(text)")
    }

    private func lostFailure() -> HostFailure {
        let message = libSSHError(session)
        return HostFailure(
            .connectionLost, "connection to \(job.host.hostname) lost\(message.isEmpty ? "" : ": \(message)")",
            commandMayHaveRun: phase == .running || phase == .executing)
    }

    private func authenticationFailure() -> HostFailure {
        guard let session else { return HostFailure(.authenticationRefused, "Permission denied") }
        var user: UnsafeMutablePointer<CChar>?
        var name = ""
        if ssh_options_get(session, SSH_OPTIONS_USER, &user) == SSH_OK, let user {
            name = String(cString: user)
            ssh_string_free_char(user)
        }
        var address: UnsafeMutablePointer<CChar>?
        var hostname = job.host.hostname
        if ssh_options_get(session, SSH_OPTIONS_HOST, &address) == SSH_OK, let address {
            hostname = String(cString: address)
            ssh_string_free_char(address)
        }
        let offered = UInt32(bitPattern: ssh_userauth_list(session, nil))
        let methods = [
            (SSH_AUTH_METHOD_PUBLICKEY, "publickey"), (SSH_AUTH_METHOD_GSSAPI_MIC, "gssapi-with-mic"),
            (SSH_AUTH_METHOD_HOSTBASED, "hostbased"), (SSH_AUTH_METHOD_PASSWORD, "password"),
            (SSH_AUTH_METHOD_INTERACTIVE, "keyboard-interactive"),
        ].filter { offered & $0.0 != 0 }.map(\.1)
        let list = methods.isEmpty ? "" : " (\(methods.joined(separator: ",")))"
        let skipped =
            skippedKeys.isEmpty
            ? ""
            : " Not tried: \(skippedKeys.joined(separator: ", ")) (a key that needs a passphrase, or no private key: passh never asks for a passphrase; add the key to ssh-agent)."
        return HostFailure(.authenticationRefused, "\(name)@\(hostname): Permission denied\(list).\(skipped)")
    }
}

/// libssh's last error on `session`, or "".
func libSSHError(_ session: OpaquePointer?) -> String {
    guard let session, let message = ssh_get_error(UnsafeMutableRawPointer(session)) else { return "" }
    return String(cString: message)
}
#endif
