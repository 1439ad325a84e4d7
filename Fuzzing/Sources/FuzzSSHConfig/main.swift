import CLibFuzzer

@testable import Passh

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The ssh_config reader of the auto transport (`SSHConfig`, `SSHConfigResolver`,
// `SSHHostSettings`; internal: the fuzz build enables testing), a pure function of the files'
// bytes. The input is a selector byte (bit 0: the files ssh reads by default, `~/.ssh/config`
// then `/etc/ssh/ssh_config`, else `-F /cfg`; bit 1: the first file is writable by others) and
// the first file; a line `#==> PATH` starts another file (a relative PATH is under ~/.ssh/), so
// that Includes find files. On every input, for each of a few hosts:
// - reading and resolving again gives the same result (nothing but the bytes counts);
// - every problem and every reason to use OpenSSH is one line;
// - `-o User=…`, `-o Port=…`, `-o HostName=…` win over anything the files say (they come first);
// - the native transport is chosen only when the configuration is known completely (no problem,
//   nothing unevaluated), and then with the resolved host name, port and user — where `ssh HOST`
//   would connect, as whom.

/// Files from the input, in memory.
struct FuzzFiles: SSHConfigFileSystem {
    var files: [String: [UInt8]]
    var looseFirst: Bool
    var first: String
    let home = "/home/u"
    let userID: UInt32 = 1000

    func read(_ path: String) -> SSHConfigFileRead {
        guard let bytes = files[path] else { return .missing }
        return .contents(bytes, owner: userID, mode: looseFirst && path == first ? 0o666 : 0o644)
    }

    func glob(_ pattern: String) -> [String]? {
        let expanded = pattern.hasPrefix("~/") ? home + pattern.dropFirst() : pattern
        if expanded.hasPrefix("~") { return nil }
        return files.keys.filter { SSHConfigPattern.matches($0, expanded) }.sorted()
    }
}

private let hosts = ["web1", "db1.example.com", "10.0.0.1", "A"]
private let marker = Array("#==> ".utf8)

func files(_ input: ArraySlice<UInt8>, first: String) -> [String: [UInt8]] {
    var files: [String: [UInt8]] = [:]
    var path = first
    var current: [UInt8] = []
    for line in input.split(separator: 0x0A, omittingEmptySubsequences: false) {
        if line.starts(with: marker) {
            files[path, default: []] += current
            let name = String(decoding: line.dropFirst(marker.count), as: UTF8.self)
            path = name.hasPrefix("/") ? name : "/home/u/.ssh/" + name
            current = []
        } else {
            current += line + [0x0A]
        }
    }
    files[path, default: []] += current
    return files
}

func isOneLine(_ text: String) -> Bool { !text.contains("\n") && !text.contains("\r") }

func fuzzSSHConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 1 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let byDefault = input[0] & 1 != 0
    let first = byDefault ? "/home/u/.ssh/config" : "/cfg"
    let fileSystem = FuzzFiles(
        files: files(input.dropFirst(), first: first), looseFirst: input[0] & 2 != 0, first: first)
    let configFile = byDefault ? nil : "/cfg"

    let config = SSHConfig.load(configFile: configFile, fileSystem: fileSystem)
    let again = SSHConfig.load(configFile: configFile, fileSystem: fileSystem)
    guard config.problems == again.problems else { fatalError("the same files read twice, other problems") }
    for problem in config.problems where !isOneLine(problem) { fatalError("a problem of several lines: \(problem)") }

    let facts = SSHHostSettings.Facts(
        home: "/home/u", environment: [("LANG", "C"), ("LC_ALL", "C.UTF-8"), ("HOME", "/home/u")],
        fileExists: { $0.hasSuffix("/known_hosts") }, kerberosCredentials: { false }, acceptsAlgorithms: nil)
    for host in hosts {
        for user in [nil, "cli"] {
            let query = SSHConfigQuery(
                host: host, user: user, port: nil, options: [], localUser: "me", localHostName: "here", userID: 1000)
            let resolved = SSHConfigResolver.resolve(config, query)
            guard SSHConfigResolver.resolve(again, query) == resolved else {
                fatalError("\(host): the same files resolve differently")
            }
            for text in resolved.problems + resolved.unevaluated where !isOneLine(text) {
                fatalError("\(host): a problem of several lines: \(text)")
            }
            if let user { guard resolved.user == user else { fatalError("\(host): -l \(user) gave \(resolved.user)") } }
            for checking in [true, false] {
                switch SSHHostSettings.make(resolved, facts: facts, checkingKeywords: checking) {
                case .success(let settings):
                    guard resolved.isComplete else {
                        fatalError("\(host): the native transport with \(resolved.problems) \(resolved.unevaluated)")
                    }
                    guard settings.hostname == resolved.hostname, settings.port == resolved.port,
                        settings.user == resolved.user
                    else {
                        fatalError("\(host): settings \(settings) are not the resolution's")
                    }
                case .failure(let reason):
                    guard isOneLine(reason.text), !reason.text.isEmpty else {
                        fatalError("\(host): the reason \(reason.text.debugDescription)")
                    }
                }
            }

            // The command line comes first.
            let forced = SSHConfigQuery(
                host: host, user: user, port: nil, options: ["User=fuzzer", "Port=2345", "HostName=10.9.8.7"],
                localUser: "me", localHostName: "here", userID: 1000)
            let overridden = SSHConfigResolver.resolve(config, forced)
            guard overridden.user == "fuzzer", overridden.port == 2345, overridden.hostname == "10.9.8.7" else {
                fatalError("\(host): -o options lost: \(overridden.user)@\(overridden.hostname):\(overridden.port)")
            }
        }
    }
    return 0
}

exit(passh_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzSSHConfig))
