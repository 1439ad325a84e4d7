/// Where the stored pieces of a sparse tar member go in the file: GNU tar's sparse formats, which
/// libarchive (bsdtar, FreeBSD's and macOS's tar) writes too.
///
/// - Old GNU (`--format=gnu`, typeflag `S`): the map is in the header (4 entries) and in extension
///   blocks after it (21 each); the real size is in the header.
/// - pax 0.0: repeated `GNU.sparse.offset` / `GNU.sparse.numbytes` records, `GNU.sparse.size`.
/// - pax 0.1: `GNU.sparse.map=OFFSET,SIZE,…`, `GNU.sparse.size`, `GNU.sparse.name`.
/// - pax 1.0 (`GNU.sparse.major=1`, `minor=0`; bsdtar's): `GNU.sparse.realsize`, `GNU.sparse.name`,
///   and the map at the start of the member's data, in decimal lines (a count, then an offset and a
///   size per entry), padded to a 512-byte block; ``Reader`` reads it.
///
/// The data holds the pieces one after the other, in the map's order. A map is accepted only when
/// its entries are in increasing order without overlapping, each ends within the real size, and
/// their sizes add up to the stored data exactly: whatever the host sends, a piece is written only
/// inside the file, at the place the map gives it.
struct TarSparseMap {
    struct Entry: Hashable {
        var offset: Int64
        var size: Int64
    }

    /// The file's size: past the last piece, the file is a hole up to it.
    var realSize: Int64
    var entries: [Entry]

    /// The most entries a map may have (16 bytes each in memory): about 43,000 extension blocks of
    /// an old GNU header, or a pax map of a few megabytes. A real file with more holes than this is
    /// refused, never taken in part.
    static let maximumEntries = 1 << 17

    /// Checks the map against the member's stored data size; the reason, when it is refused.
    func problem(storedSize: Int64) -> String? {
        guard realSize >= 0 else { return "sparse file with a negative size" }
        var end: Int64 = 0
        var total: Int64 = 0
        for entry in entries {
            guard entry.offset >= 0, entry.size >= 0 else { return "sparse map with a negative number" }
            guard entry.offset >= end else { return "sparse map with entries out of order or overlapping" }
            let (last, overflow) = entry.offset.addingReportingOverflow(entry.size)
            guard !overflow, last <= realSize else {
                return "sparse map with an entry past the file's size (\(realSize) bytes)"
            }
            end = last
            total += entry.size  // each size is at most realSize, and they do not overlap: no overflow
        }
        guard total == storedSize else {
            return "sparse map of \(total) bytes for \(storedSize) bytes of data"
        }
        return nil
    }

    /// Entries from a flat list of numbers, `offset, size, offset, size…` (pax 0.0 and 0.1).
    static func entries(_ numbers: [Int64]) -> [Entry]? {
        guard numbers.count % 2 == 0 else { return nil }
        return stride(from: 0, to: numbers.count, by: 2).map { Entry(offset: numbers[$0], size: numbers[$0 + 1]) }
    }

    /// Reads the map a pax 1.0 sparse member's data starts with: decimal numbers, one a line (the
    /// number of entries, then an offset and a size each), then zeros up to a 512-byte boundary.
    struct Reader {
        private var count: Int?
        private var numbers: [Int64] = []
        private var current: Int64 = 0
        private var digits = 0
        /// Bytes of the data read so far.
        private(set) var consumed: Int64 = 0
        /// The entries, once the last number is read.
        private(set) var entries: [Entry]?

        /// Whether the map and its padding are read.
        var isComplete: Bool { entries != nil && consumed % 512 == 0 }

        /// Reads from `bytes` what belongs to the map; returns how many bytes that was.
        mutating func consume(_ bytes: UnsafeRawBufferPointer) throws(TarExtractor.Failure) -> Int {
            var index = 0
            while index < bytes.count, !isComplete {
                let byte = bytes[index]
                index += 1
                consumed += 1
                if entries != nil { continue }  // the padding after the map
                if byte == 0x0A {
                    guard digits > 0 else { throw TarExtractor.Failure("sparse map with an empty line") }
                    try take(current)
                    current = 0
                    digits = 0
                    continue
                }
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 18 else {
                    throw TarExtractor.Failure("sparse map that is not a list of numbers")
                }
                current = current * 10 + Int64(byte - UInt8(ascii: "0"))
                digits += 1
            }
            return index
        }

        private mutating func take(_ number: Int64) throws(TarExtractor.Failure) {
            guard let count else {
                guard number <= TarSparseMap.maximumEntries else {
                    throw TarExtractor.Failure(
                        "sparse map of \(number) entries: more than \(TarSparseMap.maximumEntries)")
                }
                self.count = Int(number)
                numbers.reserveCapacity(2 * Int(number))
                if number == 0 { entries = [] }
                return
            }
            numbers.append(number)
            if numbers.count == 2 * count { entries = TarSparseMap.entries(numbers) }
        }
    }
}
