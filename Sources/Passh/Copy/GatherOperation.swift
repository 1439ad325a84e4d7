import Synchronization
public import SystemPackage

/// Fetches files and directories from every host into `DESTINATION/HOST/`: the gather beside "run
/// a command" (``ParallelSSH/gather(_:from:sink:)``).
///
/// Each host runs `tar -cf - -C PARENT BASE` for each path (it needs only a POSIX shell and `tar`;
/// see ``remoteCommand``) and passh unpacks the archives it prints with ``TarExtractor``, which
/// never writes outside the host's directory whatever the host sends: a name with `..` fails the
/// host, an absolute name lands under the host's directory, and nothing is written through a link.
/// The destination and each host's directory in it must be private (created with mode 0700, or
/// else a directory of this user that group and others cannot write, not a symbolic link), as
/// ``FileSink``'s are. The host's directory is its name as given, a `/` written `%2F` and a `%`
/// written `%25` (as ``FileSink`` names files). What the remote `tar` says on stderr goes to the
/// sink as usual, and its exit status is the host's; members that are not created (devices,
/// FIFOs) are named in one line on the host's stderr (`passh: skipped 2 members: …`) and counted
/// in ``TransferTotals/skipped``. A host's stdout is the archive: it goes to the extractor only,
/// never to the sink, and is not collected (``HostResult/stdout`` stays empty).
///
/// ```swift
/// let gather = try GatherOperation(paths: ["/var/log/app"], destination: "logs")
/// let results = try await ParallelSSH().gather(gather, from: hosts)   // logs/web1/app/…
/// ```
public struct GatherOperation: Sendable {
    /// The local directory; each host's files go into a directory of it named after the host.
    public let destination: FilePath
    /// The command each host runs: it prints a tar archive (or, for paths, one per path) on stdout.
    public let remoteCommand: String
    /// Whether the host prints several archives one after another.
    let concatenated: Bool
    /// The destination, open: each host's directory is made in it through its descriptor.
    let directory: DestinationDirectory
    /// Where the archives are unpacked: a thread of the operation's own, never the cooperative pool.
    private let files = FileThread(name: "passh-gather")

    /// Fetches `paths` from every host.
    ///
    /// - Parameters:
    ///   - paths: Files or directories on the hosts (relative to the remote home unless absolute;
    ///     a leading `~/` is the remote home, any other `~` is a name); each lands in the host's
    ///     directory under its own name. One that is a symbolic link is fetched as what it points
    ///     to (as scp does); links inside a directory stay links.
    ///   - destination: The local directory: created (mode 0700, with its missing parents) when
    ///     missing, else it must be private.
    /// - Throws: ``PasshError``: ``PasshError/Code/unreadableFile`` when `destination` is not a
    ///   directory, is a symbolic link, is not private or cannot be made;
    ///   ``PasshError/Code/invalidOption`` for no paths, a path without a name of its own, two paths
    ///   with the same name.
    public init(paths: [String], destination: FilePath) throws(PasshError) {
        let split = try CopyPath.split(paths)
        try self.init(command: CopyPath.remoteArchiveCommand(split), destination: destination, concatenated: true)
    }

    /// Runs `command` on every host and unpacks the tar archive it prints (for a remote side that
    /// needs more than `tar`: `sudo tar …`, a compressed stream piped through `gzip -dc`, …); what
    /// follows the archive's end is ignored.
    ///
    /// - Throws: ``PasshError`` as ``init(paths:destination:)`` does for `destination`.
    public init(command: String, destination: FilePath) throws(PasshError) {
        try self.init(command: command, destination: destination, concatenated: false)
    }

    init(command: String, destination: FilePath, concatenated: Bool) throws(PasshError) {
        guard !destination.isEmpty else { throw PasshError(.invalidOption, "the destination directory is empty") }
        self.directory = try DestinationDirectory(destination)
        self.destination = destination
        self.remoteCommand = command
        self.concatenated = concatenated
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
        let path = directory(for: host)
        let name = FileSink.fileName(for: host)
        if name.isEmpty || name == "." || name == ".." {
            return .failed(
                HostFailure(.other, "cannot gather into \(path.string): the host's name is not a directory name"))
        }
        do throws(PasshError) {
            let root = try PrivateDirectory.open(name, in: directory.fd, path: path)
            return .ready(GatherJob(command: [remoteCommand], root: root, concatenated: concatenated, files: files))
        } catch {
            return .failed(HostFailure(.other, error.message))
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
        /// Whether the whole stream was unpacked.
        var finished = false
    }

    private let state: Mutex<State>

    /// A job unpacking into the directory `root` (open, checked), which it closes, on `files`.
    init(command: [String], root: FileDescriptor, concatenated: Bool, files: FileThread) {
        self.command = command
        self.files = files
        self.state = Mutex(State(extractor: TarExtractor(root: root, concatenated: concatenated), failure: nil))
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
            state.finished = true
            return (outcome, TransferTotals(files: totals.files, bytes: totals.bytes, skipped: totals.skipped))
        }
    }

    /// The members not created, in one line, once the stream is unpacked (a host whose gather
    /// failed says why instead).
    func warnings() -> [String] {
        state.withLock { state in
            guard state.finished, let summary = state.extractor.skippedSummary else { return [] }
            return ["passh: " + summary]
        }
    }
}
