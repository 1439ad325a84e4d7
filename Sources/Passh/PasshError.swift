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

    /// What gets past an error: a library option to set. ``PasshError/message`` names it in the
    /// library's terms; a program with options of its own (the `passh` tool's flags) can word it
    /// in its own, after ``PasshError/problem``.
    public enum Remedy: Sendable, Hashable {
        /// Reach the host with the OpenSSH client instead (``OpenSSHTransport``): libssh cannot
        /// do what was asked.
        case openSSHTransport
        /// Skip host-key checking (``LibSSHOptions/insecure``, ``OpenSSHOptions/insecure``).
        case skipHostKeyChecking
    }

    /// The kind of misuse.
    public let code: Code
    /// The problem alone, without the remedy's words.
    public let problem: String
    /// What would get past the error, if an option would.
    public let remedy: Remedy?

    /// A one-line message naming the problem, e.g. `invalid host "-oProxyCommand=x": a host must not
    /// begin with '-'`, and the remedy in the library's terms.
    public var message: String {
        switch remedy {
        case nil: problem
        case .openSSHTransport: problem + " (use OpenSSHTransport)"
        case .skipHostKeyChecking: problem + ": set insecure to skip checking"
        }
    }

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.init(code, message, remedy: nil)
    }

    /// Creates an error whose `problem` an option would get past.
    public init(_ code: Code, _ problem: String, remedy: Remedy?) {
        self.code = code
        self.problem = problem
        self.remedy = remedy
    }

    /// The one-line message.
    public var description: String { message }
}
