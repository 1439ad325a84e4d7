#if LIBSSH
#if canImport(Glibc)
import Glibc
#endif

/// Reaches each host with libssh, inside passh: no process per host, about 0.8 ms of CPU per host
/// against OpenSSH's 9, and the remote command can be signalled (a stopped host's command is sent
/// TERM, then KILL, instead of being left running).
///
/// Built only with the `LibSSH` package trait (`swift build --traits LibSSH`, needs libssh-dev).
/// It honours most of ssh_config through libssh's own parser (see ``LibSSHOptions``), checks host
/// keys strictly, never prompts, and logs in with the agent, then the identity files — each file
/// read once per transport. The sessions run on ``LibSSHEngine``'s two threads; keep one transport
/// for many runs to share its keys and threads.
public struct LibSSHTransport: Transport {
    /// How hosts are reached.
    public let options: LibSSHOptions
    private let settings: [Setting]
    private let engine: LibSSHEngine
    let keys = LibSSHKeyStore()

    /// A transport connecting as `options` say.
    ///
    /// - Throws: ``PasshError`` naming an `-o` option libssh does not understand, a malformed one,
    ///   or a configuration file that cannot be read.
    public init(options: LibSSHOptions = LibSSHOptions()) throws(PasshError) {
        if let file = options.configFile, access(file.string, R_OK) != 0 {
            throw PasshError(.unreadableFile, "cannot read the ssh configuration \(file.string)")
        }
        guard options.connectTimeout > 0 else {
            throw PasshError(
                .invalidOption, "the connect timeout must be at least 1 second, not \(options.connectTimeout)")
        }
        self.options = options
        self.settings = try options.settings()
        self.engine = LibSSHEngine(maximumHandshakes: max(1, options.maximumHandshakes))
    }

    /// Runs `command` on `host` over a libssh session driven by an engine thread.
    public func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        if Task.isCancelled { return .cancelled }
        let (thread, id) = engine.assign()
        let bridge = SessionBridge(wake: { thread.attention(id) })
        thread.submit(
            LibSSHJob(
                id: id, host: host, command: command.joined(separator: " "), session: options, ssh: self.options,
                settings: settings, connectTimeout: .seconds(self.options.effectiveConnectTimeout(settings)),
                handshakeTimeout: .seconds(max(1, self.options.handshakeTimeout)), keys: keys,
                bridge: bridge))
        return await withTaskCancellationHandler {
            if let stop = options.emergencyStop {
                return await stop.whileRegistered({ bridge.requestStop(.kill, receipt: $0) }) {
                    await bridge.deliver(to: output)
                }
            }
            return await bridge.deliver(to: output)
        } onCancel: {
            bridge.requestStop(.terminate)
        }
    }

    /// The session's socket; with a stdin file, that file too.
    public func descriptorsPerHost(sendingStdin: Bool) -> Int { sendingStdin ? 2 : 1 }
}
#endif
