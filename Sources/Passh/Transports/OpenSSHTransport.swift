
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

    /// Runs `command` on `host` over ssh, or through the host's master connection when
    /// ``OpenSSHOptions/multiplexing`` is on and one is up.
    public func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        // A terminal is asked for by an ssh process (which still goes through the master, if any).
        if !options.terminal, let path = self.options.controlPath(for: host), let master = await MuxClient.connect(path: path) {
            return await runThroughMaster(master, command, on: host, options: options, output: output)
        }
        return await runSSH(command, on: host, options: options, output: output)
    }

    /// A master connection is up: no ssh process, no handshake.
    private func runThroughMaster(
        _ master: consuming MuxClient, _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        var master = master
        let remoteCommand = command.joined(separator: " ")
        return await SessionPipes.run(host: host, options: options, endOfFileWait: .seconds(2), deliver: output) { streams in
            do throws(MuxClient.Failure) {
                guard let status = try await master.runSession(remoteCommand, streams: streams) else {
                    return .cancelled  // the session was abandoned
                }
                return .exited(status)
            } catch {
                return .failed(HostFailure(.connectionLost, error.reason))
            }
        }
    }

    /// Spawns `ssh`; an exit status of 255 with one of ssh's own messages is that failure.
    private func runSSH(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        let launcher = ProcessLauncher(launch: launch, arguments: self.options.arguments(for: host, command: command, terminal: options.terminal))
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
