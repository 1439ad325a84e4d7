/// One target of a run: a host name as the user wrote it, with an optional user and port.
///
/// The forms accepted are those operators know from pssh and ssh itself:
/// `web1`, `admin@web1`, `web1:2222`, `admin@web1:2222`, `[2001:db8::1]:2222` and a bare
/// IPv6 address (`2001:db8::1`, no port). The user is split off at the last `@`.
///
/// A host is validated when it is made: a name that is empty, contains whitespace or a control
/// character, or begins with `-` is refused, so that no host can ever reach `ssh` as an option
/// (`-oProxyCommand=…`).
///
/// Two hosts are the same when their ``name`` is the same; `web1` and `admin@web1` are different
/// targets.
public struct Host: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The host as written (`admin@web1:2222`); used for output prefixes, results and de-duplication.
    public let name: String
    /// The login user given with the host (`admin` in `admin@web1`), if any.
    public let user: String?
    /// The name or address to connect to (`web1`, `2001:db8::1`), without brackets, user or port.
    public let hostname: String
    /// The port given with the host (`2222` in `web1:2222`), if any.
    public let port: Int?

    /// Parses and validates a host.
    ///
    /// - Parameter spec: `host`, `user@host`, `host:port`, `user@host:port`, `[v6addr]:port` or `v6addr`.
    /// - Throws: ``PasshError`` with code ``PasshError/Code/invalidHost`` naming the problem.
    public init(_ spec: String) throws(PasshError) {
        if Self.isPlainName(spec) {  // the common case, `node0042`: checked in one pass over the bytes
            self.name = spec
            self.user = nil
            self.hostname = spec
            self.port = nil
            return
        }
        try Self.checkToken(spec, what: "host")
        var rest = Substring(spec)
        var user: String?
        if let at = rest.lastIndex(of: "@") {
            let userPart = rest[..<at]
            try Self.checkToken(String(userPart), what: "user", in: spec)
            user = String(userPart)
            rest = rest[rest.index(after: at)...]
        }
        var port: Int?
        let hostname: Substring
        if rest.first == "[" {
            guard let close = rest.firstIndex(of: "]") else {
                throw PasshError(.invalidHost, "invalid host \(quoted(spec)): missing ']' after an IPv6 address")
            }
            hostname = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else {
                    throw PasshError(.invalidHost, "invalid host \(quoted(spec)): expected ':PORT' after ']'")
                }
                port = try Self.parsePort(after.dropFirst(), in: spec)
            }
        } else if let colon = rest.firstIndex(of: ":"), rest[rest.index(after: colon)...].contains(":") == false {
            hostname = rest[..<colon]
            port = try Self.parsePort(rest[rest.index(after: colon)...], in: spec)
        } else {
            hostname = rest  // a plain name, or a bare IPv6 address (more than one ':')
        }
        try Self.checkToken(String(hostname), what: "host name", in: spec)
        self.name = spec
        self.user = user
        self.hostname = String(hostname)
        self.port = port
    }

    /// The host as written.
    public var description: String { name }

    /// Orders hosts by name.
    public static func < (lhs: Host, rhs: Host) -> Bool { lhs.name < rhs.name }

    /// Hosts are equal when their names are.
    public static func == (lhs: Host, rhs: Host) -> Bool { lhs.name == rhs.name }

    /// Hashes the name.
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    /// A non-empty name of printable ASCII without `@`, `:`, `[`, `]` and not beginning with `-`.
    private static func isPlainName(_ spec: String) -> Bool {
        var utf8 = spec.utf8.makeIterator()
        guard let first = utf8.next(), first != UInt8(ascii: "-") else { return false }
        var byte: UInt8? = first
        while let current = byte {
            switch current {
            case 0x21...0x7E
            where current != UInt8(ascii: "@") && current != UInt8(ascii: ":")
                && current != UInt8(ascii: "[") && current != UInt8(ascii: "]"):
                byte = utf8.next()
            default:
                return false
            }
        }
        return true
    }

    private static func parsePort(_ text: Substring, in spec: String) throws(PasshError) -> Int {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(text), (1...65535).contains(port)
        else {
            throw PasshError(.invalidHost, "invalid host \(quoted(spec)): port must be a number from 1 to 65535")
        }
        return port
    }

    /// Refuses the empty string, whitespace, control characters and a leading `-`.
    static func checkToken(_ token: String, what: String, in spec: String? = nil) throws(PasshError) {
        let shown = spec ?? token
        if token.isEmpty {
            throw PasshError(
                .invalidHost, spec == nil ? "empty host name" : "invalid host \(quoted(shown)): empty \(what)")
        }
        if token.hasPrefix("-") {
            throw PasshError(.invalidHost, "invalid host \(quoted(shown)): a \(what) must not begin with '-'")
        }
        if token.unicodeScalars.contains(where: isControlOrSpace) {
            throw PasshError(.invalidHost, "invalid host \(quoted(shown)): whitespace or control character in \(what)")
        }
    }
}

/// Whitespace (any Unicode space) or a C0/C1 control character.
func isControlOrSpace(_ scalar: Unicode.Scalar) -> Bool {
    scalar.properties.isWhitespace || scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
}

/// Quotes a user-supplied string for an error message, escaping control characters. A string
/// longer than `limit` characters is cut there, and its length in bytes follows the quotes
/// (`"node[1-2]…" (250000 bytes)`): an error message stays one readable line.
func quoted(_ text: String, limit: Int = 200) -> String {
    var out = "\""
    var shown = 0
    for scalar in text.unicodeScalars {
        if shown == limit { return out + "…\" (\(text.utf8.count) bytes)" }
        shown += 1
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if isControlOrSpace(scalar) && scalar != " " {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
