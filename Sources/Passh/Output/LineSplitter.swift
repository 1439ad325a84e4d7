/// Cuts a stream's bytes into chunks of whole lines: the rule every reader of a host's output
/// follows (``PipeReader`` for ssh's pipes, the libssh transport for its channels).
///
/// Everything up to the last newline goes on as one chunk; the rest is kept as the start of the
/// next line — unless it reaches `maximumLineLength`, when it goes on in pieces of that size (so
/// memory stays bounded whatever a host prints).
struct LineSplitter: Sendable {
    let host: Host
    let stream: OutputStreamKind
    let maximumLineLength: Int

    /// The chunks of whole lines (or too-long pieces) in `buffer`, and what is left: the start of
    /// the next line. `searchFrom`: where new bytes begin (what came before holds no newline).
    func split(_ buffer: [UInt8], searchFrom: Int) -> (chunks: [OutputChunk], rest: [UInt8]) {
        // Scan back from the end: the last newline is usually less than a line away.
        if let lastNewline = buffer[searchFrom...].lastIndex(of: 0x0A) {
            let chunk = OutputChunk(host: host, stream: stream, bytes: buffer[...lastNewline], endsWithNewline: true)
            return ([chunk], lastNewline + 1 < buffer.count ? Array(buffer[(lastNewline + 1)...]) : [])
        }
        var chunks: [OutputChunk] = []
        var rest = buffer[...]
        while rest.count >= maximumLineLength {  // a line too long to hold: pass it on in pieces
            chunks.append(
                OutputChunk(host: host, stream: stream, bytes: rest.prefix(maximumLineLength), endsWithNewline: false))
            rest = rest.dropFirst(maximumLineLength)
        }
        return (chunks, rest.startIndex == 0 ? buffer : Array(rest))
    }

    /// The last, unterminated line at the end of the stream, if any.
    func finish(_ rest: [UInt8]) -> OutputChunk? {
        rest.isEmpty ? nil : OutputChunk(host: host, stream: stream, bytes: rest[...], endsWithNewline: false)
    }
}
