/// Sends files and directories to every host, into one directory there: the copy beside "run a
/// command" (``ParallelSSH/copy(_:to:sink:)``).
///
/// Making the operation makes the archive, once: the local `tar` packs each path
/// (`tar -cf - -C PARENT BASE`, so each lands in the destination under its own name; a path that
/// is a symbolic link as what it points to) into a private temporary file, which every host then
/// reads whole as its stdin, the way a stdin file reaches every host. Each host runs `mkdir -p -- DIR && tar -xpf - --no-same-owner -C DIR`
/// (with `--overwrite` for GNU tar, see ``remoteCommand``): it needs only a POSIX shell and
/// `tar`. Modes and modification times are kept and symbolic links stay links; ownership is kept
/// only with ``preserveOwner`` on hosts where the remote user is root.
///
/// ```swift
/// let copy = try await CopyOperation(paths: ["/etc/app/conf.d", "/etc/app/app.toml"], destination: "/etc/app")
/// let results = try await ParallelSSH().copy(copy, to: hosts)
/// ```
///
/// The operation can run on as many host lists as you like; the archive goes when the last copy
/// of the operation does.
public struct CopyOperation: Sendable {
    /// The local paths, as given.
    public let paths: [String]
    /// The directory on each host, created when missing (relative to the remote home unless
    /// absolute; `~/` is the remote home).
    public let destination: String
    /// Whether to keep the files' owners (only where the remote user is root).
    public let preserveOwner: Bool
    let archive: LocalArchive

    /// Archives `paths` for `destination`.
    ///
    /// - Parameters:
    ///   - paths: Files, directories or symbolic links; each lands in `destination` under its own
    ///     name (its last component). A symbolic link is copied as what it points to (as scp
    ///     does); links inside a directory stay links.
    ///   - destination: The directory on every host.
    ///   - preserveOwner: Keep owners and groups (where the remote user is root).
    ///   - temporaryDirectory: Where the archive is made; `nil`: `$TMPDIR`, else `/tmp`.
    /// - Throws: ``PasshError``: ``PasshError/Code/unreadableFile`` for a path that is missing or
    ///   unreadable (`No such file: PATH`), a file that reports a size of 0 but is not empty (a
    ///   `/proc` file: tar would send it empty) or a local `tar` that fails (with its reason);
    ///   ``PasshError/Code/invalidOption`` for no paths, a path without a name of its own (`/`,
    ///   `..`), two paths with the same name, or an empty destination.
    public init(
        paths: [String], destination: String, preserveOwner: Bool = false, temporaryDirectory: String? = nil
    ) async throws(PasshError) {
        guard !destination.isEmpty else { throw PasshError(.invalidOption, "the destination directory is empty") }
        let split = try CopyPath.split(paths)
        self.archive = try await LocalArchive(
            paths: split, temporaryDirectory: temporaryDirectory ?? LocalArchive.defaultTemporaryDirectory)
        self.paths = paths
        self.destination = destination
        self.preserveOwner = preserveOwner
    }

    /// What each host receives: the regular files in the archive and their bytes.
    public var totals: TransferTotals { archive.totals }

    /// The archive's size in bytes: what is sent to each host.
    public var archiveSize: Int64 { archive.size }

    /// What the local `tar` said while it made the archive and succeeded (`tar: ./sock: socket
    /// ignored`): its first lines, for the caller to show.
    public var warnings: [String] { archive.warnings }

    /// The command each host runs, for its remote shell.
    ///
    /// GNU tar is told `--overwrite` (found by `tar --version`; other tars are left to their own
    /// ways): it then writes an existing file in place, as scp does, instead of unlinking it and
    /// creating it anew. Several hosts unpacking into one shared directory (an NFS home) race on
    /// that unlink-then-create, and the losers fail (`Cannot open: File exists`); writing in place
    /// they all succeed. GNU tar still opens the file without following a symbolic link there (it
    /// replaces the link), but a file the remote user may not write, or a running program, is no
    /// longer replaced: `Permission denied`, `Text file busy`, as with scp.
    public var remoteCommand: String {
        let directory = RemoteShell.quote(destination)
        return "mkdir -p -- \(directory) && o= && case $(tar --version 2>/dev/null) in *GNU*) o=--overwrite;; esac"
            + " && tar -xpf - $o\(preserveOwner ? "" : " --no-same-owner") -C \(directory)"
    }
}

extension CopyOperation: HostOperation, HostJob {
    func sendsStdin(_ options: RunOptions) -> Bool { true }

    func job(for host: Host, options: RunOptions) -> JobStart { .ready(self) }

    var command: [String] { [remoteCommand] }

    func session(_ options: SessionOptions) -> SessionOptions {
        var options = options
        options.stdinFile = archive.path
        return options
    }

    func finish(_ outcome: HostOutcome) -> (HostOutcome, TransferTotals?) {
        (outcome, outcome.isSuccess ? archive.totals : nil)
    }
}
