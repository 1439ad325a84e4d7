/// Reaches each host by running the OpenSSH client, so users keep their `~/.ssh/config`, agent,
/// ProxyJump and keys.
///
/// The environment and the `ssh` executable's path are taken when the transport is made.
public struct OpenSSHTransport: Transport {
    /// How `ssh` is called.
    public let options: OpenSSHOptions
    private let launch: LaunchEnvironment

    /// A transport calling `ssh` with `options`.
    public init(options: OpenSSHOptions = OpenSSHOptions()) {
        self.options = options
        self.launch = LaunchEnvironment(executable: options.sshPath)
    }

    /// Runs `command` on `host`: through the host's master connection (started first when none is
    /// up) with ``OpenSSHOptions/multiplexing`` or ``OpenSSHOptions/privateMasters``, else over a
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
        if !options.terminal && self.options.privateMasters {
            let directory: String
            do throws(PasshError) {
                directory = try Multiplexing.privateDirectory().string
            } catch {
                return .failed(HostFailure(.cannotStart, error.message))
            }
            let name = String(UInt64.random(in: .min ... .max), radix: 36)
            return await runThroughMaster(
                at: directory + "/s-" + name, persist: 2, closing: true, command, on: host, options: options,
                output: output)
        }
        return await runSSH(command, on: host, options: options, output: output)
    }

    /// A session in proxy mode through the master at `path`, started first when none answers there;
    /// `closing`: the master is asked to exit after the session.
    ///
    /// A master at the end of its `ControlPersist` may answer and then be gone (and `ssh -N` then
    /// exits 0 for it): before the command is sent, so once more from the start is safe.
    private func runThroughMaster(
        at path: String, persist: Int, closing: Bool, _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        var tries = 0
        while true {
            tries += 1
            let mayRetry = tries == 1
            var connected = await MuxClient.connect(path: path)
            if connected == nil {
                let started = await startMaster(at: path, persist: persist, for: host, options: options, output: output)
                guard started == nil else { return started! }
                connected = await MuxClient.connect(path: path)
            }
            guard var master = connected.take() else {
                if mayRetry { continue }
                return .failed(HostFailure(.connectionLost, "the master connection to \(host.hostname) did not answer"))
            }
            do throws(MuxClient.Failure) {
                try await master.startProxy()
            } catch {
                if mayRetry { continue }
                return .failed(HostFailure(.connectionLost, error.reason))
            }
            var session = MuxProxySession(master, host: host, maximumLineLength: options.maximumLineLength)
            let termination = await session.run(command.joined(separator: " "), options: options, output: output)
            if closing, var master = await MuxClient.connect(path: path) {
                try? await master.terminate()
            }
            return termination
        }
    }

    /// Runs `ssh -N` to start the master connection; `nil` once it listens at `path`, else how the
    /// host ended (ssh's own failures classified as for a plain `ssh`).
    private func startMaster(
        at path: String, persist: Int, for host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination? {
        var startOptions = options
        startOptions.stdinFile = nil
        let launcher = ProcessLauncher(
            launch: launch, arguments: self.options.masterArguments(for: host, controlPath: path, persist: persist))
        let errors = OpenSSHErrors()
        let termination = await launcher.run(host: host, options: startOptions) { chunk in
            if chunk.stream == .stderr { errors.look(at: chunk) }
            await output(chunk)
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

    /// Spawns `ssh`; an exit status of 255 with one of ssh's own messages is that failure.
    private func runSSH(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        let launcher = ProcessLauncher(
            launch: launch, arguments: self.options.arguments(for: host, command: command, terminal: options.terminal))
        let errors = OpenSSHErrors()
        let termination = await launcher.run(host: host, options: options) { chunk in
            if chunk.stream == .stderr { errors.look(at: chunk) }
            await output(chunk)
        }
        if termination == .exited(255), let failure = errors.failure() {
            return .failed(failure)
        }
        return termination
    }

    /// Stdin, the stdout and stderr pipes, the process's pidfd — and, while it starts, the pipes'
    /// other ends; with a stdin file, its pipe and the file.
    public func descriptorsPerHost(sendingStdin: Bool) -> Int { sendingStdin ? 8 : 6 }

    /// OpenSSH runs every host.
    public func transportName(for host: Host) -> String? { "openssh" }
}

/// Closes the master connection of each host (``OpenSSHOptions/multiplexing``); a host without
/// one is left as it is. The command words are not used.
struct MasterStoppingTransport: Transport {
    let options: OpenSSHOptions

    func run(
        _ command: [String], on host: Host, options _: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        guard let path = options.controlPath(for: host), var master = await MuxClient.connect(path: path) else {
            return .exited(0)
        }
        do {
            try await master.terminate()
            return .exited(0)
        } catch {
            return .failed(HostFailure(.other, error.reason))
        }
    }
}
