/// What a copy moved for one host: the regular files and their bytes (the contents, not the
/// archive's headers).
public struct TransferTotals: Sendable, Hashable {
    /// Regular files sent or received.
    public var files: Int
    /// The bytes of those files.
    public var bytes: Int64

    /// Totals of `files` files holding `bytes` bytes.
    public init(files: Int, bytes: Int64) {
        self.files = files
        self.bytes = bytes
    }
}
