import SystemPackage

/// Counts the regular files of a tar archive and their bytes by walking its headers (ustar, GNU
/// and pax archives; sizes in octal or GNU's base-256).
enum TarCounter {
    /// Walks the members of the archive in `file` from byte `start`: where they end (the first
    /// zero block where a header would be: the end-of-archive marker, or the end of the file) and
    /// what they hold.
    static func walk(_ file: FileDescriptor, from start: Int64 = 0) throws(PasshError) -> (
        end: Int64, totals: TransferTotals
    ) {
        var totals = TransferTotals(files: 0, bytes: 0)
        var offset = start
        var paxSize: Int64?
        var header = [UInt8](repeating: 0, count: 512)
        while true {
            let count: Int
            do {
                count = try header.withUnsafeMutableBytes { try file.read(fromAbsoluteOffset: offset, into: $0) }
            } catch {
                throw PasshError(.unreadableFile, "Cannot read the archive to copy: \(error)")
            }
            guard count == 512, header.contains(where: { $0 != 0 }) else { break }
            let type = header[156]
            // A pax header's `size` record is the next member's size (its own field may not hold
            // it: a file over 8 GiB in the pax format).
            let size = paxSize ?? Self.size(header[124..<136])
            paxSize = nil
            if type == UInt8(ascii: "x") {
                paxSize = try Self.paxSize(file, at: offset + 512, length: size)
            }
            // "0", NUL (old tar) and "7" (contiguous) are regular files; links, directories,
            // GNU long names and pax headers are not.
            if type == UInt8(ascii: "0") || type == 0 || type == UInt8(ascii: "7") {
                totals.files += 1
                totals.bytes += size
            }
            offset += 512 + (size + 511) / 512 * 512
        }
        return (offset, totals)
    }

    /// The `size` record of the pax header of `length` bytes at `offset`, if it has one.
    private static func paxSize(_ file: FileDescriptor, at offset: Int64, length: Int64) throws(PasshError) -> Int64? {
        guard length > 0, length <= 1 << 20 else { return nil }
        var data = [UInt8](repeating: 0, count: Int(length))
        do {
            _ = try data.withUnsafeMutableBytes { try file.read(fromAbsoluteOffset: offset, into: $0) }
        } catch {
            throw PasshError(.unreadableFile, "Cannot read the archive to copy: \(error)")
        }
        // Records are "LENGTH size=VALUE\n"; a later one wins.
        var size: Int64?
        for record in data.split(separator: 0x0A) {
            guard let space = record.firstIndex(of: 0x20) else { continue }
            let body = record[record.index(after: space)...]
            guard body.starts(with: Array("size=".utf8)) else { continue }
            var value: Int64 = 0
            for byte in body.dropFirst(5) {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), value < Int64.max / 10 - 9 else { break }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            size = value
        }
        return size
    }

    /// A header's size field: octal digits, or base-256 when its first byte has the high bit set.
    static func size(_ field: ArraySlice<UInt8>) -> Int64 {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            var value: Int64 = Int64(first & 0x7F)
            for byte in field.dropFirst() { value = value << 8 | Int64(byte) }
            return value
        }
        var value: Int64 = 0
        var digits = field.drop { $0 == UInt8(ascii: " ") }
        while let byte = digits.first, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") {
            value = value * 8 + Int64(byte - UInt8(ascii: "0"))
            digits = digits.dropFirst()
        }
        return value
    }
}
