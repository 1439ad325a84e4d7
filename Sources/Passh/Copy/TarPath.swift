/// Member names of a tar archive: how they map to a path under the extraction root, and how they
/// are shown in messages.
enum TarPath {
    enum Problem: Error {
        /// A `..` component: the name would leave the root.
        case parentComponent
        /// A NUL byte (only a pax record can carry one): no file name can hold it.
        case nulByte
    }

    /// The components of `name` relative to the root: leading `/`s are dropped (as GNU tar does),
    /// empty and `.` components are skipped; an empty result names the root itself.
    static func components(_ name: [UInt8]) throws(Problem) -> [[UInt8]] {
        var result: [[UInt8]] = []
        for component in name.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if component.count == 1, component.first == UInt8(ascii: ".") { continue }
            if component.count == 2, component.allSatisfy({ $0 == UInt8(ascii: ".") }) { throw .parentComponent }
            if component.contains(0) { throw .nulByte }
            result.append(Array(component))
        }
        return result
    }

    /// The longest name shown whole in a message; a longer one is cut, marked with `…`.
    static let displayLimit = 1024

    /// `name` for a one-line message: UTF-8 (invalid bytes replaced), control characters and `\`
    /// as `\xHH`, at most ``displayLimit`` bytes of it.
    static func display(_ name: [UInt8]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(name.count, displayLimit) + 3)
        let hex = Array("0123456789abcdef".utf8)
        for byte in name.prefix(displayLimit) {
            if byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "\\") {
                bytes += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            } else {
                bytes.append(byte)
            }
        }
        if name.count > displayLimit { bytes += Array("…".utf8) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
