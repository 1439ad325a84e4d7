/// What a native (libssh) session needs to reach one host as `ssh HOST` would, taken from the
/// host's resolved configuration — or the reason it cannot (``make(_:facts:)``): a keyword that
/// applies and that the native session does not do as OpenSSH does.
///
/// The native session is configured with these values alone (libssh's own ssh_config parser is not
/// used: libssh 0.10 reads Host patterns against HostName once one is set, applies `Host a* !a2`
/// to `a2`, never matches `Match originalhost`, and does not restore an Include's state), so that
/// one reading of the configuration — OpenSSH's — decides where, as whom and how passh connects.
struct SSHHostSettings: Sendable, Hashable {
    /// What to do with the server's host key (StrictHostKeyChecking).
    enum HostKeyPolicy: Sendable, Hashable {
        /// `yes`, `ask` (under BatchMode, as strict as `yes`), or unset: the key must be known.
        case strict
        /// `accept-new`: an unknown key is added to known_hosts; a changed key is refused.
        case acceptNew
        /// `no` with known_hosts `/dev/null` (passh's `--insecure`): nothing is checked or kept.
        /// (`no` with a real known_hosts — a changed key let through with a warning, an unknown one
        /// added — is OpenSSH's alone: such a host goes to OpenSSH.)
        case none
    }

    /// How the agent is reached.
    enum Agent: Sendable, Hashable {
        /// `SSH_AUTH_SOCK` (IdentityAgent unset, or `SSH_AUTH_SOCK`).
        case environment
        /// IdentityAgent PATH.
        case socket(String)
        /// IdentityAgent none.
        case none
    }

    var hostname: String
    var port: Int
    var user: String
    /// The identity files, expanded, in order: the configured ones, else OpenSSH's defaults.
    var identityFiles: [String]
    /// IdentitiesOnly: offer only the identity files' keys (from the agent or the files).
    var identitiesOnly: Bool
    var agent: Agent
    /// ProxyCommand, or ProxyJump as the `ssh -W` command OpenSSH would run, tokens expanded.
    var proxyCommand: String?
    /// The first UserKnownHostsFile (where accepted keys are added) and GlobalKnownHostsFile.
    var knownHostsFile: String
    var globalKnownHostsFile: String
    var hostKeyPolicy: HostKeyPolicy
    /// HashKnownHosts: keys are added under a hashed name.
    var hashKnownHosts: Bool
    /// Algorithm lists, by canonical keyword (`kexalgorithms`, `ciphers`, `macs`,
    /// `hostkeyalgorithms`, `pubkeyacceptedalgorithms`).
    var algorithms: [String: String]
    var compression: Bool
    var bindAddress: String?
    /// ConnectTimeout in seconds, if set.
    var connectTimeout: Int?
    /// The environment sent before the command (SendEnv, then SetEnv), as ssh sends it.
    var environment: [EnvironmentVariable]

    /// One variable sent to the host.
    struct EnvironmentVariable: Sendable, Hashable {
        let name: String
        let value: String
    }

    /// What the decision needs to know beyond the configuration.
    struct Facts: Sendable {
        /// The home directory (`~`, `%d`).
        var home: String
        /// The local environment, in order (SendEnv, `${VAR}`).
        var environment: [(name: String, value: String)]
        /// Whether a path exists (identity certificates, known_hosts files).
        var fileExists: @Sendable (String) -> Bool
        /// Whether the user holds Kerberos credentials (asked only when GSSAPI authentication
        /// applies).
        var kerberosCredentials: @Sendable () -> Bool
        /// Whether libssh takes an algorithm list (`kexalgorithms`, value); `nil`: not checked.
        var acceptsAlgorithms: (@Sendable (String, String) -> Bool)?
        /// The ssh program a ProxyJump's command runs (OpenSSH runs itself).
        var sshProgram: String = "ssh"
        /// The `-F` file, passed on to a ProxyJump's ssh as OpenSSH does.
        var configFile: String?
    }

    /// OpenSSH's identity files when none is configured, in its order.
    static let defaultIdentityFiles = [
        "~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ecdsa_sk", "~/.ssh/id_ed25519", "~/.ssh/id_ed25519_sk",
        "~/.ssh/id_xmss", "~/.ssh/id_dsa",
    ]

    /// The settings for `resolved`'s host, or the reason the native transport cannot give
    /// OpenSSH's result there.
    ///
    /// With `checkingKeywords` false (the libssh transport forced), keywords the native session
    /// does not apply are left out instead of giving a reason.
    static func make(
        _ resolved: SSHResolvedConfig, facts: Facts, checkingKeywords: Bool = true
    ) -> Result<SSHHostSettings, Reason> {
        if let problem = resolved.problems.first { return .failure(Reason(problem)) }
        if let construct = resolved.unevaluated.first { return .failure(Reason(construct)) }
        if checkingKeywords, let reason = routingKeyword(resolved, facts: facts) { return .failure(reason) }
        let environment: @Sendable (String) -> String? = { [pairs = facts.environment] name in
            pairs.last { $0.name == name }?.value
        }
        let tokens = SSHTokens(resolved, home: facts.home, environment: environment)
        func path(_ value: String, _ keyword: String) -> Result<String, Reason> {
            tokens.expand(value).map { .success($0) } ?? .failure(Reason("\(keyword) \(value)"))
        }

        var identities: [String] = []
        let configured = resolved.all("identityfile").compactMap(\.arguments.first)
        for value in configured.isEmpty ? defaultIdentityFiles : configured {
            switch path(value, "IdentityFile") {
            case .success(let file): if !identities.contains(file) { identities.append(file) }
            case .failure(let reason): return .failure(reason)
            }
        }
        // ssh also offers FILE-cert.pub, a certificate, beside each identity file.
        if checkingKeywords, let certified = identities.first(where: { facts.fileExists($0 + "-cert.pub") }) {
            return .failure(Reason("IdentityFile \(certified) with a certificate"))
        }

        var agent = Agent.environment
        if let value = resolved.string("identityagent") {
            if value.lowercased() == "none" {
                agent = .none
            } else if value != "SSH_AUTH_SOCK" {
                let expanded: String?
                if value.hasPrefix("$"), !value.hasPrefix("${") {
                    expanded = environment(String(value.dropFirst()))
                } else {
                    expanded = tokens.expand(value)
                }
                guard let expanded else { return .failure(Reason("IdentityAgent \(value)")) }
                agent = .socket(expanded)
            }
        }

        var proxyCommand: String?
        if let jump = resolved.first("proxyjump"), let hops = jump.arguments.first, hops.lowercased() != "none" {
            guard let command = proxyJumpCommand(hops, resolved: resolved, facts: facts) else {
                return .failure(Reason("ProxyJump \(hops)"))
            }
            proxyCommand = command
        } else if let command = resolved.first("proxycommand")?.rest, command.lowercased() != "none" {
            if command == "-" { return .failure(Reason("ProxyCommand -")) }
            guard let expanded = tokens.expand(command, allowed: SSHTokens.proxyTokens, dollars: false) else {
                return .failure(Reason("ProxyCommand \(command)"))
            }
            proxyCommand = expanded
        }

        var knownHosts: [String] = []
        var globalKnownHosts: [String] = []
        for (keyword, defaults) in [
            ("userknownhostsfile", ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"]),
            ("globalknownhostsfile", ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"]),
        ] {
            let values = resolved.first(keyword)?.arguments ?? defaults
            var files: [String] = []
            for value in values {
                switch path(value, keyword == "userknownhostsfile" ? "UserKnownHostsFile" : "GlobalKnownHostsFile") {
                case .success(let file): files.append(file)
                case .failure(let reason): return .failure(reason)
                }
            }
            // libssh reads one file of each kind: a later one that exists could hold the key.
            if checkingKeywords, files.count > 1,
                let other = files.dropFirst().first(where: { $0 != "/dev/null" && facts.fileExists($0) })
            {
                let name = keyword == "userknownhostsfile" ? "UserKnownHostsFile" : "GlobalKnownHostsFile"
                return .failure(Reason("\(name) \(other)"))
            }
            if keyword == "userknownhostsfile" { knownHosts = files } else { globalKnownHosts = files }
        }

        var policy = HostKeyPolicy.strict
        switch resolved.string("stricthostkeychecking")?.lowercased() {
        case "accept-new": policy = .acceptNew
        case "no", "off", "false":
            if knownHosts.first == "/dev/null" {
                policy = .none
            } else if checkingKeywords {
                return .failure(Reason("StrictHostKeyChecking no"))
            }
        default: break
        }

        var algorithms: [String: String] = [:]
        for keyword in ["kexalgorithms", "ciphers", "macs", "hostkeyalgorithms", "pubkeyacceptedalgorithms"] {
            guard let value = resolved.string(keyword) else { continue }
            if checkingKeywords, let accepts = facts.acceptsAlgorithms, !accepts(keyword, value) {
                return .failure(Reason("\(Reason.camelCase[keyword] ?? keyword) \(value)"))
            }
            algorithms[keyword] = value
        }

        var timeout: Int?
        if let value = resolved.string("connecttimeout"), value.lowercased() != "none" {
            guard let seconds = Int(value), seconds > 0 else { return .failure(Reason("ConnectTimeout \(value)")) }
            timeout = seconds
        }

        return .success(
            SSHHostSettings(
                hostname: resolved.hostname, port: resolved.port, user: resolved.user, identityFiles: identities,
                identitiesOnly: resolved.flag("identitiesonly") ?? false, agent: agent, proxyCommand: proxyCommand,
                knownHostsFile: knownHosts.first ?? "/dev/null",
                globalKnownHostsFile: globalKnownHosts.first ?? "/dev/null",
                hostKeyPolicy: policy, hashKnownHosts: resolved.flag("hashknownhosts") ?? false,
                algorithms: algorithms, compression: resolved.flag("compression") ?? false,
                bindAddress: resolved.string("bindaddress"), connectTimeout: timeout,
                environment: sentEnvironment(resolved, facts: facts)))
    }

    /// Why a host goes to OpenSSH: a short text naming the keyword (`CertificateFile`).
    struct Reason: Error, Sendable, Hashable {
        let text: String
        /// `text` on one line: a reason quotes the file's bytes, control characters escaped.
        init(_ text: String) { self.text = SSHConfig.oneLine(text) }

        /// ssh_config's spelling of the keywords passh names.
        static let camelCase: [String: String] = [
            "kexalgorithms": "KexAlgorithms", "ciphers": "Ciphers", "macs": "MACs",
            "hostkeyalgorithms": "HostKeyAlgorithms", "pubkeyacceptedalgorithms": "PubkeyAcceptedAlgorithms",
        ]
    }

    /// The first keyword that applies to the host and that the native transport does not do as
    /// OpenSSH does, in the order below.
    static func routingKeyword(_ resolved: SSHResolvedConfig, facts: Facts) -> Reason? {
        func value(_ keyword: String) -> String? { resolved.string(keyword)?.lowercased() }
        func isOn(_ keyword: String) -> Bool { value(keyword).map { $0 != "no" && $0 != "false" } ?? false }
        func isSet(_ keyword: String) -> Bool { value(keyword).map { $0 != "none" } ?? false }
        if !resolved.all("certificatefile").isEmpty { return Reason("CertificateFile") }
        if isSet("pkcs11provider") { return Reason("PKCS11Provider") }
        if let provider = value("securitykeyprovider"), provider != "internal" { return Reason("SecurityKeyProvider") }
        if resolved.first("hostkeyalias") != nil { return Reason("HostKeyAlias") }
        if isOn("controlmaster") { return Reason("ControlMaster") }
        if isSet("controlpath") { return Reason("ControlPath") }
        if isOn("forwardagent") { return Reason("ForwardAgent") }
        if resolved.flag("forwardx11") == true { return Reason("ForwardX11") }
        if resolved.flag("batchmode") == false { return Reason("BatchMode no") }
        if resolved.flag("pubkeyauthentication") == false { return Reason("PubkeyAuthentication no") }
        if let methods = value("preferredauthentications"),
            !methods.split(separator: ",").contains("publickey")
        {
            return Reason("PreferredAuthentications \(methods)")
        }
        if resolved.flag("hostbasedauthentication") == true { return Reason("HostbasedAuthentication") }
        for keyword in ["gssapiauthentication", "gssapikeyexchange"] where resolved.flag(keyword) == true {
            if facts.kerberosCredentials() {
                return Reason(keyword == "gssapiauthentication" ? "GSSAPIAuthentication" : "GSSAPIKeyExchange")
            }
        }
        if resolved.flag("checkhostip") == true { return Reason("CheckHostIP") }
        if let family = value("addressfamily"), family != "any" { return Reason("AddressFamily \(family)") }
        if let attempts = value("connectionattempts"), attempts != "1" { return Reason("ConnectionAttempts") }
        if let interval = value("serveraliveinterval"), interval != "0" { return Reason("ServerAliveInterval") }
        if resolved.flag("clearallforwardings") != true {
            for (keyword, name) in [
                ("localforward", "LocalForward"), ("remoteforward", "RemoteForward"),
                ("dynamicforward", "DynamicForward"),
            ] where !resolved.all(keyword).isEmpty {
                return Reason(name)
            }
        }
        if isOn("tunnel") { return Reason("Tunnel") }
        if isSet("remotecommand") { return Reason("RemoteCommand") }
        if resolved.flag("permitlocalcommand") == true && isSet("localcommand") { return Reason("LocalCommand") }
        if resolved.flag("proxyusefdpass") == true { return Reason("ProxyUseFdpass") }
        if isOn("verifyhostkeydns") { return Reason("VerifyHostKeyDNS") }
        if resolved.flag("nohostauthenticationforlocalhost") == true {
            return Reason("NoHostAuthenticationForLocalhost")
        }
        if isSet("revokedhostkeys") { return Reason("RevokedHostKeys") }
        if isSet("knownhostscommand") { return Reason("KnownHostsCommand") }
        if isOn("addkeystoagent") { return Reason("AddKeysToAgent") }
        if resolved.flag("stdinnull") == true { return Reason("StdinNull") }
        if resolved.flag("forkafterauthentication") == true { return Reason("ForkAfterAuthentication") }
        if let type = value("sessiontype"), type != "default" { return Reason("SessionType \(type)") }
        if resolved.first("requiredrsasize") != nil { return Reason("RequiredRSASize") }
        if resolved.first("bindinterface") != nil { return Reason("BindInterface") }
        if let policy = value("stricthostkeychecking"),
            !["yes", "true", "ask", "accept-new", "no", "off", "false"].contains(policy)
        {
            return Reason("StrictHostKeyChecking \(policy)")
        }
        return nil
    }

    /// The ProxyCommand OpenSSH 9 builds for `ProxyJump hops` (`ssh -l USER -p PORT -J EARLIER
    /// -F CONFIG -W '[%h]:%p' LAST`), with `%h` and `%p` expanded; `nil` for hops it would refuse.
    static func proxyJumpCommand(_ hops: String, resolved: SSHResolvedConfig, facts: Facts) -> String? {
        let list = hops.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let last = list.last, !list.contains(where: \.isEmpty) else { return nil }
        var target = Substring(last)
        if target.hasPrefix("ssh://") { target = target.dropFirst(6) }
        var user: String?
        if let at = target.lastIndex(of: "@") {
            user = String(target[..<at])
            target = target[target.index(after: at)...]
        }
        var host = String(target)
        var port: String?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            if rest.hasPrefix(":") { port = String(rest.dropFirst()) } else if !rest.isEmpty { return nil }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            port = String(host[host.index(after: colon)...])
            host = String(host[..<colon])
        }
        if let port, SSHResolvedConfig.port(port) == nil { return nil }
        guard !host.isEmpty, host.allSatisfy({ !$0.isWhitespace && $0 != "'" && $0 != "\"" && $0 != "%" }),
            user?.allSatisfy({ !$0.isWhitespace && $0 != "'" && $0 != "%" }) ?? true,
            list.dropLast().allSatisfy({ $0.allSatisfy { !$0.isWhitespace && $0 != "'" && $0 != "%" } })
        else { return nil }
        if host == resolved.hostname && Int(port ?? "22") == resolved.port && (user ?? resolved.user) == resolved.user {
            return nil  // "jumphost loop"
        }
        var command = facts.sshProgram
        if let user { command += " -l \(user)" }
        if let port { command += " -p \(port)" }
        if list.count > 1 { command += " -J " + list.dropLast().joined(separator: ",") }
        if let file = facts.configFile { command += " -F \(file)" }
        return command + " -W '[\(resolved.hostname)]:\(resolved.port)' \(host)"
    }

    /// SendEnv's matching variables (a `-PATTERN` removing earlier patterns), in the
    /// environment's order, then the first SetEnv line's.
    static func sentEnvironment(_ resolved: SSHResolvedConfig, facts: Facts) -> [EnvironmentVariable] {
        var patterns: [String] = []
        for value in resolved.all("sendenv") {
            for pattern in value.arguments {
                if pattern.hasPrefix("-") {
                    let removal = String(pattern.dropFirst())
                    patterns.removeAll { SSHConfigPattern.matches($0, removal) }
                } else {
                    patterns.append(pattern)
                }
            }
        }
        var sent: [EnvironmentVariable] = []
        if !patterns.isEmpty {
            let compiled = patterns.map { Array($0.utf8)[...] }
            for (name, value) in facts.environment {
                let bytes = Array(name.utf8)[...]
                if compiled.contains(where: { SSHConfigPattern.matches(bytes, $0) }) {
                    sent.append(EnvironmentVariable(name: name, value: value))
                }
            }
        }
        var names: Set<String> = []
        for assignment in resolved.first("setenv")?.arguments ?? [] {
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            let name = String(assignment[..<equals])
            guard names.insert(name).inserted else { continue }
            sent.append(EnvironmentVariable(name: name, value: String(assignment[assignment.index(after: equals)...])))
        }
        return sent
    }
}
