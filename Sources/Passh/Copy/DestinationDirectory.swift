import SystemPackage

/// A gather's destination, open for as long as the operation lives: each host's directory is made
/// in it through its descriptor, so nothing above it is looked up again.
final class DestinationDirectory: Sendable {
    let fd: FileDescriptor
    let path: FilePath

    /// Creates `path` when missing (mode 0700, with its parents) and opens it; it must be private
    /// (``PrivateDirectory``).
    init(_ path: FilePath) throws(PasshError) {
        self.fd = try PrivateDirectory.open(path)
        self.path = path
    }

    deinit {
        try? fd.close()
    }
}
