#if canImport(Glibc)
import Glibc
#endif
import Subprocess
import SystemPackage

/// Runs one child process per host: swift-subprocess spawns it (in a new process group, so that
/// the whole group can be signalled), monitors its exit and tears it down on cancellation; passh's
/// own ``PipeReader``s stream its stdout and stderr (``SessionPipes``).
struct ProcessLauncher: Sendable {
    var launch: LaunchEnvironment
    var arguments: [String]
    /// `KEY=VALUE\0` rows added to the launch environment.
    var extraVariables: [[UInt8]] = []

    func run(
        host: Host, options: RunOptions, deliver: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        guard let executablePath = launch.executablePath else {
            return .failedToStart("cannot run \(launch.executable): no such executable (searched PATH)")
        }
        var platform = PlatformOptions()
        // Its own session and process group: teardown reaches everything it starts (ProxyCommand,
        // …), the terminal's ^C reaches only passh, and ssh has no terminal to prompt on.
        platform.createSession = true
        platform.teardownSequence = [
            .gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: options.terminationGrace)
        ]
        let executable = Executable.path(FilePath(executablePath))
        let environment = Environment.custom(launch.variables + extraVariables)
        let arguments = Arguments(self.arguments)
        let name = launch.executable
        let sendsInput = options.stdinFile != nil

        return await SessionPipes.run(host: host, options: options, deliver: deliver) { streams in
            do {
                let result = try await Subprocess.run(
                    executable,
                    arguments: arguments,
                    environment: environment,
                    platformOptions: platform,
                    input: .fileDescriptor(streams.stdin, closeAfterSpawningProcess: true),
                    output: .fileDescriptor(streams.stdout, closeAfterSpawningProcess: true),
                    error: .fileDescriptor(streams.stderr, closeAfterSpawningProcess: true)
                ) { execution in
                    ChildProcesses.insert(execution.processIdentifier.value)
                    if sendsInput { Self.yieldToReceivers(execution.processIdentifier.value) }
                }
                ChildProcesses.remove(result.processIdentifier.value)
                switch result.terminationStatus {
                case .exited(let code): return .exited(code)
                case .signaled(let signal): return .signaled(signal)
                }
            } catch {
                return .failedToStart(Self.describe(error, executable: name))
            }
        }
    }

    /// Gives the session's scheduling group (Linux "autogroup": one per session) a lower weight.
    ///
    /// Measured on bench/run case 3 (10 MB to 100 hosts, ssh and sshd on one 2-core machine): 100
    /// ssh sessions at full weight crowded out the sshd processes receiving the data, and the whole
    /// machine worked twice as hard for it — 9.9 s, 19.6 CPU-seconds; at nice 10, 4.0 s and 7.7.
    /// Runs that only receive output need the opposite (`seq` on 20 hosts: 0.42 s at full weight,
    /// 0.66 s at nice 10), so only runs that send a stdin file do this. Against remote hosts it only
    /// makes ssh yield to other local work; where the knob does not exist, nothing happens.
    private static func yieldToReceivers(_ pid: pid_t) {
        guard let file = fopen("/proc/\(pid)/autogroup", "w") else { return }
        fputs("10", file)
        fclose(file)
    }

    private static func describe(_ error: any Error, executable: String) -> String {
        if let error = error as? SubprocessError {
            if error.code == .executableNotFound {
                return "cannot run \(executable): no such executable"
            }
            if let underlying = error.underlyingError {
                return "cannot run \(executable): \(underlying)"
            }
        }
        return "cannot run \(executable): \(error)"
    }
}
