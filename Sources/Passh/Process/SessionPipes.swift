#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CPasshShims
import SystemPackage

/// The three standard streams of one host's session: its stdin (a file, or `/dev/null`) and two
/// pipes whose read ends passh's ``PipeReader``s drain while the session runs.
///
/// Whatever runs the session — a spawned `ssh`, or an OpenSSH master connection reached through its
/// control socket — gets the stdin descriptor and the pipes' write ends, and owns them: it must
/// close them (or pass them on) when it is done.
struct SessionStreams: ~Copyable {
    let stdin: FileDescriptor
    let stdout: FileDescriptor
    let stderr: FileDescriptor
}

enum SessionPipes {
    /// Opens the streams, runs `session` with them while the readers hand `deliver` whole lines,
    /// and returns how the session ended once its output is read.
    ///
    /// When `session` returns, the readers stop at the first "no data right now" instead of
    /// waiting for an end of file that a grandchild holding a pipe may never send — at once when
    /// `endOfFileWait` is `nil` (a process that exited has written all it will), else after waiting
    /// that long for the end of file (an OpenSSH master may report a session's exit status before
    /// it has written the session's last output).
    static func run(
        host: Host, options: RunOptions, endOfFileWait: Duration? = nil,
        deliver: @escaping @Sendable (OutputChunk) async -> Void,
        session: (consuming SessionStreams) async -> Termination
    ) async -> Termination {
        let stdin: FileDescriptor
        do {
            stdin = try FileDescriptor.open(
                options.stdinFile ?? "/dev/null", .readOnly, options: [.closeOnExec], retryOnInterrupt: true)
        } catch {
            return .failedToStart("cannot open \(options.stdinFile?.string ?? "/dev/null"): \(error)")
        }
        guard let out = makePipe() else {
            try? stdin.close()
            return .failedToStart("cannot create a pipe: \(Errno(rawValue: errno))")
        }
        guard let err = makePipe() else {
            try? stdin.close()
            close(out.read)
            close(out.write)
            return .failedToStart("cannot create a pipe: \(Errno(rawValue: errno))")
        }
        let ended = ExitLatch()
        return await withTaskGroup(of: Void.self) { group in
            for (fd, stream) in [(out.read, OutputStreamKind.stdout), (err.read, .stderr)] {
                let reader = PipeReader(fd: fd, host: host, stream: stream, maximumLineLength: options.maximumLineLength)
                group.addTask { await reader.run(until: ended, deliver: deliver) }
            }
            let termination = await session(
                SessionStreams(stdin: stdin, stdout: FileDescriptor(rawValue: out.write), stderr: FileDescriptor(rawValue: err.write)))
            let stopReaders = { @Sendable in
                ended.set()
                Poller.shared.wake(out.read)
                Poller.shared.wake(err.read)
            }
            if let endOfFileWait, !Task.isCancelled {
                let deadline = Task {
                    try? await Task.sleep(for: endOfFileWait)
                    stopReaders()
                }
                await group.waitForAll()
                deadline.cancel()
            } else {
                stopReaders()
                await group.waitForAll()
            }
            for fd in [out.read, err.read] {
                Poller.shared.deregister(fd)
                close(fd)
            }
            return termination
        }
    }

    /// A pipe whose ends are close-on-exec, with a non-blocking read end.
    private static func makePipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        guard passh_pipe_cloexec(&fds) == 0 else { return nil }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        return (fds[0], fds[1])
    }
}
