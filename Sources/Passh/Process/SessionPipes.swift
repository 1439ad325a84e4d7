import CPasshShims
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The three standard streams of one host's session: its stdin (`/dev/null`, or a pipe a
/// ``StdinFeeder`` fills from the stdin file) and two pipes whose read ends passh's
/// ``PipeReader``s drain while the session runs.
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
    /// When `session` returns, the stdin feeder is cancelled and the readers are told
    /// (``SessionEnd``): they stop at the first "no data right now" instead of waiting for an end of
    /// file that a grandchild holding a pipe may never send (a process that exited has written all
    /// it will). Their waits end on `poller`.
    static func run(
        host: Host, options: SessionOptions, poller: Poller,
        deliver: @escaping @Sendable (OutputChunk) async -> Void,
        session: (consuming SessionStreams) async -> Termination
    ) async -> Termination {
        // A regular file, and the preamble, are fed through a pipe (StdinFeeder); anything else
        // is given as it is.
        let stdin: FileDescriptor
        var feeder: StdinFeeder?
        if let stream = options.stdinStream {
            let copy = fcntl(stream, F_DUPFD_CLOEXEC, 0)
            guard copy >= 0 else {
                return .failed(
                    HostFailure(.cannotStart, "cannot give the session its stdin: \(Errno(rawValue: errno))"))
            }
            stdin = FileDescriptor(rawValue: copy)
        } else {
            do {
                let file = try FileDescriptor.open(
                    options.stdinFile ?? "/dev/null", .readOnly, options: [.closeOnExec], retryOnInterrupt: true)
                var info = stat()
                let regular =
                    options.stdinFile != nil && fstat(file.rawValue, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
                // A large file (a copy's archive) is given as it is: each ssh then reads its own
                // descriptor at its own pace, as `ssh HOST … < FILE` does, instead of waiting for passh to
                // be scheduled to refill its pipe — with a hundred ssh, sshd and tar processes on the
                // cores, that wait made a 100 MB copy 1.5 times slower (bench/run case 8).
                let large = regular && info.st_size >= Self.directStdinSize && options.stdinPreamble.isEmpty
                if !large, regular || !options.stdinPreamble.isEmpty, let pipe = makePipe(nonBlockingWrite: true) {
                    var fed: Int32? = file.rawValue
                    if options.stdinFile == nil {
                        try? file.close()
                        fed = nil
                    }
                    feeder = StdinFeeder(file: fed, preamble: options.stdinPreamble, pipe: pipe.write, poller: poller)
                    stdin = FileDescriptor(rawValue: pipe.read)
                } else if !options.stdinPreamble.isEmpty {
                    try? file.close()
                    return .failed(HostFailure(.cannotStart, "cannot create a pipe: \(Errno(rawValue: errno))"))
                } else {
                    stdin = file
                }
            } catch {
                return .failed(
                    HostFailure(.cannotStart, "cannot open \(options.stdinFile?.string ?? "/dev/null"): \(error)"))
            }
        }
        guard let out = makePipe(size: options.binaryStdout ? SessionOptions.binaryPipeSize : nil) else {
            try? stdin.close()
            feeder?.abandon()
            return .failed(HostFailure(.cannotStart, "cannot create a pipe: \(Errno(rawValue: errno))"))
        }
        guard let err = makePipe() else {
            try? stdin.close()
            feeder?.abandon()
            close(out.read)
            close(out.write)
            return .failed(HostFailure(.cannotStart, "cannot create a pipe: \(Errno(rawValue: errno))"))
        }
        let end = SessionEnd()
        // Past a cancellation the readers go on while the session is torn down: TERM, the grace,
        // KILL, and a second for the exit to be seen.
        let teardown = options.terminationGrace + .seconds(1)
        return await withTaskGroup(of: Void.self) { readers in
            for (fd, stream) in [(out.read, OutputStreamKind.stdout), (err.read, .stderr)] {
                let lines = LineSplitter(
                    host: host, stream: stream, maximumLineLength: options.maximumLineLength,
                    binary: stream == .stdout && options.binaryStdout)
                let reader = PipeReader(fd: fd, poller: poller, lines: lines, end: end, teardown: teardown)
                readers.addTask { await reader.run(deliver: deliver) }
            }
            let termination = await withTaskGroup(of: Void.self) { feeding in
                if let feeder {
                    feeding.addTask { await feeder.run() }
                }
                let termination = await session(
                    SessionStreams(
                        stdin: stdin, stdout: FileDescriptor(rawValue: out.write),
                        stderr: FileDescriptor(rawValue: err.write)))
                feeding.cancelAll()  // the process is gone: the feeder stops
                return termination
            }
            // The readers take what is left and end. They are told, not cancelled: a cancelled task's
            // delivery may be dropped by its sink (an events consumer's channel drops a send from a
            // cancelled task), and the last lines of a session that ended well are its output.
            end.tell()
            poller.wake(out.read)
            poller.wake(err.read)
            await readers.waitForAll()
            for fd in [out.read, err.read] {
                poller.forget(fd)
                close(fd)
            }
            return termination
        }
    }

    /// From this size on, a stdin file is given to the session as it is, not fed through a pipe.
    static let directStdinSize: Int64 = 16 << 20

    /// A pipe whose ends are close-on-exec, with a non-blocking read end — or, for a pipe passh
    /// writes to, a non-blocking write end. `size`: the capacity to ask for, as far as the system
    /// allows (`/proc/sys/fs/pipe-max-size`, and an unprivileged user's total); refused, the pipe
    /// keeps its default.
    private static func makePipe(nonBlockingWrite: Bool = false, size: Int? = nil) -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        guard passh_pipe_cloexec(&fds) == 0 else { return nil }
        if let size { _ = passh_set_pipe_size(fds[0], Int32(size)) }
        let ours = nonBlockingWrite ? fds[1] : fds[0]
        _ = fcntl(ours, F_SETFL, fcntl(ours, F_GETFL) | O_NONBLOCK)
        return (fds[0], fds[1])
    }
}

/// Whether a session has returned: its readers then drain their pipes and end.
final class SessionEnd: Sendable {
    private let ended = Atomic(false)

    var hasEnded: Bool { ended.load(ordering: .acquiring) }

    func tell() { ended.store(true, ordering: .releasing) }
}
