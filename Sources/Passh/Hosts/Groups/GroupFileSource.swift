public import SystemPackage

/// The groups of a file: one group a line, `NAME: PATTERN[,PATTERN…]`.
///
/// ```
/// # ~/.config/passh/groups
/// web: web[01-04].example.com
/// db: db1,db2
/// all: @web,@db      # a group may use other groups of the file
/// ```
///
/// A `#` starts a comment; blank lines and spaces around a line are ignored. A name is ASCII
/// letters, digits, `_`, `-`, `.` and `+`, not beginning with `-`; a name given twice, a line without `:` and a group
/// without patterns are refused, naming the file and line (`groups:3: expected "NAME: PATTERNS"`).
/// The patterns are checked when the group is used, their errors naming the line too.
///
/// The file must be owned by the user and writable by no one else: whoever can write it chooses
/// where passh connects.
public struct GroupFileSource: GroupSource {
    private let names: [String]
    private let definitions: [String: GroupDefinition]

    /// Reads and checks the file.
    ///
    /// - Throws: ``PasshError``: ``PasshError/Code/unreadableFile`` for a missing, unreadable or
    ///   not private file; ``PasshError/Code/invalidGroup`` for a bad line.
    public init(contentsOf path: FilePath) throws(PasshError) {
        let bytes = try PrivateFile.read(path)
        var names: [String] = []
        var definitions: [String: (line: Int, definition: GroupDefinition)] = [:]
        for (line, text) in try HostList.hostFileLines(bytes, path: path) {
            let location = "\(path.string):\(line)"
            guard let colon = text.firstIndex(of: ":") else {
                throw PasshError(.invalidGroup, "\(location): expected \"NAME: PATTERNS\"")
            }
            let name = text[..<colon].trimmingBlanks()
            let patterns = text[text.index(after: colon)...].trimmingBlanks()
            guard GroupReference.isValidName(name) else {
                throw PasshError(
                    .invalidGroup,
                    "\(location): invalid group name \(quoted(String(name))): letters, digits, '_', '-', '.' and '+', "
                        + "not beginning with '-'")
            }
            guard !patterns.isEmpty else {
                throw PasshError(.invalidGroup, "\(location): group \(quoted(String(name))) has no hosts")
            }
            if let earlier = definitions[String(name)] {
                throw PasshError(
                    .invalidGroup,
                    "\(location): group \(quoted(String(name))) is already defined at line \(earlier.line)")
            }
            names.append(String(name))
            definitions[String(name)] = (line, GroupDefinition(patterns: [String(patterns)], origin: location))
        }
        self.names = names
        self.definitions = definitions.mapValues(\.definition)
    }

    /// The group names, in the file's order.
    public func groupNames() -> [String] { names }

    /// The group's patterns; their origin is the file and line.
    public func group(named name: String) -> GroupDefinition? { definitions[name] }
}

extension Substring {
    /// Without the spaces and tabs around it.
    func trimmingBlanks() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
