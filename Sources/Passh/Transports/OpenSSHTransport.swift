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

    public func run(
        _ command: [String], on host: Host, options runOptions: RunOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        let launcher = ProcessLauncher(launch: launch, arguments: options.arguments(for: host, command: command))
        return await launcher.run(host: host, options: runOptions, deliver: output)
    }
}
