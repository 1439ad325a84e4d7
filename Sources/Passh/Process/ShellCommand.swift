import Subprocess
import SystemPackage

/// Runs a `/bin/sh -c` command to the end and collects its output: for group sources.
///
/// swift-subprocess spawns it in a session of its own, stdin from `/dev/null`, and waits for it
/// without blocking a thread. Cancelling the calling task tears its whole process group down
/// (SIGTERM, then SIGKILL after ``terminationGrace``) and the call throws
/// ``PasshError/Code/cancelled``. Its stdout may hold at most ``maximumOutput`` bytes: a command
/// that prints more is stopped and the call throws, so that a group is never cut short (nor a
/// name cut in two) without a word.
enum ShellCommand {
    /// What a command did.
    struct Outcome {
        var stdout: [UInt8]
        /// The start of stderr: at most ``keptError`` bytes.
        var stderr: [UInt8]
        /// `exit N` or `killed by SIGNAL`, `nil` for exit 0.
        var failure: String?
    }

    /// The most a command may print on stdout.
    static let maximumOutput = 64 << 20
    /// How much of stderr is kept (its first lines make the error message); the rest is read and
    /// dropped.
    static let keptError = 64 << 10
    /// The grace between SIGTERM and SIGKILL when the command is stopped.
    static let terminationGrace: Duration = .milliseconds(500)

    /// Why a command could not give its output.
    enum Failure: Error {
        /// It could not be started.
        case cannotRun(String)
        /// It printed more than ``maximumOutput`` bytes.
        case tooMuchOutput
        /// The calling task was cancelled.
        case cancelled
    }

    /// Runs `command` with `/bin/sh -c`, stdin from `/dev/null`, in this process's environment
    /// with `GROUP` set to `group` (or removed when `nil`).
    static func run(_ command: String, group: String?) async throws(Failure) -> Outcome {
        var platform = PlatformOptions()
        // Its own process group: stopping it reaches whatever the shell started.
        platform.createSession = true
        platform.teardownSequence = [
            .gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: terminationGrace)
        ]
        let environment = Environment.inherit.updating(["GROUP": group])
        do {
            let result = try await Subprocess.run(
                .path("/bin/sh"), arguments: ["-c", command], environment: environment,
                platformOptions: platform, input: .none, output: .bytes(limit: maximumOutput), error: .sequence
            ) { execution in
                var kept: [UInt8] = []
                for try await buffer in execution.standardError where kept.count < keptError {
                    buffer.withUnsafeBytes { kept += $0.prefix(keptError - kept.count) }
                }
                return kept
            }
            if Task.isCancelled { throw Failure.cancelled }
            let failure: String?
            switch result.terminationStatus {
            case .exited(0): failure = nil
            case .exited(let code): failure = "exit \(code)"
            case .signaled(let signal): failure = "killed by \(Signal(number: signal).name)"
            }
            return Outcome(stdout: result.standardOutput, stderr: result.closureResult, failure: failure)
        } catch let failure as Failure {
            throw failure
        } catch let error as SubprocessError where error.code == .outputLimitExceeded {
            throw Task.isCancelled ? .cancelled : .tooMuchOutput
        } catch {
            if Task.isCancelled { throw .cancelled }
            throw .cannotRun("\(error)")
        }
    }
}
