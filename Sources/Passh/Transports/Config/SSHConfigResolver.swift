/// Reads an ``SSHConfig`` for one host as OpenSSH 9's `readconf.c` does (its first pass): the
/// `-o` options, then each file in order; `Host` patterns against the host as given (a `!`
/// pattern that matches turns the block off), `Match` criteria (`all`, `host` — against HostName
/// as set so far —, `originalhost`, `user` — the User set so far, else the local user —,
/// `localuser`, each negatable), Includes in place (a file starts in its Include line's state,
/// which is restored after it; under a line that does not apply, its blocks never apply), the
/// first value of each keyword kept.
///
/// What passh does not evaluate is recorded in ``SSHResolvedConfig/unevaluated`` instead: `Match
/// exec` (it would run a command), `Match canonical` / `final` and `CanonicalizeHostname` (a second
/// pass after DNS canonicalisation), and Match criteria of later OpenSSH releases.
struct SSHConfigResolver {
    private let config: SSHConfig
    private var result: SSHResolvedConfig
    /// IgnoreUnknown's pattern list, once set.
    private var ignoredUnknown: String?
    /// A `Match final` was met: OpenSSH reads everything again.
    private var wantsFinalPass = false
    /// The host as given, as bytes (Host patterns are matched against it).
    private let hostBytes: ArraySlice<UInt8>

    /// The configuration for `query`'s host; `options`, when given, are `query.options` already
    /// split (``commandLine(_:)``: a chooser splits them once for every host).
    static func resolve(
        _ config: SSHConfig, _ query: SSHConfigQuery, options: [(SSHConfigLine?, problem: String?)]? = nil
    ) -> SSHResolvedConfig {
        var resolver = SSHConfigResolver(config: config, result: SSHResolvedConfig(query: query))
        resolver.result.problems = config.problems
        resolver.run(options ?? commandLine(query.options))
        return resolver.result
    }

    /// The `-o` options, split as lines (or what is wrong with each).
    static func commandLine(_ options: [String]) -> [(SSHConfigLine?, problem: String?)] {
        options.enumerated().map { index, option in
            do throws(SSHConfigLine.Problem) {
                return (try SSHConfigLine.parse(Substring(option), number: index + 1), nil)
            } catch {
                return (nil, "command-line line \(index + 1): bad option \(option)")
            }
        }
    }

    private init(config: SSHConfig, result: SSHResolvedConfig) {
        self.config = config
        self.result = result
        self.hostBytes = Array(result.query.host.utf8)[...]
    }

    private mutating func run(_ options: [(SSHConfigLine?, problem: String?)]) {
        let query = result.query
        for (line, problem) in options {
            if let problem { result.problems.append(problem) }
            guard let line else { continue }
            let keyword = SSHConfigKeywords.canonical(line.keyword)
            if keyword == "host" || keyword == "match" || keyword == "include" {
                result.problems.append("\(line.keyword) directive not supported as a command-line option")
                continue
            }
            apply(
                line, keyword: keyword, check: SSHConfig.OptionCheck(line, keyword: keyword), origin: "command line",
                active: true)
        }
        // ssh's -l and -p: after the -o options, which therefore win.
        if let user = query.user, result.first("user") == nil {
            result.values["user"] = [SSHResolvedConfig.Value(arguments: [user], rest: user, origin: "-l", line: 0)]
        }
        if let port = query.port, result.first("port") == nil {
            let text = String(port)
            result.values["port"] = [SSHResolvedConfig.Value(arguments: [text], rest: text, origin: "-p", line: 0)]
        }
        for file in config.files {
            var active = true
            walk(file, active: &active, neverMatch: false)
        }
        if wantsFinalPass { result.unevaluated.append("Match final") }
        if let canonicalize = result.string("canonicalizehostname")?.lowercased(),
            canonicalize != "no" && canonicalize != "false"
        {
            result.unevaluated.append("CanonicalizeHostname")
        }
    }

    private mutating func walk(_ file: SSHConfig.File, active: inout Bool, neverMatch: Bool) {
        for item in file.items {
            switch item {
            case .include(_, let files):
                let wasActive = active
                for included in files {
                    walk(included, active: &active, neverMatch: neverMatch || !wasActive)
                    active = wasActive
                }
            case .host(let line, let patterns):
                active = hostMatches(line, patterns, neverMatch: neverMatch, in: file.path)
            case .match(let line, let words):
                let matched = matchMatches(line, words, in: file.path)
                active = neverMatch ? false : matched
            case .option(let line, let keyword, let check):
                apply(line, keyword: keyword, check: check, origin: file.path, active: active)
            }
        }
    }

    /// A Host line: on when a pattern matches the host as given and no `!` pattern does.
    private mutating func hostMatches(
        _ line: SSHConfigLine, _ patterns: [SSHConfig.HostPattern], neverMatch: Bool, in path: String
    ) -> Bool {
        var active = false
        for pattern in patterns {
            if pattern.isEmpty {
                result.problems.append("\(path) line \(line.number): keyword host empty argument")
                return false
            }
            if neverMatch { return false }
            if SSHConfigPattern.matches(hostBytes, pattern.bytes[...]) {
                if pattern.negated { return false }
                active = true
            }
        }
        return active
    }

    /// A Match line's criteria (its words), all of which must hold.
    private mutating func matchMatches(_ line: SSHConfigLine, _ words: [String], in path: String) -> Bool {
        let query = result.query
        let host =
            result.first("hostname").map {
                SSHResolvedConfig.expandHostName($0.arguments.first ?? "", host: query.host)
            } ?? query.host
        let remoteUser = result.string("user") ?? query.localUser
        var index = 0
        func next() -> String? {
            defer { index += 1 }
            return index < words.count ? words[index] : nil
        }
        var matched = true
        var attributes = 0
        func bad(_ message: String) -> Bool {
            result.problems.append("\(path) line \(line.number): \(message)")
            return false
        }
        while let token = next() {
            if token.hasPrefix("#") { break }
            let negated = token.hasPrefix("!")
            let attribute = (negated ? String(token.dropFirst()) : token).lowercased()
            if attribute == "all" {
                if attributes > 1 { return bad("'\(token)' cannot be combined with other Match attributes") }
                if let following = next(), !following.hasPrefix("#") {
                    return bad("'\(token)' cannot be combined with other Match attributes")
                }
                return matched && !negated
            }
            attributes += 1
            if attribute == "canonical" || attribute == "final" {
                if attribute == "final" && !negated { wantsFinalPass = true }
                // First pass: neither holds.
                if !negated { matched = false }
                continue
            }
            guard let argument = next(), !argument.hasPrefix("#") else {
                return bad("Missing Match criteria for \(attribute)")
            }
            let holds: Bool
            switch attribute {
            case "host":
                holds = SSHConfigPattern.matchHost(host, argument)
            case "originalhost":
                holds = SSHConfigPattern.matchHost(query.host, argument)
            case "user":
                holds = SSHConfigPattern.matchList(remoteUser, argument, lowercasingPatterns: false) == .positive
            case "localuser":
                holds = SSHConfigPattern.matchList(query.localUser, argument, lowercasingPatterns: false) == .positive
            case "exec":
                // Run only when the criteria before it held.
                if matched { result.unevaluated.append("Match exec") }
                matched = false
                continue
            default:
                // localnetwork, tagged, command, version, sessiontype…: later OpenSSH releases.
                result.unevaluated.append("Match \(attribute)")
                matched = false
                continue
            }
            if holds == negated { matched = false }
        }
        if attributes == 0 { return bad("Bad Match condition") }
        return matched
    }

    /// Records an option line, checking what OpenSSH checks on every line, active or not.
    private mutating func apply(
        _ line: SSHConfigLine, keyword: String, check: SSHConfig.OptionCheck, origin: String, active: Bool
    ) {
        switch check {
        case .fine:
            break
        case .unknown:
            if let ignoredUnknown,
                SSHConfigPattern.matchList(line.keyword, ignoredUnknown, lowercasingPatterns: true) == .positive
            {
                return
            }
            result.problems.append("\(origin): line \(line.number): Bad configuration option: \(line.keyword)")
            return
        case .badPort(let value):
            result.problems.append("\(origin) line \(line.number): Bad port '\(value)'.")
            return
        }
        guard active else { return }
        if keyword == "ignoreunknown" {
            if ignoredUnknown == nil { ignoredUnknown = line.arguments.first }
            return
        }
        let value = SSHResolvedConfig.Value(
            arguments: line.arguments, rest: line.rest, origin: origin, line: line.number)
        // ProxyCommand and ProxyJump share one slot: whichever comes first.
        if keyword == "proxycommand" && result.first("proxyjump") != nil { return }
        if keyword == "proxyjump" && result.first("proxycommand") != nil { return }
        result.values[keyword, default: []].append(value)
    }
}
