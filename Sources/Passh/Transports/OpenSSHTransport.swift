#if canImport(Glibc)
import Glibc
#endif
import Synchronization

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

    /// Runs `command` on `host` over ssh, or through the host's master connection when
    /// ``OpenSSHOptions/multiplexing`` is on and one is up.
    public func run(
        _ command: [String], on host: Host, options: RunOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        if let path = self.options.controlPath(for: host), let master = await MuxClient.connect(path: path) {
            return await runThroughMaster(master, command, on: host, options: options, output: output)
        }
        return await runSSH(command, on: host, options: options, output: output)
    }

    /// A master connection is up: no ssh process, no handshake.
    private func runThroughMaster(
        _ master: consuming MuxClient, _ command: [String], on host: Host, options: RunOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        var master = master
        let remoteCommand = command.joined(separator: " ")
        return await SessionPipes.run(host: host, options: options, endOfFileWait: .seconds(2), deliver: output) { streams in
            do throws(MuxClient.Failure) {
                guard let status = try await master.runSession(remoteCommand, streams: streams) else {
                    return .signaled(SIGTERM)  // cancelled: the session was abandoned
                }
                return .exited(status)
            } catch {
                return .failedToStart(error.reason)
            }
        }
    }

    /// Spawns `ssh`, and adds advice when it refused a host key.
    private func runSSH(
        _ command: [String], on host: Host, options: RunOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        let launcher = ProcessLauncher(launch: launch, arguments: self.options.arguments(for: host, command: command))
        let hostKey = HostKeyTrouble()
        let termination = await launcher.run(host: host, options: options) { chunk in
            if chunk.stream == .stderr { hostKey.look(at: chunk) }
            await output(chunk)
        }
        if termination == .exited(255), let advice = hostKey.advice(for: host) {
            await output(OutputChunk(host: host, stream: .stderr, bytes: Array((advice + "\n").utf8)[...], endsWithNewline: true))
        }
        return termination
    }
}

/// Notices ssh refusing a host key, to say what to do about it: ssh's own message for a host not
/// in known_hosts is only "Host key verification failed." (with `BatchMode=yes` it cannot ask).
final class HostKeyTrouble: Sendable {
    private struct Seen {
        var failed = false
        var changed = false
    }

    private let seen = Mutex(Seen())

    func look(at chunk: OutputChunk) {
        let failed = chunk.bytes.contains(subsequence: Array("Host key verification failed.".utf8))
        let changed = chunk.bytes.contains(subsequence: Array("REMOTE HOST IDENTIFICATION HAS CHANGED".utf8))
        guard failed || changed else { return }
        seen.withLock {
            $0.failed = $0.failed || failed
            $0.changed = $0.changed || changed
        }
    }

    func advice(for host: Host) -> String? {
        let seen = self.seen.withLock { $0 }
        guard seen.failed else { return nil }
        if seen.changed {
            return "passh: the host key of \(host.hostname) has changed: if that was expected, remove the old key "
                + "(ssh-keygen -R \(host.hostname)) and connect again; if not, someone may be posing as the host"
        }
        return "passh: the host key of \(host.hostname) is not known: check its fingerprint, then add it to "
            + "known_hosts (ssh-keyscan \(host.hostname) >> ~/.ssh/known_hosts), or skip the check with --insecure"
    }
}

extension ArraySlice where Element == UInt8 {
    /// Whether `needle` occurs in the bytes.
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= count else { return false }
        var index = startIndex
        while let found = self[index...].firstIndex(of: first) {
            if found + needle.count > endIndex { return false }
            if self[found..<(found + needle.count)].elementsEqual(needle) { return true }
            index = found + 1
        }
        return false
    }
}

extension OpenSSHTransport {
    /// ssh exits 255 for its own errors, which it explains on stderr; a silent 255 is a remote
    /// command killed by a signal, whose name OpenSSH does not pass on (its client ignores the
    /// protocol's `exit-signal` message).
    public func explainSilentFailure(_ termination: Termination) -> String? {
        termination == .exited(255)
            ? "ssh exited 255 without a message: the remote command was probably killed by a signal" : nil
    }
}

/// Closes the master connection of each host (``OpenSSHOptions/multiplexing``); a host without
/// one is left as it is. The command words are not used.
struct MasterStoppingTransport: Transport {
    let options: OpenSSHOptions

    func run(
        _ command: [String], on host: Host, options _: RunOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        guard let path = options.controlPath(for: host), var master = await MuxClient.connect(path: path) else {
            return .exited(0)
        }
        do {
            try await master.terminate()
            return .exited(0)
        } catch {
            return .failedToStart(error.reason)
        }
    }
}
