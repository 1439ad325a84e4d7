import Glibc
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
    /// Where the pipes' waits end: the transport's.
    var poller: Poller

    /// Runs the process; its exit status or signal, ``Termination/cancelled`` when the calling task
    /// was cancelled and the process did not exit 0, or a failure to start it.
    func run(
        host: Host, options: SessionOptions, deliver: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        guard let executablePath = launch.executablePath else {
            return .failed(Self.cannotStart(launch.executable, "no such executable (searched PATH)"))
        }
        var platform = PlatformOptions()
        // Its own process group: teardown reaches everything it starts (ProxyCommand, …), and the
        // terminal's ^C reaches only passh.
        platform.createSession = true
        platform.teardownSequence = [
            .gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: options.terminationGrace)
        ]
        let executable = Executable.path(FilePath(executablePath))
        let environment = Environment.custom(launch.variables + extraVariables)
        let arguments = Arguments(self.arguments)
        let name = launch.executable
        let sendsInput = options.stdinFile != nil || !options.stdinPreamble.isEmpty
        let emergencyStop = options.emergencyStop

        let poller = self.poller
        let grace = options.terminationGrace
        return await SessionPipes.run(host: host, options: options, poller: poller, deliver: deliver) { streams in
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
                    let process = execution.processIdentifier
                    if sendsInput { Self.yieldToReceivers(process.value) }
                    guard let emergencyStop else { return }
                    // Until the process exits it is not reaped (swift-subprocess reaps it after this
                    // closure returns), so its process group cannot be a recycled one.
                    let exit = process.processDescriptor
                    await emergencyStop.whileRegistered({ receipt in
                        _ = kill(-process.value, SIGKILL)
                        receipt.acknowledge()
                    }) {
                        if await poller.wait(exit, for: .readable) == .cancelled {
                            // swift-subprocess tears the process down (TERM, the grace, KILL): the
                            // emergency stop stays at hand until it has exited.
                            _ = await poller.waitOut(exit, for: .readable, until: .now + grace + .seconds(1))
                        }
                        poller.forget(exit)
                    }
                }
                switch result.terminationStatus {
                case .exited(0): return .exited(0)
                case _ where Task.isCancelled: return .cancelled
                case .exited(let code): return .exited(code)
                case .signaled(let signal): return .signaled(Signal(number: signal))
                }
            } catch {
                return .failed(Self.cannotStart(name, Self.describe(error)))
            }
        }
    }

    static func cannotStart(_ program: String, _ reason: String) -> HostFailure {
        HostFailure(.cannotStart, "cannot run \(program): \(reason)", program: program)
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? SubprocessError {
            if error.code == .executableNotFound { return "no such executable" }
            if let underlying = error.underlyingError { return "\(underlying)" }
        }
        return "\(error)"
    }
}
