import PasshTestSupport
import Synchronization
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// Files from memory, for reading configurations without touching the disk.
struct MemoryConfigFiles: SSHConfigFileSystem {
    var files: [String: String]
    var home = "/home/u"
    var userID: UInt32 = 1000
    var modes: [String: UInt32] = [:]

    func read(_ path: String) -> SSHConfigFileRead {
        guard let text = files[path] else { return .missing }
        return .contents(Array(text.utf8), owner: userID, mode: modes[path] ?? 0o644)
    }

    func glob(_ pattern: String) -> [String]? {
        let expanded = pattern.hasPrefix("~/") ? home + pattern.dropFirst() : pattern
        return files.keys.filter { SSHConfigPattern.matches($0, expanded) }.sorted()
    }
}

/// A configuration from one `-F` file's text, and more files by path.
func config(_ text: String, files: [String: String] = [:]) -> SSHConfig {
    var all = files
    all["/cfg"] = text
    return SSHConfig.load(configFile: "/cfg", fileSystem: MemoryConfigFiles(files: all))
}

func resolve(
    _ text: String, host: String, user: String? = nil, options: [String] = [], files: [String: String] = [:],
    localUser: String = "me"
) -> SSHResolvedConfig {
    SSHConfigResolver.resolve(
        config(text, files: files),
        SSHConfigQuery(
            host: host, user: user, port: nil, options: options, localUser: localUser, localHostName: "here",
            userID: 1000))
}

@Suite("ssh_config: lines, patterns and resolution as OpenSSH reads them")
struct SSHConfigResolverTests {
    @Test func linesAreSplitAsOpenSSHSplitsThem() throws {
        let line = try #require(try SSHConfigLine.parse("  IdentityFile = \"/a b/c\" # note", number: 3))
        #expect(line.keyword == "identityfile")
        #expect(line.arguments == ["/a b/c"])
        #expect(try SSHConfigLine.parse("   # comment", number: 1) == nil)
        #expect(try SSHConfigLine.parse("", number: 1) == nil)
        #expect(try SSHConfigLine.parse("User=bob", number: 1)?.arguments == ["bob"])
        #expect(try SSHConfigLine.parse("SendEnv LANG LC_*", number: 1)?.arguments == ["LANG", "LC_*"])
        #expect(try SSHConfigLine.parse("Host a\\ b 'c d'", number: 1)?.arguments == ["a b", "c d"])
        #expect(throws: SSHConfigLine.Problem.noArgument(keyword: "user")) {
            try SSHConfigLine.parse("User", number: 1)
        }
        #expect(throws: SSHConfigLine.Problem.invalidQuotes) { try SSHConfigLine.parse("User \"bob", number: 1) }
    }

    @Test func patternsMatchAsOpenSSHMatchesThem() {
        #expect(SSHConfigPattern.matches("web1", "web*"))
        #expect(SSHConfigPattern.matches("web1", "w?b1"))
        #expect(!SSHConfigPattern.matches("web1", "WEB*"))
        #expect(SSHConfigPattern.matches("a", "*"))
        #expect(SSHConfigPattern.matches("abcabd", "*ab*d"))
        #expect(!SSHConfigPattern.matches("ab", "a?b"))
        #expect(SSHConfigPattern.matchList("web2", "web*,!web2", lowercasingPatterns: false) == .negative)
        #expect(SSHConfigPattern.matchList("web1", "web*,!web2", lowercasingPatterns: false) == .positive)
        #expect(SSHConfigPattern.matchHost("WEB1", "Web*"))
        // No pattern makes it slow: a million bytes against many stars.
        let long = String(repeating: "a", count: 100_000)
        #expect(!SSHConfigPattern.matches(long, String(repeating: "*a", count: 1000) + "b"))
    }

    @Test func theFirstValueWinsAndListsAddUp() {
        let text = """
            Host web*
              User first
              IdentityFile /k1
            Host *
              User second
              IdentityFile /k2
              Port 2222
            """
        let resolved = resolve(text, host: "web1")
        #expect(resolved.user == "first")
        #expect(resolved.port == 2222)
        #expect(resolved.all("identityfile").map { $0.arguments[0] } == ["/k1", "/k2"])
        #expect(resolve(text, host: "db1").user == "second")
        #expect(resolve(text, host: "web1", options: ["User=cmd"]).user == "cmd")
        #expect(resolve(text, host: "web1", user: "dash-l").user == "dash-l")
        #expect(resolve(text, host: "web1", user: "dash-l", options: ["User cmd"]).user == "cmd")
    }

    @Test func aNegatedHostPatternTurnsTheBlockOff() {
        let text = "Host web* !web3\n  User w\n"
        #expect(resolve(text, host: "web1").user == "w")
        #expect(resolve(text, host: "web3").user == "me")
        #expect(resolve("Host !web3 web*\n  User w\n", host: "web3").user == "me")
    }

    @Test func matchHostSeesHostNameAndOriginalHostTheAlias() {
        let text = """
            Host a*
              HostName real-%h.example
            Match host real-*
              User fromhost
            Match originalhost a1
              Port 2200
            """
        let resolved = resolve(text, host: "a1")
        #expect(resolved.hostname == "real-a1.example")
        #expect(resolved.user == "fromhost")
        #expect(resolved.port == 2200)
    }

    @Test func anIncludeRestoresItsLinesStateAndNeverMatchesUnderAnInactiveLine() {
        let text = """
            Host x*
              Include /inc
              User after
            Host other
              Include /inc2
            """
        let files = ["/inc": "Host nomatch\n  Port 3\n", "/inc2": "Host *\n  Port 4\n"]
        let resolved = resolve(text, host: "x1", files: files)
        #expect(resolved.user == "after")
        #expect(resolved.port == 22)
    }

    @Test func whatPasshDoesNotEvaluateIsSaid() {
        #expect(resolve("Match exec true\n  User e\n", host: "h").unevaluated == ["Match exec"])
        #expect(resolve("Match host nope exec true\n  User e\n", host: "h").unevaluated == [])
        #expect(resolve("Match final\n  User e\n", host: "h").unevaluated == ["Match final"])
        #expect(resolve("Match localnetwork 10.0.0.0/8\n  User e\n", host: "h").unevaluated == ["Match localnetwork"])
        #expect(resolve("Host *\n  CanonicalizeHostname yes\n", host: "h").unevaluated == ["CanonicalizeHostname"])
    }

    @Test func whatOpenSSHRefusesIsAProblem() {
        #expect(
            resolve("Host nomatch\n  Bogus yes\n", host: "h").problems == [
                "/cfg: line 2: Bad configuration option: bogus"
            ])
        #expect(resolve("IgnoreUnknown bog*\nBogus yes\n", host: "h").problems == [])
        #expect(resolve("Host nomatch\n  Port abc\n", host: "h").problems == ["/cfg line 2: Bad port 'abc'."])
        // A value's control characters are shown escaped: a problem is one line (found by FuzzSSHConfig).
        #expect(
            resolve("Host nomatch\n  Port a\u{1}b\u{7F}\n", host: "h").problems == [
                #"/cfg line 2: Bad port 'a\u{1}b\u{7f}'."#
            ])
        #expect(resolve("User\n", host: "h").problems == ["/cfg line 1: no argument after keyword \"user\""])
        let missing = SSHConfig.load(configFile: "/nope", fileSystem: MemoryConfigFiles(files: [:]))
        #expect(missing.problems == ["Can't open user config file /nope: No such file or directory"])
        var loose = MemoryConfigFiles(files: ["/home/u/.ssh/config": "User x\n"])
        loose.modes["/home/u/.ssh/config"] = 0o666
        #expect(
            SSHConfig.load(configFile: nil, fileSystem: loose).problems == [
                "Bad owner or permissions on /home/u/.ssh/config"
            ])
        #expect(SSHConfig.load(configFile: "none", fileSystem: loose).files.isEmpty)
    }

    /// Found by the fuzzer (FuzzSSHConfig): a file that includes itself twice was read 2^17 times
    /// (ssh stops at the first Include nested too deep), and distinct files that each include the
    /// next ones several times make OpenSSH's reading exponential without ever nesting too deep.
    @Test func includesAreReadWithinBounds() {
        let itself = ReadCounter(MemoryConfigFiles(files: ["/cfg": "Include /cfg /cfg\nUser after\n"]))
        let loaded = SSHConfig.load(configFile: "/cfg", fileSystem: itself)
        #expect(loaded.problems.count == 1)
        #expect(loaded.problems.first == "/cfg: too many recursive configuration includes")
        #expect(itself.reads == 17)  // depth 0 to 16, then the Include that nests too deep

        // 2^13 reads of 14 distinct files, none nested too deep.
        var files: [String: String] = [:]
        for level in 0..<13 { files["/f\(level)"] = "Include /f\(level + 1) /f\(level + 1)\n" }
        files["/f13"] = "User deep\n"
        let fanOut = ReadCounter(MemoryConfigFiles(files: files))
        let wide = SSHConfig.load(configFile: "/f0", fileSystem: fanOut)
        #expect(wide.problems.count == 1)
        #expect(wide.problems.first == "/f13: more than 4096 files or 64 MiB read through Include; not read further")
        #expect(fanOut.reads == 4097)
        let resolved = SSHConfigResolver.resolve(
            wide,
            SSHConfigQuery(
                host: "h", user: nil, port: nil, options: [], localUser: "me", localHostName: "l", userID: 1000))
        #expect(!resolved.isComplete)
    }

    @Test func theUserAndSystemFilesAreReadInOrderAndRelativeIncludesAnchored() {
        let files = MemoryConfigFiles(files: [
            "/home/u/.ssh/config": "Include conf.d/*\nHost *\n  Port 1\n",
            "/home/u/.ssh/conf.d/b": "User b\n",
            "/home/u/.ssh/conf.d/a": "User a\n",
            "/etc/ssh/ssh_config": "Include ssh_config.d/*.conf\nHost *\n  Port 2\n",
            "/etc/ssh/ssh_config.d/x.conf": "HostKeyAlias sys\n",
        ])
        let loaded = SSHConfig.load(configFile: nil, fileSystem: files)
        let resolved = SSHConfigResolver.resolve(
            loaded,
            SSHConfigQuery(
                host: "h", user: nil, port: nil, options: [], localUser: "me", localHostName: "l", userID: 1000))
        #expect(resolved.user == "a")
        #expect(resolved.port == 1)
        #expect(resolved.string("hostkeyalias") == "sys")
    }

    // MARK: Against OpenSSH itself

    /// Random configurations, each read for several hosts by passh and by `ssh -G`: the same
    /// values for the keywords compared.
    @Test(.enabled(if: access("/usr/bin/ssh", X_OK) == 0, "needs the OpenSSH client"))
    func resolutionAgreesWithSSHDashG() throws {
        var generator = SeededGenerator(seed: 0x5EED_0021)
        let directory = temporaryPath("ssh-g")
        #expect(mkdir(directory, 0o700) == 0)
        defer { _ = shell("rm -rf '\(directory)'") }
        let hosts = ["web1", "web2", "db1", "Web3", "10.0.0.7", "x.example.com"]
        let compared = ["user", "port", "hostname", "hostkeyalias", "serveraliveinterval", "identityfile", "sendenv"]
        var disagreements: [String] = []
        var checked = 0
        for round in 0..<24 {
            let (main, includes) = RandomConfig.make(&generator, directory: directory, round: round)
            for (path, text) in includes { try writeFile(path, Array(text.utf8)) }
            let path = "\(directory)/config-\(round)"
            try writeFile(path, Array(main.utf8))
            let loaded = SSHConfig.load(configFile: path, fileSystem: SystemConfigFileSystem())
            for host in hosts {
                let user: String? = Bool.random(using: &generator) ? nil : "cli"
                let query = SSHConfigQuery(host: host, user: user)
                let mine = SSHConfigResolver.resolve(loaded, query)
                guard mine.isComplete else { continue }
                checked += 1
                let output = shell(
                    "ssh -G -F '\(path)' \(user.map { "-l \($0) " } ?? "")'\(host)' 2>/dev/null"
                ).text
                var theirs: [String: [String]] = [:]
                for line in output.split(separator: "\n") {
                    let parts = line.split(separator: " ", maxSplits: 1)
                    guard parts.count == 2, compared.contains(String(parts[0])) else { continue }
                    theirs[String(parts[0]), default: []].append(String(parts[1]))
                }
                var ours: [String: [String]] = [
                    "user": [mine.user], "port": [String(mine.port)], "hostname": [mine.hostname],
                ]
                if let alias = mine.string("hostkeyalias") { ours["hostkeyalias"] = [alias.lowercased()] }
                if let interval = mine.string("serveraliveinterval") { ours["serveraliveinterval"] = [interval] }
                var identities: [String] = []
                for value in mine.all("identityfile") where !identities.contains(value.arguments[0]) {
                    identities.append(value.arguments[0])
                }
                if !identities.isEmpty { ours["identityfile"] = identities }
                let sent = mine.all("sendenv").flatMap(\.arguments)
                if !sent.isEmpty { ours["sendenv"] = sent }
                if theirs["serveraliveinterval"] == ["0"] { theirs["serveraliveinterval"] = nil }
                if identities.isEmpty { theirs["identityfile"] = nil }
                if ours != theirs {
                    disagreements.append("\(path) \(host) -l \(user ?? "-"): passh \(ours) ssh \(theirs)")
                }
            }
        }
        #expect(disagreements == [])
        #expect(checked > 100)
    }
}

/// Random ssh_config files made of the constructs passh evaluates.
enum RandomConfig {
    static let patterns = [
        "web*", "*", "db?", "!web2", "*.example.com", "WEB*", "w*1", "?eb*", "10.0.0.*", "Web3", "!*.example.com",
    ]
    static let lists = ["web*,!web2", "*", "db*", "real-*", "*.example.com,10.*", "!web1,*", "WEB*"]
    static let users = ["root", "cli", "u1", "u2", "me,cli", "!cli,*"]

    static func make(_ g: inout SeededGenerator, directory: String, round: Int) -> (String, [String: String]) {
        var includes: [String: String] = [:]
        var text = ""
        let blocks = Int.random(in: 2...7, using: &g)
        for block in 0..<blocks {
            text += header(&g) + "\n"
            for _ in 0..<Int.random(in: 1...4, using: &g) {
                text += "  " + option(&g) + "\n"
            }
            if Int.random(in: 0..<5, using: &g) == 0 {
                let path = "\(directory)/inc-\(round)-\(block).conf"
                var included = ""
                for _ in 0..<Int.random(in: 1...3, using: &g) {
                    if Bool.random(using: &g) { included += header(&g) + "\n" }
                    included += "  " + option(&g) + "\n"
                }
                includes[path] = included
                text += "  Include \(directory)/inc-\(round)-\(block).c*f\n"
            }
        }
        return (text, includes)
    }

    static func header(_ g: inout SeededGenerator) -> String {
        if Bool.random(using: &g) {
            let count = Int.random(in: 1...3, using: &g)
            return "Host " + (0..<count).map { _ in patterns.randomElement(using: &g)! }.joined(separator: " ")
        }
        var criteria: [String] = []
        for _ in 0..<Int.random(in: 1...2, using: &g) {
            let negation = Int.random(in: 0..<4, using: &g) == 0 ? "!" : ""
            switch Int.random(in: 0..<5, using: &g) {
            case 0: criteria.append("\(negation)host \(lists.randomElement(using: &g)!)")
            case 1: criteria.append("\(negation)originalhost \(lists.randomElement(using: &g)!)")
            case 2: criteria.append("\(negation)user \(users.randomElement(using: &g)!)")
            case 3: criteria.append("\(negation)localuser \(users.randomElement(using: &g)!)")
            default: return "Match all"
            }
        }
        return "Match " + criteria.joined(separator: " ")
    }

    static func option(_ g: inout SeededGenerator) -> String {
        switch Int.random(in: 0..<7, using: &g) {
        case 0: return "User u\(Int.random(in: 1...3, using: &g))"
        case 1: return "Port \(Int.random(in: 1000...1003, using: &g))"
        case 2:
            return ["HostName real-%h", "HostName 10.0.0.9", "HostName %h.example.com", "HostName Upper"].randomElement(
                using: &g)!
        case 3: return "HostKeyAlias alias\(Int.random(in: 1...3, using: &g))"
        case 4: return "ServerAliveInterval \(Int.random(in: 1...3, using: &g))"
        case 5: return "IdentityFile /k\(Int.random(in: 1...3, using: &g))"
        default: return "SendEnv V\(Int.random(in: 1...3, using: &g)) W*"
        }
    }
}

/// A file system that counts the files read.
final class ReadCounter: SSHConfigFileSystem {
    let files: MemoryConfigFiles
    private let count = Mutex(0)
    var home: String { files.home }
    var userID: UInt32 { files.userID }
    var reads: Int { count.withLock { $0 } }

    init(_ files: MemoryConfigFiles) { self.files = files }

    func read(_ path: String) -> SSHConfigFileRead {
        count.withLock { $0 += 1 }
        return files.read(path)
    }

    func glob(_ pattern: String) -> [String]? { files.glob(pattern) }
}
