/// Which of a host's output streams some bytes came from.
public enum OutputStreamKind: String, Sendable, Hashable {
    /// The remote command's standard output.
    case stdout
    /// The remote command's standard error (and ssh's own messages).
    case stderr
}

/// Whole lines one host wrote to one stream, as raw bytes.
///
/// A chunk holds one or more complete lines, each ending in a newline (`0x0A`), exactly as the host
/// wrote them: nothing is decoded, so invalid UTF-8, `\r` and NUL bytes pass through. Only the
/// last line of a chunk can lack its newline, in two cases: it is the host's last line and it had
/// none, or it is a piece of a line longer than the reader's limit (see
/// ``RunOptions/maximumLineLength``). ``endsWithNewline`` tells which.
public struct OutputChunk: Sendable {
    /// The host that wrote the bytes.
    public let host: Host
    /// The stream they were written to.
    public let stream: OutputStreamKind
    /// The bytes: whole lines, newlines included.
    public let bytes: ArraySlice<UInt8>
    /// `false` when the last line has no newline of its own.
    public let endsWithNewline: Bool
    /// The lines are the transport's own messages about the connection (ssh's log: `ssh: connect
    /// to host … Connection refused`), not the command's output. A run that may retry the host holds
    /// them back until the attempt's fate is known (``Rollout/retries``).
    let fromTransport: Bool

    /// Creates a chunk.
    public init(host: Host, stream: OutputStreamKind, bytes: ArraySlice<UInt8>, endsWithNewline: Bool) {
        self.init(host: host, stream: stream, bytes: bytes, endsWithNewline: endsWithNewline, fromTransport: false)
    }

    init(
        host: Host, stream: OutputStreamKind, bytes: ArraySlice<UInt8>, endsWithNewline: Bool, fromTransport: Bool
    ) {
        self.host = host
        self.stream = stream
        self.bytes = bytes
        self.endsWithNewline = endsWithNewline
        self.fromTransport = fromTransport
    }

    /// The lines of the chunk, without their newlines.
    public var lines: Lines { Lines(bytes: bytes) }

    /// The number of lines in the chunk.
    public var lineCount: Int {
        bytes.withUnsafeBytes { raw in countNewlines(raw) } + (endsWithNewline ? 0 : 1)
    }

    /// The lines of a chunk, each without its newline; a view, nothing is copied.
    public struct Lines: Sequence, Sendable {
        let bytes: ArraySlice<UInt8>

        /// An iterator over the lines.
        public func makeIterator() -> Iterator { Iterator(bytes: bytes, position: bytes.startIndex) }

        /// Yields each line, without its newline.
        public struct Iterator: IteratorProtocol {
            let bytes: ArraySlice<UInt8>
            var position: Int

            /// The next line, or `nil` after the last.
            public mutating func next() -> ArraySlice<UInt8>? {
                guard position < bytes.endIndex else { return nil }
                let start = position
                let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.endIndex
                position = end == bytes.endIndex ? end : end + 1
                return bytes[start..<end]
            }
        }
    }
}
