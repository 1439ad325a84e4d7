/// OpenSSH's `%` tokens and `${VAR}` in paths (IdentityFile, CertificateFile, UserKnownHostsFile,
/// IdentityAgent…), and `~` at the front: what each stands for, for one host.
struct SSHTokens: Sendable {
    /// `%d`: the local home directory.
    var home: String
    /// `%u`: the local user.
    var localUser: String
    /// `%l`: this machine's name (`%L` its first label).
    var localHostName: String
    /// `%h`: the host name connected to.
    var hostname: String
    /// `%r`: the remote user.
    var remoteUser: String
    /// `%p`: the port.
    var port: Int
    /// `%n`: the host as given.
    var originalHost: String
    /// `%i`: the local user id.
    var userID: UInt32
    /// `%k`: HostKeyAlias, else the host name.
    var hostKeyAlias: String?
    /// `%j`: the ProxyJump hosts, else empty.
    var jumpHost: String
    /// `${VAR}`: the environment.
    var environment: @Sendable (String) -> String?

    /// The tokens of `resolved`'s host.
    init(_ resolved: SSHResolvedConfig, home: String, environment: @escaping @Sendable (String) -> String?) {
        self.home = home
        localUser = resolved.query.localUser
        localHostName = resolved.query.localHostName
        hostname = resolved.hostname
        remoteUser = resolved.user
        port = resolved.port
        originalHost = resolved.query.host
        userID = resolved.query.userID
        hostKeyAlias = resolved.string("hostkeyalias")
        let jump = resolved.string("proxyjump")
        jumpHost = jump == nil || jump?.lowercased() == "none" ? "" : jump!
        self.environment = environment
    }

    /// `value` with `~` (alone or before `/`), the tokens in `allowed` and `${VAR}` expanded;
    /// `nil` when it uses a token OpenSSH would refuse or passh does not expand (`%C`, `~user`,
    /// an unset variable).
    func expand(_ value: String, allowed: Set<Character> = Self.pathTokens, dollars: Bool = true) -> String? {
        // Most values have no token: only `~` to expand, or nothing.
        if !value.utf8.contains(UInt8(ascii: "%")) && !(dollars && value.utf8.contains(UInt8(ascii: "$"))) {
            if value == "~" { return home }
            if value.hasPrefix("~/") { return home + value.dropFirst() }
            if !value.hasPrefix("~") { return value }
        }
        var text = Substring(value)
        var result = ""
        if text == "~" || text.hasPrefix("~/") {
            result = home
            text = text.dropFirst()
        } else if text.hasPrefix("~") {
            return nil
        }
        while let character = text.first {
            text = text.dropFirst()
            if character == "%" {
                guard let token = text.first, allowed.contains(token) || token == "%" else { return nil }
                text = text.dropFirst()
                switch token {
                case "%": result += "%"
                case "d": result += home
                case "u": result += localUser
                case "l": result += localHostName
                case "L": result += localHostName.split(separator: ".").first.map(String.init) ?? localHostName
                case "h": result += hostname
                case "r": result += remoteUser
                case "p": result += String(port)
                case "n": result += originalHost
                case "i": result += String(userID)
                case "k": result += hostKeyAlias ?? hostname
                case "j": result += jumpHost
                default: return nil
                }
            } else if dollars && character == "$" && text.first == "{" {
                guard let close = text.firstIndex(of: "}") else { return nil }
                let name = String(text[text.index(after: text.startIndex)..<close])
                guard !name.isEmpty, let value = environment(name) else { return nil }
                result += value
                text = text[text.index(after: close)...]
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// The tokens OpenSSH expands in paths (`%C`, a hash, is not among those passh expands).
    static let pathTokens: Set<Character> = ["d", "u", "l", "L", "h", "r", "p", "n", "i", "k", "j"]
    /// The tokens of a ProxyCommand.
    static let proxyTokens: Set<Character> = ["h", "n", "p", "r"]
}
