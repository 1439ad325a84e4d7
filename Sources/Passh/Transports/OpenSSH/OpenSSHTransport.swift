/// Reaches each host by running the OpenSSH client, so users keep their `~/.ssh/config`, agent,
/// ProxyJump and keys.
///
/// The environment and the `ssh` executable's path are taken when the transport is made.
public struct OpenSSHTransport: Transport {
    /// How `ssh` is called.
    public let options: OpenSSHOptions
    private let launch: LaunchEnvironment
    /// Where the hosts' pipes and control sockets are waited on; its thread ends with the transport.
    private let poller = Poller()

    /// A transport calling `ssh` with `options`.
    public init(options: OpenSSHOptions = OpenSSHOptions()) {
        self.options = options
        self.launch = LaunchEnvironment(executable: options.sshPath)
    }

    /// Runs `command` on `host`: through the host's master connection (started first when none is
    /// up) with ``OpenSSHOptions/multiplexing`` or ``OpenSSHOptions/stopRemoteCommands``, else over a
    /// plain `ssh`.
    public func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        // A terminal is asked for by an ssh process (`-tt`; through the master, if one is up): its
        // hang-up stops the remote command.
        if !options.terminal, let multiplexing = self.options.multiplexing,
            let path = self.options.controlPath(for: host)
        {
            return await runThroughMaster(
                at: path, persist: multiplexing.seconds, closing: false, command, on: host, options: options,
                output: output)
        }
        if !options.terminal && self.options.stopRemoteCommands {
            let directory: String
            do throws(PasshError) {
                directory = try Multiplexing.privateDirectory().string
            } catch {
                return .failed(HostFailure(.cannotStart, error.message))
            }
            let name = String(UInt64.random(in: .min ... .max), radix: 36)
            return await runThroughMaster(
                at: directory + "/s-" + name, persist: Self.privateMasterPersist, closing: true, command, on: host,
                options: options, output: output)
        }
        return await runSSH(command, on: host, options: options, output: output)
    }

    /// A session in proxy mode through the master at `path`, started first when none answers there;
    /// `closing`: the master is asked to exit after the session.
    ///
    /// A master at the end of its `ControlPersist` may answer and then be gone (and `ssh -N` then
    /// exits 0 for it): before the command is sent, so once more from the start is safe. Twice more:
    /// the master passh then starts idles out as well when passh is slow to reach it — ssh counts
    /// `ControlPersist` in whole seconds, so `ControlPersist=2` lasted 1.07–1.9 s without a client
    /// (measured), and on a loaded machine passh took longer than that between `ssh -N` going to
    /// the background and connecting.
    private func runThroughMaster(
        at path: String, persist: Int, closing: Bool, _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        var tries = 0
        while true {
            tries += 1
            let mayRetry = tries < 3
            var reached = await reachMaster(at: path)
            if reached.foundNoMaster {
                let started = await startMaster(at: path, persist: persist, for: host, options: options, output: output)
                if let started { return started }
                reached = await reachMaster(at: path)
            }
            switch consume reached {
            case .failed(let failure):
                switch failure.kind {
                case .cancelled: return .cancelled
                case .silent: return .failed(silentMaster(host, path))
                case .noMaster, .failed:
                    if mayRetry { continue }
                    return .failed(
                        HostFailure(.connectionLost, "the master connection to \(host.hostname) did not answer"))
                }
            case .reached(var master):
                do throws(MuxClient.Failure) {
                    try await master.startProxy(deadline: answerDeadline)
                } catch {
                    switch error.kind {
                    case .cancelled: return .cancelled
                    case .silent: return .failed(silentMaster(host, path))
                    case .noMaster, .failed:
                        if mayRetry { continue }
                        return .failed(HostFailure(.connectionLost, error.reason))
                    }
                }
                var session = MuxProxySession(master, host: host)
                let termination = await session.run(command.joined(separator: " "), options: options, output: output)
                if closing, case .reached(var master) = await reachMaster(at: path, cancellable: false) {
                    try? await master.terminate(deadline: answerDeadline)
                }
                return termination
            }
        }
    }

    /// A master connection reached and greeted, or why not.
    private enum MasterReach: ~Copyable {
        case reached(MuxClient)
        case failed(MuxClient.Failure)

        /// No master listens there (one may be started).
        var foundNoMaster: Bool {
            switch self {
            case .reached: false
            case .failed(let failure): failure.kind == .noMaster
            }
        }
    }

    /// How long a private master waits for its session (`ControlPersist`): it is asked to exit
    /// once the session is over, stopped or not, so this bounds only the wait between `ssh -N`
    /// backgrounding it and the session reaching it. At 2 s, a loaded machine (CI's tests eight at
    /// a time on two cores) sometimes took longer, and the host failed with "the master connection
    /// did not answer". A passh killed with SIGKILL leaves such a master idle for this long.
    static let privateMasterPersist = 10

    private func reachMaster(at path: String, cancellable: Bool = true) async -> MasterReach {
        do throws(MuxClient.Failure) {
            return .reached(
                try await MuxClient.connect(
                    path: path, poller: poller, deadline: answerDeadline, cancellable: cancellable))
        } catch {
            return .failed(error)
        }
    }

    /// How long a master connection has to answer each request: the connect timeout, from now.
    private var answerDeadline: ContinuousClock.Instant { .now + .seconds(options.connectTimeout) }

    /// A master that accepts and does not answer (wedged, stopped, a stale socket a live process
    /// holds): the host fails as a connection that timed out, before its command could start.
    private func silentMaster(_ host: Host, _ path: String) -> HostFailure {
        HostFailure(
            .connectionTimedOut,
            "the master connection to \(host.hostname) did not answer within \(options.connectTimeout) s (\(path))",
            commandMayHaveRun: false)
    }

    /// Runs `ssh -N` to start the master connection; `nil` once it listens at `path`, else how the
    /// host ended (ssh's own failures classified as for a plain `ssh`).
    private func startMaster(
        at path: String, persist: Int, for host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination? {
        var withoutStdin = options
        withoutStdin.stdinFile = nil
        let startOptions = withoutStdin
        // `ssh -N` runs no remote command: its stderr is ssh's own, so it is read as it comes (no
        // `-E` log), and the race below can be seen as it happens.
        let quiet = !self.options.setsLogLevel
        let launcher = ProcessLauncher(
            launch: launch, arguments: self.options.masterArguments(for: host, controlPath: path, persist: persist),
            poller: poller)
        let errors = OpenSSHErrors()
        // Two runs starting a master for one host at once: the second `ssh -N` finds the first one's
        // socket, says so, and stays up as a plain connection for ever. It is stopped, and the
        // session goes through the first one's master.
        let raced = StopSignal()
        enum Start: Sendable {
            case ended(Termination)
            case raced
            case idle
        }
        let termination = await withTaskGroup(of: Start.self) { group in
            group.addTask {
                .ended(
                    await launcher.run(host: host, options: startOptions) { chunk in
                        guard chunk.stream == .stderr else { return await output(chunk) }
                        if Self.foundAnotherMaster(chunk) { return raced.fire() }
                        for line in SSHLog.chunks(of: Array(chunk.bytes), host: host, hidingChatter: quiet) {
                            errors.look(at: line)
                            await output(line)
                        }
                    })
            }
            group.addTask { await raced.wait() ? .raced : .idle }
            var ended: Termination = .cancelled
            while let start = await group.next() {
                switch start {
                case .ended(let termination):
                    group.cancelAll()
                    ended = termination
                case .raced:
                    group.cancelAll()  // stops this `ssh -N`
                    ended = .exited(0)
                    while await group.next() != nil {}
                case .idle:
                    break
                }
            }
            return ended
        }
        switch termination {
        case .exited(0): return nil
        case .exited(let status):
            return .failed(
                errors.failure()
                    ?? HostFailure(
                        .connectionLost, "ssh exited \(status) before the master connection to \(host.hostname) was up")
            )
        default: return termination
        }
    }

    /// Whether `chunk` holds ssh's word that another master holds the socket
    /// (`ControlSocket PATH already exists, disabling multiplexing`).
    private static func foundAnotherMaster(_ chunk: OutputChunk) -> Bool {
        chunk.bytes.firstRange(of: Array("already exists, disabling multiplexing".utf8)) != nil
    }

    /// Spawns `ssh`; an exit status of 255 with one of ssh's own messages in its log is that failure.
    private func runSSH(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        let quiet = !self.options.setsLogLevel
        let deliver = options.terminal && quiet ? SSHLog.droppingTerminalChatter(output) : output
        let (termination, errors) = await SSHLog.capture(host: host, hidingChatter: quiet, output: output) { log in
            let arguments = self.options.arguments(
                for: host, command: command, terminal: options.terminal, logFile: log)
            return await ProcessLauncher(launch: launch, arguments: arguments, poller: poller).run(
                host: host, options: options, deliver: deliver)
        }
        if termination == .exited(255), let failure = errors.failure() {
            return .failed(failure)
        }
        return termination
    }

    /// Stdin, the stdout and stderr pipes, the process's pidfd, ssh's log file — and, while it
    /// starts, the pipes' other ends; with a stdin file, its pipe and the file.
    public func descriptorsPerHost(sendingStdin: Bool) -> Int { sendingStdin ? 9 : 7 }

    /// OpenSSH runs every host.
    public func transportName(for host: Host) -> String? { "openssh" }
}

/// Closes the master connection of each host (``OpenSSHOptions/multiplexing``); a host without
/// one is left as it is. The command words are not used.
struct MasterStoppingTransport: Transport {
    let options: OpenSSHOptions
    private let poller = Poller()

    init(options: OpenSSHOptions) {
        self.options = options
    }

    func run(
        _ command: [String], on host: Host, options _: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        guard let path = options.controlPath(for: host) else { return .exited(0) }
        let deadline = ContinuousClock.now + .seconds(options.connectTimeout)
        var master: MuxClient
        do throws(MuxClient.Failure) {
            master = try await MuxClient.connect(path: path, poller: poller, deadline: deadline)
        } catch {
            switch error.kind {
            case .noMaster, .failed: return .exited(0)  // none, or gone as it was reached
            case .cancelled: return .cancelled
            case .silent: return .failed(silent(path))
            }
        }
        do throws(MuxClient.Failure) {
            try await master.terminate(deadline: deadline)
            return .exited(0)
        } catch {
            switch error.kind {
            case .cancelled: return .cancelled
            case .silent: return .failed(silent(path))
            case .noMaster, .failed: return .failed(HostFailure(.other, error.reason))
            }
        }
    }

    private func silent(_ path: String) -> HostFailure {
        HostFailure(
            .connectionTimedOut, "the master connection did not answer within \(options.connectTimeout) s (\(path))")
    }

    /// The control socket.
    func descriptorsPerHost(sendingStdin: Bool) -> Int { 1 }
}
