/// What a copy moved for one host: the regular files and their bytes (the contents, not the
/// archive's headers), and the members that were not created.
public struct TransferTotals: Sendable, Hashable {
    /// Regular files sent or received.
    public var files: Int
    /// The bytes of those files (a sparse file's size, holes included).
    public var bytes: Int64
    /// Members of a gathered archive that were not created: devices, FIFOs, unknown types (each
    /// host's stderr names them). Always 0 for a copy.
    public var skipped: Int

    /// Totals of `files` files holding `bytes` bytes, `skipped` members left out.
    public init(files: Int, bytes: Int64, skipped: Int = 0) {
        self.files = files
        self.bytes = bytes
        self.skipped = skipped
    }
}
