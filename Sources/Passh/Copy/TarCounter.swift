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
        var header = [UInt8](repeating: 0, count: 512)
        while true {
            let count: Int
            do {
                count = try header.withUnsafeMutableBytes { try file.read(fromAbsoluteOffset: offset, into: $0) }
            } catch {
                throw PasshError(.unreadableFile, "Cannot read the archive to copy: \(error)")
            }
            guard count == 512, header.contains(where: { $0 != 0 }) else { break }
            let size = Self.size(header[124..<136])
            let type = header[156]
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
