#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CPasshShims
import Subprocess
import SystemPackage

/// Runs one child process per host: swift-subprocess spawns it (in a new session, so its whole
/// process group can be signalled), monitors its exit and tears it down on cancellation; passh's
/// own ``PipeReader``s stream its stdout and stderr.
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
        let stdinFD: FileDescriptor
        let outPipe: (read: Int32, write: Int32)
        let errPipe: (read: Int32, write: Int32)
        do {
            stdinFD = try FileDescriptor.open(
                options.stdinFile ?? "/dev/null", .readOnly, options: [.closeOnExec], retryOnInterrupt: true)
        } catch {
            return .failedToStart("cannot open \(options.stdinFile?.string ?? "/dev/null"): \(error)")
        }
        do {
            outPipe = try Self.makePipe()
            do {
                errPipe = try Self.makePipe()
            } catch {
                close(outPipe.read)
                close(outPipe.write)
                throw error
            }
        } catch {
            try? stdinFD.close()
            return .failedToStart("cannot create a pipe: \(error)")
        }

        var platform = PlatformOptions()
        platform.createSession = true  // own session and process group; no controlling terminal
        platform.teardownSequence = [
            .gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: options.terminationGrace)
        ]
        let exited = ExitLatch()
        let executable = Executable.path(FilePath(executablePath))
        let environment = Environment.custom(launch.variables + extraVariables)
        let arguments = Arguments(self.arguments)

        return await withTaskGroup(of: Void.self) { group in
            for (fd, stream) in [(outPipe.read, OutputStreamKind.stdout), (errPipe.read, .stderr)] {
                let reader = PipeReader(fd: fd, host: host, stream: stream, maximumLineLength: options.maximumLineLength)
                group.addTask { await reader.run(until: exited, deliver: deliver) }
            }
            let termination: Termination
            do {
                let result = try await Subprocess.run(
                    executable,
                    arguments: arguments,
                    environment: environment,
                    platformOptions: platform,
                    input: .fileDescriptor(stdinFD, closeAfterSpawningProcess: true),
                    output: .fileDescriptor(FileDescriptor(rawValue: outPipe.write), closeAfterSpawningProcess: true),
                    error: .fileDescriptor(FileDescriptor(rawValue: errPipe.write), closeAfterSpawningProcess: true)
                ) { execution in
                    ChildProcesses.insert(execution.processIdentifier.value)
                }
                ChildProcesses.remove(result.processIdentifier.value)
                switch result.terminationStatus {
                case .exited(let code): termination = .exited(code)
                case .signaled(let signal): termination = .signaled(signal)
                }
            } catch {
                termination = .failedToStart(Self.describe(error, executable: launch.executable))
            }
            exited.set()
            Poller.shared.wake(outPipe.read)
            Poller.shared.wake(errPipe.read)
            await group.waitForAll()
            for fd in [outPipe.read, errPipe.read] {
                Poller.shared.deregister(fd)
                close(fd)
            }
            return termination
        }
    }

    /// A pipe whose ends are close-on-exec, with a non-blocking read end.
    private static func makePipe() throws(Errno) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard passh_pipe_cloexec(&fds) == 0 else { throw Errno(rawValue: errno) }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        return (fds[0], fds[1])
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
