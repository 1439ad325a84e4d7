/// Runs the command on this machine, once per host, with `/bin/sh -c`: the command's words are
/// joined with spaces, as `ssh` does for the remote shell, and `PASSH_HOST` names the host.
///
/// It exercises everything but ssh itself (process groups, pipes, teardown, output), so the
/// runner's tests need no server; it is also handy for trying output modes.
public struct LocalTransport: Transport {
    /// The shell that runs each command.
    public let shell: String
    private let launch: LaunchEnvironment
    /// Where the hosts' pipes are waited on; its thread ends with the transport.
    private let poller = Poller()

    /// A transport running commands with `shell -c`.
    public init(shell: String = "/bin/sh") {
        self.shell = shell
        self.launch = LaunchEnvironment(executable: shell, removing: ["PASSH_HOST"])
    }

    /// Runs `command` with `shell -c` on this machine, `PASSH_HOST` set to the host's name.
    public func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        let launcher = ProcessLauncher(
            launch: launch, arguments: ["-c", command.joined(separator: " ")],
            extraVariables: [Array("PASSH_HOST=\(host.name)\0".utf8)], poller: poller)
        return await launcher.run(host: host, options: options, deliver: output)
    }

    /// As many as an `ssh` process: stdin, the stdout and stderr pipes, the process's pidfd — and,
    /// while it starts, the pipes' other ends; with a stdin file, its pipe and the file.
    public func descriptorsPerHost(sendingStdin: Bool) -> Int { sendingStdin ? 8 : 6 }

    /// Every host runs locally.
    public func transportName(for host: Host) -> String? { "local" }
}
