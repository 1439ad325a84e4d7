/// A group named in a pattern: `@web` (the default source) or `@slurm:batch`.
struct GroupReference: Hashable, Sendable {
    /// The source's name.
    var source: String
    /// The group's name.
    var name: String

    /// Parses `@NAME` or `@SOURCE:NAME`; `NAME` alone names a group of `defaultSource`.
    init(parsing item: Substring, defaultSource: String) throws(PasshError) {
        var rest = item.dropFirst()  // the `@`
        var source = defaultSource
        if let colon = rest.firstIndex(of: ":") {
            source = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
            guard Self.isValidSourceName(source) else {
                throw PasshError(
                    .invalidGroup,
                    "invalid group \(quoted(String(item))): a source name is letters, digits, '_' and '-', "
                        + "not beginning with '-'")
            }
        }
        guard Self.isValidName(rest) else {
            throw PasshError(
                .invalidGroup,
                "invalid group \(quoted(String(item))): a group name is letters, digits, '_', '-', '.' and '+', "
                    + "not beginning with '-'")
        }
        self.source = source
        self.name = String(rest)
    }

    init(source: String, name: String) {
        self.source = source
        self.name = name
    }

    /// `@NAME` for a group of `defaultSource`, else `@SOURCE:NAME`.
    func written(defaultSource: String) -> String {
        source == defaultSource ? "@\(name)" : "@\(source):\(name)"
    }

    /// A group name: at least one ASCII letter, digit, `_`, `-`, `.` or `+`, not beginning with `-`
    /// (it reaches source commands as `$GROUP`, which `ansible "$GROUP"` would read as an option).
    static func isValidName(_ name: some StringProtocol) -> Bool {
        !name.isEmpty && name.first != "-"
            && name.utf8.allSatisfy { isNameByte($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "+") }
    }

    /// A source name: at least one ASCII letter, digit, `_` or `-`, not beginning with `-`.
    static func isValidSourceName(_ name: some StringProtocol) -> Bool {
        !name.isEmpty && name.first != "-" && name.utf8.allSatisfy(isNameByte)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
