/// What a session's command gets on its stdin, in order: the preamble
/// (``SessionOptions/stdinPreamble``, a sudo password), then the stdin file from its start, then the
/// end of input. Each piece is at most what the channel can take now (its window, its packet size,
/// the room its codec has), so the source reads no further ahead than the host.
struct StdinSource: Sendable {
    /// One piece of stdin.
    enum Piece: Equatable {
        /// Bytes to send.
        case data([UInt8])
        /// The end of input: send EOF.
        case end
    }

    private var preamble: ArraySlice<UInt8>
    private var file: (any StdinFile)?
    private var offset: Int64 = 0
    /// Whether the end of input was reached (or stdin was dropped).
    private(set) var isFinished: Bool

    /// `preamble`, then `file` (if any).
    init(preamble: [UInt8] = [], file: (any StdinFile)? = nil) {
        self.preamble = preamble[...]
        self.file = file
        isFinished = false
    }

    /// Whether there is nothing to send at all: the end of input can go at once.
    var isEmpty: Bool { preamble.isEmpty && file == nil }

    /// The next piece, of at most `count` bytes (`count` > 0).
    mutating func next(atMost count: Int) -> Piece {
        precondition(count > 0, "a piece of stdin holds at least one byte")
        if !preamble.isEmpty {
            let piece = Array(preamble.prefix(count))
            preamble = preamble.dropFirst(piece.count)
            return .data(piece)
        }
        guard let file else {
            isFinished = true
            return .end
        }
        var got = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { space, initialized in
            got = file.read(at: offset, into: UnsafeMutableRawBufferPointer(space))
            initialized = Swift.max(got, 0)
        }
        guard got > 0 else {  // the end of the file (or a read error: the host sees its stdin end)
            drop()
            return .end
        }
        offset += Int64(got)
        return .data(bytes)
    }

    /// Sends no more: the command stopped reading (it ended, or the channel was closed), or the
    /// session is over. The file is let go (closed with its last reference).
    mutating func drop() {
        preamble = []
        file = nil
        isFinished = true
    }
}
