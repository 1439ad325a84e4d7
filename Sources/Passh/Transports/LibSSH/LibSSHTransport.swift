#if LIBSSH
#if canImport(Glibc)
import Glibc
#endif

/// Reaches each host with libssh, inside passh: no process per host, about 0.8 ms of CPU per host
/// against OpenSSH's 9, and the remote command can be signalled (a stopped host's command is sent
/// TERM, then KILL, instead of being left running).
///
/// Built with the `LibSSH` package trait (a default trait; needs libssh-dev to build, libssh-4 to
/// run). It reads each host's ssh_config as OpenSSH reads it (see ``LibSSHOptions``), checks host
/// keys as `ssh` would (`StrictHostKeyChecking` yes or accept-new), never prompts, and logs in with
/// the agent, then the identity files — each file read once per transport. The sessions run on two
/// threads of the transport's own; keep one transport for many runs to share its keys and threads,
/// which end when it is released. ``AutoTransport`` picks it or ``OpenSSHTransport`` per host.
public struct LibSSHTransport: Transport {
    /// How hosts are reached.
    public let options: LibSSHOptions
    private let settings: [Setting]
    private let engine: LibSSHEngine
    let keys = LibSSHKeyStore()
    /// The agent as the sessions see it (IdentitiesOnly applied).
    let agent = LibSSHAgentFilter()
    /// Adds keys to known_hosts (`StrictHostKeyChecking accept-new`).
    let knownHosts = LibSSHKnownHostsWriter()
    /// Reads the ssh configuration for each host, as OpenSSH does.
    let chooser: TransportChooser

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
        self.chooser = TransportChooser(ssh: options.openSSHEquivalent).checkingAlgorithms(
            with: { [algorithms = LibSSHAlgorithms()] in algorithms.accepts($0, $1) })
    }

    /// Runs `command` on `host` over a libssh session driven by an engine thread.
    public func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        await run(command, on: host, options: options, settings: chooser.nativeSettings(host), output: output)
    }

    /// The rounds its engine's threads made and the ticks they saw so far: a test's view of an
    /// idle engine (about a round a tick), not an API.
    @_spi(Testing) public var engineActivity: (rounds: Int, ticks: Int) { engine.activity }

    /// The libssh transport runs every host.
    public func transportName(for host: Host) -> String? { "libssh" }

    /// Runs `command` on `host` configured with `settings` (as ``TransportChooser`` read them), or,
    /// when `nil`, with libssh's own reading of the ssh configuration.
    func run(
        _ command: [String], on host: Host, options: SessionOptions, settings hostSettings: SSHHostSettings?,
        kept: LibSSHKeptConnection? = nil, connectOnly: Bool = false,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        if Task.isCancelled { return .cancelled }
        let (thread, id) = kept.map { ($0.thread, $0.id) } ?? engine.assign()
        let bridge = SessionBridge(wake: { thread.attention(id) })
        thread.submit(
            LibSSHJob(
                id: id, host: host, command: command.joined(separator: " "), session: options, ssh: self.options,
                settings: settings,
                connectTimeout: .seconds(
                    hostSettings?.connectTimeout ?? self.options.effectiveConnectTimeout(settings)),
                handshakeTimeout: .seconds(max(1, self.options.handshakeTimeout)), keys: keys,
                bridge: bridge, agent: agent, knownHosts: knownHosts,
                hostSettings: hostSettings, kept: kept, connectOnly: connectOnly))
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

    /// A connection to keep open between commands: its session's thread and number.
    func keptConnection() -> LibSSHKeptConnection {
        let (thread, id) = engine.assign()
        return LibSSHKeptConnection(thread: thread, id: id)
    }

    /// Closes kept connections (a running command's once it ends); returns when the idle ones are
    /// closed.
    func release(_ connections: [LibSSHKeptConnection]) async {
        let byThread = Dictionary(grouping: connections) { ObjectIdentifier($0.thread) }
        for group in byThread.values {
            guard let thread = group.first?.thread else { continue }
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                thread.release(group.map(\.id)) { done.resume() }
            }
        }
    }

    /// The session's socket; with a stdin file, that file too.
    public func descriptorsPerHost(sendingStdin: Bool) -> Int { sendingStdin ? 2 : 1 }
}
#endif
