/// A stdin file, read at any offset: each session keeps its own offset (``StdinSource``), so one
/// open file could serve them all, and a test can stand in bytes for a file.
protocol StdinFile: AnyObject, Sendable {
    /// Reads up to `buffer.count` bytes at `offset`: how many, 0 at the end of the file, less than 0
    /// for an error (the host then sees its stdin end).
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int
}
