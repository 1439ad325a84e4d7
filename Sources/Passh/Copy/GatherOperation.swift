import Synchronization
public import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Fetches files and directories from every host into `DESTINATION/HOST/`: the gather beside "run
/// a command" (``ParallelSSH/gather(_:from:sink:)``).
///
/// Each host runs `tar -cf - -C PARENT BASE …` (it needs only a POSIX shell and `tar`) and passh
/// unpacks the stream it prints with ``TarExtractor``, which never writes outside the host's
/// directory whatever the host sends: a name with `..` fails the host, an absolute name lands
/// under the host's directory, and nothing is written through a link. The host's directory is its name as given, a `/` written `%2F` and a `%`
/// written `%25` (as ``FileSink`` names files). What the remote `tar` says on stderr goes to the
/// sink as usual, and its exit status is the host's. A host's stdout is the archive: it goes to
/// the extractor only, never to the sink, and is not collected (``HostResult/stdout`` stays empty).
///
/// ```swift
/// let gather = try GatherOperation(paths: ["/var/log/app"], destination: "logs")
/// let results = try await ParallelSSH().gather(gather, from: hosts)   // logs/web1/app/…
/// ```
public struct GatherOperation: Sendable {
    /// The local directory; each host's files go into a directory of it named after the host.
    public let destination: FilePath
    /// The command each host runs: it prints a tar archive on stdout.
    public let remoteCommand: String
    /// Where the archives are unpacked: a thread of the operation's own, never the cooperative pool.
    private let files = FileThread(name: "passh-gather")

    /// Fetches `paths` from every host.
    ///
    /// - Parameters:
    ///   - paths: Files or directories on the hosts (relative to the remote home unless absolute);
    ///     each lands in the host's directory under its own name.
    ///   - destination: The local directory (created, mode 0700, with its missing parents, when the
    ///     first host starts).
    /// - Throws: ``PasshError``: ``PasshError/Code/unreadableFile`` when `destination` exists and
    ///   is not a directory; ``PasshError/Code/invalidOption`` for no paths, a path without a name of
    ///   its own, two paths with the same name.
    public init(paths: [String], destination: FilePath) throws(PasshError) {
        let split = try CopyPath.split(paths)
        try self.init(command: "tar -cf - " + CopyPath.remoteTarArguments(split), destination: destination)
    }

    /// Runs `command` on every host and unpacks the tar archive it prints (for a remote side that
    /// needs more than `tar`: `sudo tar …`, a compressed stream piped through `gzip -dc`, …).
    public init(command: String, destination: FilePath) throws(PasshError) {
        guard !destination.isEmpty else { throw PasshError(.invalidOption, "the destination directory is empty") }
        var info = stat()
        if stat(destination.string, &info) == 0 && info.st_mode & S_IFMT != S_IFDIR {
            throw PasshError(.unreadableFile, "Not a directory: \(destination.string)")
        }
        self.destination = destination
        self.remoteCommand = command
    }

    /// The open descriptors one host's unpacking holds at most, beside its session's: the runner
    /// counts them against the open-file limit.
    public static let descriptorsPerHost = 5

    /// The directory `host`'s files go into.
    public func directory(for host: Host) -> FilePath {
        FileSink.path(for: host, in: destination)
    }
}

extension GatherOperation: HostOperation {
    func sendsStdin(_ options: RunOptions) -> Bool { false }

    var descriptorsPerJob: Int { Self.descriptorsPerHost }

    func job(for host: Host, options: RunOptions) -> JobStart {
        let root = directory(for: host)
        if let name = root.lastComponent?.string, name == "." || name == ".." || root.lastComponent == nil {
            return .failed(
                HostFailure(.other, "cannot gather into \(root.string): the host's name is not a directory name"))
        }
        do throws(TarExtractor.Failure) {
            return .ready(try GatherJob(command: [remoteCommand], root: root, files: files))
        } catch {
            return .failed(HostFailure(.other, error.description))
        }
    }
}

/// One host's gather: its stdout goes into the extractor.
final class GatherJob: HostJob {
    /// The largest piece of stdout handed on at once: stdout is not text, so it is handed on as it
    /// is read (``SessionOptions/binaryStdout``), from a pipe of this size where the system allows.
    /// Large pieces keep ssh's own buffer small: emptied in few large writes, not many small ones.
    static let pieceSize = SessionOptions.binaryPipeSize

    let command: [String]
    /// Where the extractor runs (it writes files).
    private let files: FileThread

    private struct State: ~Copyable {
        var extractor: TarExtractor
        var failure: String?
    }

    private let state: Mutex<State>

    init(command: [String], root: FilePath, files: FileThread) throws(TarExtractor.Failure) {
        self.command = command
        self.files = files
        self.state = Mutex(State(extractor: try TarExtractor(root: root), failure: nil))
    }

    var takesStdout: Bool { true }

    func session(_ options: SessionOptions) -> SessionOptions {
        var options = options
        options.stdinFile = nil
        options.maximumLineLength = Swift.min(options.maximumLineLength, Self.pieceSize)
        options.binaryStdout = true
        return options
    }

    func receive(_ chunk: OutputChunk) async -> Bool {
        await files.run { self.consume(chunk) }
    }

    private func consume(_ chunk: OutputChunk) -> Bool {
        state.withLock { state in
            guard state.failure == nil else { return false }
            do {
                try chunk.bytes.withUnsafeBytes { raw in try state.extractor.consume(raw) }
                return true
            } catch {
                state.failure = "\(error)"
                return false
            }
        }
    }

    func finish(_ outcome: HostOutcome) async -> (HostOutcome, TransferTotals?) {
        await files.run { self.end(outcome) }
    }

    private func end(_ outcome: HostOutcome) -> (HostOutcome, TransferTotals?) {
        state.withLock { state in
            if let failure = state.failure { return (.failed(HostFailure(.other, failure)), nil) }
            let totals: TarExtractor.Totals
            do throws(TarExtractor.Failure) {
                totals = try state.extractor.finish()
            } catch {
                // A stream cut short by the host's own failure is reported as that failure.
                return (outcome.isSuccess ? .failed(HostFailure(.other, error.description)) : outcome, nil)
            }
            return (outcome, TransferTotals(files: totals.files, bytes: totals.bytes))
        }
    }
}
