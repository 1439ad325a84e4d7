import CPasshShims

#if canImport(Glibc)
import Glibc
#endif

/// Runs a `/bin/sh -c` command to the end and collects its output: for group sources.
enum ShellCommand {
    /// What a command did.
    struct Outcome {
        var stdout: [UInt8]
        var stderr: [UInt8]
        /// `exit N` or `killed by signal N`, `nil` for exit 0.
        var failure: String?
    }

    /// The most output kept from one stream; the rest is read and dropped.
    static let maximumOutput = 64 << 20

    /// Runs `command` with `/bin/sh -c`, stdin from `/dev/null`, in this process's environment
    /// with `GROUP` set to `group` (or removed when `nil`).
    static func run(_ command: String, group: String?) throws(PasshError) -> Outcome {
        var rows: [String] = []
        var cursor: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = environ
        while let entry = cursor.pointee {
            let row = String(cString: entry)
            if !row.hasPrefix("GROUP=") { rows.append(row) }
            cursor += 1
        }
        if let group { rows.append("GROUP=\(group)") }
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard passh_pipe_cloexec(&out) == 0 else { throw cannotRun(command, errno) }
        guard passh_pipe_cloexec(&err) == 0 else {
            let code = errno
            close(out[0]); close(out[1])
            throw cannotRun(command, code)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        // The command starts with no signal blocked and the usual dispositions, whatever passh set.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&signals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &signals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let arguments = ["/bin/sh", "-c", command]
        var pid: pid_t = 0
        let status = withCStrings(arguments) { argv in
            withCStrings(rows) { envp in posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp) }
        }
        close(out[1])
        close(err[1])
        if status != 0 {
            close(out[0]); close(err[0])
            throw cannotRun(command, status)
        }
        var outcome = Outcome(stdout: [], stderr: [], failure: nil)
        drain(stdout: out[0], stderr: err[0], into: &outcome)
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
        if waitStatus & 0x7F != 0 {
            outcome.failure = "killed by signal \(waitStatus & 0x7F)"
        } else if (waitStatus >> 8) & 0xFF != 0 {
            outcome.failure = "exit \((waitStatus >> 8) & 0xFF)"
        }
        return outcome
    }

    /// Reads both pipes until both end, then closes them.
    private static func drain(stdout: Int32, stderr: Int32, into outcome: inout Outcome) {
        var fds = [stdout, stderr].map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while fds.contains(where: { $0.fd >= 0 }) {
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in fds.indices where fds[index].fd >= 0 && fds[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 {
                    close(fds[index].fd)
                    fds[index].fd = -1
                    continue
                }
                if index == 0 {
                    if outcome.stdout.count < maximumOutput { outcome.stdout += buffer[..<count] }
                } else if outcome.stderr.count < maximumOutput {
                    outcome.stderr += buffer[..<count]
                }
            }
        }
    }

    private static func cannotRun(_ command: String, _ code: Int32) -> PasshError {
        PasshError(.invalidGroup, "cannot run \(quoted(command)): \(String(cString: strerror(code)))")
    }

    /// Calls `body` with a NULL-terminated array of C strings.
    private static func withCStrings<Result>(
        _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Result
    ) -> Result {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
