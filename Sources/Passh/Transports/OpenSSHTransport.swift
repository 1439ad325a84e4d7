#if canImport(Glibc)
import Glibc
#endif

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
        _ command: [String], on host: Host, options: RunOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        let runOptions = options
        let options = self.options
        if let path = options.controlPath(for: host), var master = await MuxClient.connect(path: path) {
            // A master connection is up: no ssh process, no handshake.
            let remoteCommand = command.joined(separator: " ")
            return await SessionPipes.run(host: host, options: runOptions, endOfFileWait: .seconds(2), deliver: output) {
                streams in
                do throws(MuxClient.Failure) {
                    guard let status = try await master.runSession(remoteCommand, streams: streams) else {
                        return .signaled(SIGTERM)  // cancelled: the session was abandoned
                    }
                    return .exited(status)
                } catch {
                    return .failedToStart(error.reason)
                }
            }
        }
        let launcher = ProcessLauncher(launch: launch, arguments: options.arguments(for: host, command: command))
        return await launcher.run(host: host, options: runOptions, deliver: output)
    }
}

extension OpenSSHTransport {
    /// ssh exits 255 for its own errors, which it explains on stderr; a silent 255 is a remote
    /// command killed by a signal, whose name OpenSSH does not pass on (its client ignores the
    /// protocol's `exit-signal` message).
    public func explainSilentFailure(_ termination: Termination) -> String? {
        termination == .exited(255)
            ? "ssh exited 255 without a message: the remote command was probably killed by a signal" : nil
    }
}

/// Closes the master connection of each host (``OpenSSHOptions/multiplexing``); a host without
/// one is left as it is. The command words are not used.
struct MasterStoppingTransport: Transport {
    let options: OpenSSHOptions

    func run(
        _ command: [String], on host: Host, options _: RunOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        guard let path = options.controlPath(for: host), var master = await MuxClient.connect(path: path) else {
            return .exited(0)
        }
        do {
            try await master.terminate()
            return .exited(0)
        } catch {
            return .failedToStart(error.reason)
        }
    }
}
