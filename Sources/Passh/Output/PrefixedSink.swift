/// The original passh's output: every line as `[HOST] LINE`, stdout lines on stdout, stderr lines
/// on stderr, streamed as they arrive. A last line without a newline gets one.
public struct PrefixedSink: OutputSink {
    private let writer: OutputWriter
    private let prefix: @Sendable (Host, OutputStreamKind) -> [UInt8]

    /// A sink writing through `writer`, each line prefixed with `[HOST] `.
    public init(writer: OutputWriter = OutputWriter()) {
        self.init(writer: writer) { host, _ in Array("[\(host.name)] ".utf8) }
    }

    /// A sink writing through `writer`, each line prefixed with what `prefix` returns.
    public init(writer: OutputWriter = OutputWriter(), prefix: @escaping @Sendable (Host, OutputStreamKind) -> [UInt8])
    {
        self.writer = writer
        self.prefix = prefix
    }

    /// Writes the chunk's lines, each prefixed, in one piece.
    public func output(_ chunk: OutputChunk) async {
        let formatted = prefixLines(
            chunk.bytes, with: prefix(chunk.host, chunk.stream), terminate: !chunk.endsWithNewline)
        await writer.write(formatted, to: chunk.stream)
    }

    /// Waits until the writer has written everything queued.
    public func flush() async {
        await writer.flush()
    }
}
