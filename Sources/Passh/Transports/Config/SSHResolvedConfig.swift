#if canImport(Glibc)
import Glibc
#endif

/// What ssh_config says for one host, as OpenSSH reads it: every keyword that applies, with the
/// value of each line that set it, in the order read (the first counts, except for the keywords
/// OpenSSH adds up, such as IdentityFile), and what stands in the way of knowing it.
struct SSHResolvedConfig: Sendable, Equatable {
    /// One line that applies.
    struct Value: Sendable, Equatable {
        /// The arguments, unquoted.
        let arguments: [String]
        /// The text after the keyword (for commands).
        let rest: String
        /// The file (`command line` for `-o`) and line.
        let origin: String
        let line: Int
    }

    /// The host as given.
    let query: SSHConfigQuery
    /// The values by canonical keyword.
    var values: [String: [Value]] = [:]
    /// What makes OpenSSH refuse the configuration for this host: one line each (a value's control
    /// characters, a carriage return among them, shown escaped).
    var problems: [String] = [] {
        didSet { problems = problems.map(SSHConfig.oneLine) }
    }
    /// What passh does not evaluate (`Match exec` …): the host's configuration cannot be known
    /// without it. Each is a short reason (`Match exec`).
    var unevaluated: [String] = []

    /// The first value of `keyword` (canonical, lowercase), if any line applied.
    func first(_ keyword: String) -> Value? { values[keyword]?.first }

    /// Every value of `keyword`, in order.
    func all(_ keyword: String) -> [Value] { values[keyword] ?? [] }

    /// The first argument of `keyword`'s first line.
    func string(_ keyword: String) -> String? { first(keyword)?.arguments.first }

    /// Whether the configuration is known completely: no problem, nothing unevaluated.
    var isComplete: Bool { problems.isEmpty && unevaluated.isEmpty }

    /// The host name to connect to: HostName with `%h` (and `%%`) expanded, else the host;
    /// an address in its canonical form (`127.1` is `127.0.0.1`), anything else lowercased, as ssh
    /// does (known_hosts names the host so).
    var hostname: String {
        var name = query.host
        if let configured = string("hostname") {
            name = Self.expandHostName(configured, host: query.host)
        }
        return Self.numericAddress(name) ?? SSHConfigPattern.lowercasedASCII(name)
    }

    /// `name` in its canonical numeric form when it is an IP address (`getaddrinfo` with
    /// `AI_NUMERICHOST`, then `getnameinfo`: no name service is asked), else `nil`.
    static func numericAddress(_ name: String) -> String? {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard
            getnameinfo(
                first.pointee.ai_addr, first.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0,
                NI_NUMERICHOST) == 0
        else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The port: the first Port, else 22.
    var port: Int { string("port").flatMap(Self.port) ?? 22 }

    /// The remote user: the first User, else the local user.
    var user: String { string("user") ?? query.localUser }

    /// A yes/no value as OpenSSH's flag keywords read it (`yes`, `true`, `no`, `false`); `nil`
    /// when the keyword is unset, or set to something else.
    func flag(_ keyword: String) -> Bool? {
        guard let value = string(keyword)?.lowercased() else { return nil }
        switch value {
        case "yes", "true": return true
        case "no", "false": return false
        default: return nil
        }
    }

    /// `%h` and `%%` expanded, as HostName is (also by `Match host`).
    static func expandHostName(_ value: String, host: String) -> String {
        var result = ""
        var escape = false
        for character in value {
            if escape {
                switch character {
                case "h": result += host
                case "%": result += "%"
                default: result += "%" + String(character)
                }
                escape = false
            } else if character == "%" {
                escape = true
            } else {
                result.append(character)
            }
        }
        if escape { result += "%" }
        return result
    }

    /// OpenSSH's `a2port`: 1 to 65535.
    static func port(_ text: String) -> Int? {
        guard !text.isEmpty, text.allSatisfy(\.isASCII), let value = Int(text), (1...65535).contains(value) else {
            return nil
        }
        return value
    }
}
