/// Cuts one output stream of one host into chunks of whole lines: the one rule every reader of a
/// host's output follows (a pipe's ``PipeReader``, a ``SessionChannel`` for the mux proxy and
/// libssh).
///
/// Everything up to the last newline goes on as one chunk; the rest is kept (``pending``) as the
/// start of the next line — unless it reaches `maximumLineLength`, when it goes on in pieces of that
/// size, so memory stays bounded whatever a host prints. A binary stream (a gather's tar archive)
/// is handed on as read, without looking for line ends.
///
/// New bytes are read straight after the pending ones, into one buffer of the size asked for: the
/// per-line path allocates one buffer per read and copies nothing but the start of an unfinished
/// line.
struct LineSplitter: Sendable {
    let host: Host
    let stream: OutputStreamKind
    let maximumLineLength: Int
    /// The stream is data, not text: each read is one chunk, as it is.
    let binary: Bool
    /// The start of a line whose newline has not arrived yet.
    private(set) var pending: [UInt8] = []
    /// From this length on, an unfinished line is appended to rather than copied at each read.
    static let longLine = 1 << 16

    init(host: Host, stream: OutputStreamKind, maximumLineLength: Int, binary: Bool = false) {
        self.host = host
        self.stream = stream
        self.maximumLineLength = maximumLineLength
        self.binary = binary
    }

    /// Reads at most `count` new bytes with `fill` — which writes them at the start of the buffer it
    /// is given and returns how many it wrote (0 or less: none, and the value is returned as it is)
    /// — and returns the chunks they complete.
    mutating func read(
        upTo count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Int
    ) -> (result: Int, chunks: [OutputChunk]) {
        guard count > 0 else { return (0, []) }
        if binary {
            var result = 0
            let buffer = [UInt8](unsafeUninitializedCapacity: count) { space, initialized in
                result = fill(UnsafeMutableRawBufferPointer(space))
                initialized = Swift.max(result, 0)
            }
            guard result > 0 else { return (result, []) }
            return (result, [OutputChunk(host: host, stream: stream, bytes: buffer[...], endsWithNewline: false)])
        }
        let carried = pending.count
        var result = 0
        if carried >= Self.longLine {
            // A long unfinished line grows where it is (the array's own geometric growth): copied
            // whole at each read, a 96 MiB line cost 76 GB of copying, 64 KiB at a time.
            let fresh = [UInt8](unsafeUninitializedCapacity: count) { space, initialized in
                result = fill(UnsafeMutableRawBufferPointer(space))
                initialized = Swift.max(result, 0)
            }
            guard result > 0 else { return (result, []) }
            var buffer: [UInt8] = []
            swap(&buffer, &pending)
            buffer.append(contentsOf: fresh)
            return (result, split(buffer, searchFrom: carried))
        }
        let buffer = [UInt8](unsafeUninitializedCapacity: carried + count) { space, initialized in
            let base = UnsafeMutableRawPointer(space.baseAddress!)
            pending.withUnsafeBytes { old in
                if let from = old.baseAddress { base.copyMemory(from: from, byteCount: carried) }
            }
            result = fill(UnsafeMutableRawBufferPointer(start: base + carried, count: count))
            initialized = carried + Swift.max(result, 0)
        }
        guard result > 0 else { return (result, []) }
        return (result, split(buffer, searchFrom: carried))
    }

    /// The chunks that `bytes`, already in memory (a packet's payload), complete.
    mutating func append(_ bytes: ArraySlice<UInt8>) -> [OutputChunk] {
        guard !bytes.isEmpty else { return [] }
        return read(upTo: bytes.count) { space in
            bytes.withUnsafeBytes { space.copyMemory(from: $0) }
            return bytes.count
        }.chunks
    }

    /// The last, unterminated line at the end of the stream, if any.
    mutating func finish() -> OutputChunk? {
        guard !pending.isEmpty else { return nil }
        defer { pending = [] }
        return OutputChunk(host: host, stream: stream, bytes: pending[...], endsWithNewline: false)
    }

    /// The chunks of whole lines (or too-long pieces) in `buffer`, keeping the rest as ``pending``.
    /// `searchFrom`: where new bytes begin (what came before holds no newline).
    private mutating func split(_ buffer: [UInt8], searchFrom: Int) -> [OutputChunk] {
        // Scan back from the end: the last newline is usually less than a line away.
        if let lastNewline = buffer[searchFrom...].lastIndex(of: 0x0A) {
            pending = lastNewline + 1 < buffer.count ? Array(buffer[(lastNewline + 1)...]) : []
            return [OutputChunk(host: host, stream: stream, bytes: buffer[...lastNewline], endsWithNewline: true)]
        }
        var chunks: [OutputChunk] = []
        var rest = buffer[...]
        while rest.count >= maximumLineLength {  // a line too long to hold: pass it on in pieces
            chunks.append(
                OutputChunk(host: host, stream: stream, bytes: rest.prefix(maximumLineLength), endsWithNewline: false))
            rest = rest.dropFirst(maximumLineLength)
        }
        pending = rest.startIndex == 0 ? buffer : Array(rest)
        return chunks
    }
}
