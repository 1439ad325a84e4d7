/// A misuse of passh, found before any `ssh` starts: a bad host, an unreadable input file.
///
/// What goes wrong on a host while it runs (a refused connection, a non-zero exit, a timeout) is
/// not an error but a ``HostResult``.
public struct PasshError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of misuse this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String
        /// A host name that is empty, has whitespace or control characters, or begins with `-`.
        public static let invalidHost = Code(rawValue: "invalid host")
        /// A host pattern that cannot be expanded (`node[5-1]`, `node[1-`, too many hosts).
        public static let invalidPattern = Code(rawValue: "invalid host pattern")
        /// A host group that cannot be resolved: an unknown group or source, a group that includes
        /// itself, a bad line in a groups file, a source command that failed.
        public static let invalidGroup = Code(rawValue: "invalid group")
        /// A file passh was asked to read (stdin file, host file) is missing or unreadable.
        public static let unreadableFile = Code(rawValue: "unreadable file")
        /// An option value out of range.
        public static let invalidOption = Code(rawValue: "invalid option")
        /// Input passh was asked to decode is malformed (a JSON Lines stream; see ``JSONLinesDecoder``).
        public static let invalidInput = Code(rawValue: "invalid input")
        /// The calling task was cancelled before the work was done (a group source's command was
        /// stopped).
        public static let cancelled = Code(rawValue: "cancelled")
        /// The code as text, e.g. `invalid host`.
        public var description: String { rawValue }
    }

    /// The kind of misuse.
    public let code: Code
    /// A one-line message naming the problem, e.g. `invalid host "-oProxyCommand=x": a host must not begin with '-'`.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The one-line message.
    public var description: String { message }
}
