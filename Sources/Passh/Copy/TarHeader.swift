/// One 512-byte tar header block, decoded: POSIX ustar (with its `prefix` field), GNU tar's
/// variant (no prefix; base-256 numbers) and the old V7 layout (no magic).
///
/// Parsing only: nothing here touches the file system. Numbers are octal ASCII (leading spaces or
/// NULs allowed, ended by a space, a NUL or the field's end) or, when the first byte has its high
/// bit set, GNU base-256 (big-endian two's complement).
struct TarHeader {
    /// The member's name as stored: `prefix/name` for POSIX ustar, else `name` (raw bytes, no NUL).
    var name: [UInt8]
    /// The whole mode field, file type bits included if the archiver wrote them.
    var mode: Int64
    var size: Int64
    /// Seconds since the epoch (may be negative).
    var mtime: Int64
    var typeflag: UInt8
    var linkName: [UInt8]
    /// An old GNU sparse member (typeflag `S`): the map entries in the header, whether extension
    /// blocks follow, and the file's real size.
    var sparse: (entries: [TarSparseMap.Entry], extended: Bool, realSize: Int64)?

    static let blockSize = 512

    /// Whether `block` (512 bytes) is all zeros: an end-of-archive marker.
    static func isZeroBlock(_ block: UnsafeRawBufferPointer) -> Bool {
        // Eight bytes at a time: end-of-archive padding can be long (GNU tar pads to 10 KiB).
        var index = 0
        while index < block.count {
            if block.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        return true
    }

    /// Decodes `block` (512 bytes, not all zeros), found at byte `offset` of the stream.
    ///
    /// - Throws: ``TarExtractor/Failure`` when the checksum does not match or a number field is not
    ///   a number (or does not fit in 64 bits, or is a negative size).
    init(_ block: UnsafeRawBufferPointer, offset: Int64) throws(TarExtractor.Failure) {
        precondition(block.count == Self.blockSize)
        let rawName = Self.string(block, 0, 100)
        func failure(_ what: String) -> TarExtractor.Failure {
            let member = rawName.isEmpty ? "" : " ('\(TarPath.display(rawName))')"
            return TarExtractor.Failure("tar header at byte \(offset)\(member): \(what)")
        }

        guard let stored = try? Self.number(block, 148, 8) else { throw failure("checksum field is not a number") }
        var unsignedSum: Int64 = 0
        var signedSum: Int64 = 0
        for index in 0..<Self.blockSize {
            let byte = (148..<156).contains(index) ? 0x20 : block[index]
            unsignedSum += Int64(byte)
            signedSum += Int64(Int8(bitPattern: byte))
        }
        guard stored == unsignedSum || stored == signedSum else {
            throw failure("checksum mismatch (corrupt or not a tar archive)")
        }

        let isPOSIX = Self.matches(block, 257, "ustar\0")
        typeflag = block[156]
        linkName = Self.string(block, 157, 100)
        if isPOSIX, block[345] != 0 {
            name = Self.string(block, 345, 155) + [UInt8(ascii: "/")] + rawName
        } else {
            name = rawName
        }
        do throws(TarExtractor.Failure) {
            mode = try Self.number(block, 100, 8)
            size = try Self.number(block, 124, 12)
            mtime = try Self.number(block, 136, 12)
        } catch {
            throw failure(error.description)
        }
        guard size >= 0 else { throw failure("negative size") }
        if typeflag == UInt8(ascii: "S") {
            do throws(TarExtractor.Failure) {
                let entries = try Self.sparseEntries(block, start: 386, count: 4)
                sparse = (entries, block[482] != 0, try Self.number(block, 483, 12))
            } catch {
                throw failure("sparse header: \(error.description)")
            }
        }
    }

    /// The entries of an old GNU sparse extension block (21 of them, then the "extended" flag),
    /// and whether another block follows.
    static func sparseExtension(_ block: UnsafeRawBufferPointer) throws(TarExtractor.Failure) -> (
        entries: [TarSparseMap.Entry], extended: Bool
    ) {
        (try sparseEntries(block, start: 0, count: 21), block[504] != 0)
    }

    /// Up to `count` map entries (a 12-byte offset and a 12-byte size each) from `start`; the list
    /// ends early at an entry whose fields are both empty.
    private static func sparseEntries(_ block: UnsafeRawBufferPointer, start: Int, count: Int) throws(TarExtractor
        .Failure) -> [TarSparseMap.Entry]
    {
        var entries: [TarSparseMap.Entry] = []
        for index in 0..<count {
            let at = start + index * 24
            if block[at] == 0 && block[at + 12] == 0 { break }
            entries.append(TarSparseMap.Entry(offset: try number(block, at, 12), size: try number(block, at + 12, 12)))
        }
        return entries
    }

    /// The bytes of the field at `start` (`count` bytes long), up to its first NUL.
    private static func string(_ block: UnsafeRawBufferPointer, _ start: Int, _ count: Int) -> [UInt8] {
        var end = start
        while end < start + count, block[end] != 0 { end += 1 }
        return Array(block[start..<end])
    }

    private static func matches(_ block: UnsafeRawBufferPointer, _ start: Int, _ text: StaticString) -> Bool {
        text.withUTF8Buffer { expected in
            expected.indices.allSatisfy { block[start + $0] == expected[$0] }
        }
    }

    /// The number in the field at `start`: octal ASCII or base-256.
    private static func number(_ block: UnsafeRawBufferPointer, _ start: Int, _ count: Int) throws(TarExtractor.Failure)
        -> Int64
    {
        let first = block[start]
        if first & 0x80 != 0 {
            // Base-256: the remaining bits are a big-endian two's-complement number; 0xFF leads a
            // negative one.
            let negative = first & 0x40 != 0
            var value: Int64 = negative ? -1 : 0
            for index in start..<(start + count) {
                let byte = index == start ? (negative ? first : first & 0x7F) : block[index]
                guard value >> 55 == (negative ? -1 : 0) else {
                    throw TarExtractor.Failure("number too large")
                }
                value = (value << 8) | Int64(byte)
            }
            return value
        }
        var index = start
        let end = start + count
        while index < end, block[index] == 0x20 || block[index] == 0 { index += 1 }
        var value: Int64 = 0
        while index < end, block[index] != 0x20, block[index] != 0 {
            let digit = block[index] &- UInt8(ascii: "0")
            guard digit < 8 else { throw TarExtractor.Failure("invalid octal number") }
            // Twelve octal digits hold at most 36 bits: no overflow possible in 64.
            value = value << 3 | Int64(digit)
            index += 1
        }
        // Anything after the terminator must be padding.
        while index < end {
            guard block[index] == 0x20 || block[index] == 0 else { throw TarExtractor.Failure("invalid octal number") }
            index += 1
        }
        return value
    }
}

/// Attributes that extended headers (GNU `L`/`K`, pax `x`) set for the member that follows them.
struct TarPendingAttributes {
    var path: [UInt8]?
    var linkPath: [UInt8]?
    var size: Int64?
    /// Seconds and nanoseconds.
    var mtime: (seconds: Int64, nanoseconds: Int)?
    /// Whether any extended header came since the last member.
    var seen = false
    /// Whether the member is a GNU sparse file stored in pax form (``TarSparseMap``): any
    /// `GNU.sparse.*` record.
    var sparse = false
    /// `GNU.sparse.major` and `GNU.sparse.minor` (format 1.0: the map is in the data).
    var sparseMajor: Int64?
    var sparseMinor: Int64?
    /// `GNU.sparse.size` (0.0, 0.1) or `GNU.sparse.realsize` (1.0): the file's size.
    var sparseRealSize: Int64?
    /// `GNU.sparse.name` (0.1, 1.0): the member's name, instead of the made-up one in its header.
    var sparseName: [UInt8]?
    /// `GNU.sparse.numblocks`: how many entries the map has.
    var sparseEntryCount: Int64?
    /// The map's numbers, `offset, size, …`: from `GNU.sparse.map` (0.1) or from the
    /// `GNU.sparse.offset` and `GNU.sparse.numbytes` records in turn (0.0).
    var sparseNumbers: [Int64] = []
    private var sparseMapForm: SparseMapForm?

    private enum SparseMapForm {
        case list
        case records
    }

    /// Applies the records of a pax extended header (`LENGTH KEY=VALUE\n`…): `path`, `linkpath`,
    /// `size`, `mtime` and GNU's sparse records; other keys are ignored.
    mutating func applyPax(_ data: [UInt8], member: String) throws(TarExtractor.Failure) {
        func failure(_ what: String) -> TarExtractor.Failure {
            TarExtractor.Failure("tar member after pax header '\(member)': \(what)")
        }
        var index = 0
        while index < data.count {
            // A NUL where a record would start: padding (some archivers leave it).
            if data[index] == 0 { break }
            var length = 0
            var cursor = index
            while cursor < data.count, data[cursor] >= UInt8(ascii: "0"), data[cursor] <= UInt8(ascii: "9") {
                length = length * 10 + Int(data[cursor] - UInt8(ascii: "0"))
                guard length <= data.count else { throw failure("malformed pax record") }
                cursor += 1
            }
            guard cursor > index, cursor < data.count, data[cursor] == 0x20, length > cursor - index + 1,
                index + length <= data.count, data[index + length - 1] == 0x0A
            else { throw failure("malformed pax record") }
            let record = data[(cursor + 1)..<(index + length - 1)]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else { throw failure("malformed pax record") }
            let key = String(decoding: record[record.startIndex..<equals], as: UTF8.self)
            let value = Array(record[(equals + 1)...])
            switch key {
            case "path": path = value
            case "linkpath": linkPath = value
            case "size":
                guard let number = Self.decimal(value[...]), number >= 0 else { throw failure("invalid pax size") }
                size = number
            case "mtime":
                guard let time = Self.time(value) else { throw failure("invalid pax mtime") }
                mtime = time
            case _ where key.hasPrefix("GNU.sparse."):
                sparse = true
                try applySparse(key, value, failure)
            default: break
            }
            index += length
        }
        seen = true
    }

    /// One `GNU.sparse.*` record; unknown ones are ignored (the member is still taken as sparse).
    private mutating func applySparse(
        _ key: String, _ value: [UInt8], _ failure: (String) -> TarExtractor.Failure
    ) throws(TarExtractor.Failure) {
        func number() throws(TarExtractor.Failure) -> Int64 {
            guard let number = Self.decimal(value[...]), number >= 0 else { throw failure("invalid \(key)") }
            return number
        }
        func append(_ number: Int64, as form: SparseMapForm) throws(TarExtractor.Failure) {
            guard sparseMapForm == nil || sparseMapForm == form else { throw failure("two kinds of sparse map") }
            guard sparseNumbers.count < 2 * TarSparseMap.maximumEntries else {
                throw failure("sparse map of more than \(TarSparseMap.maximumEntries) entries")
            }
            sparseMapForm = form
            sparseNumbers.append(number)
        }
        switch key {
        case "GNU.sparse.major": sparseMajor = try number()
        case "GNU.sparse.minor": sparseMinor = try number()
        case "GNU.sparse.size", "GNU.sparse.realsize": sparseRealSize = try number()
        case "GNU.sparse.name": sparseName = value
        case "GNU.sparse.numblocks": sparseEntryCount = try number()
        case "GNU.sparse.offset":
            guard sparseNumbers.count % 2 == 0 else { throw failure("GNU.sparse.offset without its numbytes") }
            try append(try number(), as: .records)
        case "GNU.sparse.numbytes":
            guard sparseNumbers.count % 2 == 1 else { throw failure("GNU.sparse.numbytes without its offset") }
            try append(try number(), as: .records)
        case "GNU.sparse.map":
            guard sparseMapForm == nil else { throw failure("two sparse maps") }
            if !value.isEmpty {
                for field in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                    guard let number = Self.decimal(field), number >= 0 else { throw failure("invalid GNU.sparse.map") }
                    try append(number, as: .list)
                }
            }
            sparseMapForm = .list
        default: break
        }
    }

    /// A decimal integer with an optional leading `-`, or `nil` (not a number, or too large).
    private static func decimal(_ text: ArraySlice<UInt8>) -> Int64? {
        var digits = text
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value: Int64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return negative ? -value : value
    }

    /// A pax time, `SECONDS[.FRACTION]`, possibly negative, as seconds and nanoseconds (0…999999999).
    static func time(_ text: [UInt8]) -> (seconds: Int64, nanoseconds: Int)? {
        let dot = text.firstIndex(of: UInt8(ascii: "."))
        guard let whole = decimal(text[..<(dot ?? text.count)]) else {
            // "-.5" is not produced by anyone; reject like any other non-number.
            return nil
        }
        var nanoseconds = 0
        if let dot {
            let fraction = text[(dot + 1)...]
            var scale = 100_000_000
            for byte in fraction {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                nanoseconds += Int(byte - UInt8(ascii: "0")) * scale
                scale /= 10  // digits past nanoseconds are dropped (scale reaches 0)
            }
        }
        let negative = text.first == UInt8(ascii: "-")
        if negative, nanoseconds > 0 {
            // -1.25 is 1.25 s before the epoch: -2 s + 0.75 s.
            return (whole - 1, 1_000_000_000 - nanoseconds)
        }
        return (whole, nanoseconds)
    }
}
