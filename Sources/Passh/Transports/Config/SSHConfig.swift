/// The ssh_config files one run reads, as OpenSSH reads them: `-F FILE` alone (none for
/// `-F none`), else `~/.ssh/config` then `/etc/ssh/ssh_config`; each line split, each Include
/// followed (in order, its glob sorted) — read once, then asked about any number of hosts
/// (``resolve(_:)``).
///
/// Reading is a pure function of the files' bytes (``SSHConfigFileSystem``). What OpenSSH would
/// refuse — a line it cannot split, an unknown keyword, a `~/.ssh/config` others may write, a
/// missing `-F` file, Includes nested over 16 deep — is kept in ``problems``: ssh stops with an
/// error for every host then.
struct SSHConfig: Sendable {
    /// One file, its lines and Includes.
    struct File: Sendable {
        let path: String
        let items: [Item]
    }

    /// A line of a file — a Host line with its patterns, a Match line with its words, an option
    /// with its canonical keyword — or an Include with the files it read.
    enum Item: Sendable {
        case host(SSHConfigLine, [HostPattern])
        case match(SSHConfigLine, [String])
        case option(SSHConfigLine, keyword: String, check: OptionCheck)
        case include(SSHConfigLine, [File])
    }

    /// What OpenSSH checks on an option line whether or not it applies, worked out once.
    enum OptionCheck: Sendable {
        case fine
        /// A keyword OpenSSH does not know (refused unless IgnoreUnknown matches it).
        case unknown
        /// A Port that is not one.
        case badPort(String)

        init(_ line: SSHConfigLine, keyword: String) {
            if !SSHConfigKeywords.known.contains(keyword) && !SSHConfigKeywords.ignored.contains(keyword) {
                self = .unknown
            } else if keyword == "port", let value = line.arguments.first, SSHResolvedConfig.port(value) == nil {
                self = .badPort(value)
            } else {
                self = .fine
            }
        }
    }

    /// One pattern of a Host line, as bytes, and whether it is negated (`!`).
    struct HostPattern: Sendable {
        let negated: Bool
        let bytes: [UInt8]
        /// Whether the line's argument was empty (OpenSSH refuses it).
        var isEmpty: Bool { bytes.isEmpty && !negated }
    }

    /// Whether a file belongs to the user (relative Includes are under `~/.ssh`) or to the
    /// system (under `/etc/ssh`; no `~`).
    enum Scope: Sendable { case user, system }

    /// The top-level files, in the order they are read.
    let files: [File]
    /// What makes OpenSSH refuse the configuration (`FILE line N: …`), in the order met.
    let problems: [String]
    /// The `-F` file, if one was given (not `none`).
    let configFile: String?
    /// The home directory the files were read with.
    let home: String

    /// OpenSSH's system-wide file.
    static let systemFile = "/etc/ssh/ssh_config"
    /// OpenSSH's limit on nested Includes.
    static let maximumDepth = 16
    /// passh's limits on what Includes read in all (OpenSSH has none: a file that includes
    /// another three times, sixteen deep, is 43 million reads). Past them, the configuration is
    /// not read further, and every host goes to OpenSSH.
    static let maximumFiles = 4096
    static let maximumBytes = 64 << 20

    /// Reads the configuration: `configFile` (`-F`), else the user's and the system's files.
    static func load(configFile: String?, fileSystem: some SSHConfigFileSystem) -> SSHConfig {
        var loader = Loader(fileSystem: fileSystem)
        var files: [File] = []
        if let configFile {
            if configFile != "none" {
                let file = loader.file(configFile, scope: .user, checkPermissions: false, depth: 0, required: true)
                files += file.map { [$0] } ?? []
            }
        } else {
            let user = fileSystem.home + "/.ssh/config"
            if let file = loader.file(user, scope: .user, checkPermissions: true, depth: 0, required: false) {
                files.append(file)
            }
            if let file = loader.file(systemFile, scope: .system, checkPermissions: false, depth: 0, required: false) {
                files.append(file)
            }
        }
        return SSHConfig(
            files: files, problems: loader.problems.map(oneLine), configFile: configFile == "none" ? nil : configFile,
            home: fileSystem.home)
    }

    /// `text` on one line: its control characters escaped (`\r`, `\u{1}`), as a message quoting a
    /// file's bytes must show them.
    static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var line = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\r": line += "\\r"
            case "\n": line += "\\n"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: line += "\\u{\(String(scalar.value, radix: 16))}"
            default: line.unicodeScalars.append(scalar)
            }
        }
        return line
    }

    /// Reads files and follows their Includes, collecting problems.
    private struct Loader {
        let fileSystem: any SSHConfigFileSystem
        var problems: [String] = []
        /// Files and bytes read so far, Includes counted each time they are read.
        var filesRead = 0
        var bytesRead = 0
        /// Reading ended: Includes nested too deep (ssh stops there), or too much read.
        var stopped = false

        init(fileSystem: some SSHConfigFileSystem) { self.fileSystem = fileSystem }

        mutating func file(
            _ path: String, scope: Scope, checkPermissions: Bool, depth: Int, required: Bool
        ) -> File? {
            guard !stopped else { return nil }
            guard depth <= SSHConfig.maximumDepth else {
                // ssh exits on this one (fatal): nothing after it is read.
                problems.append("\(path): too many recursive configuration includes")
                stopped = true
                return nil
            }
            let bytes: [UInt8]
            switch fileSystem.read(path) {
            case .missing:
                if required { problems.append("Can't open user config file \(path): No such file or directory") }
                return nil
            case .unreadable(let reason):
                problems.append("Can't open user config file \(path): \(reason)")
                return nil
            case .contents(let contents, let owner, let mode):
                if checkPermissions && ((owner != 0 && owner != fileSystem.userID) || mode & 0o022 != 0) {
                    problems.append("Bad owner or permissions on \(path)")
                    return nil
                }
                bytes = contents
            }
            filesRead += 1
            bytesRead += bytes.count
            guard filesRead <= SSHConfig.maximumFiles, bytesRead <= SSHConfig.maximumBytes else {
                problems.append(
                    "\(path): more than \(SSHConfig.maximumFiles) files or \(SSHConfig.maximumBytes >> 20) MiB "
                        + "read through Include; not read further")
                stopped = true
                return nil
            }
            var items: [Item] = []
            var number = 0
            for var text in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
                number += 1
                if let nul = text.firstIndex(of: 0) { text = text[..<nul] }  // ssh reads C strings
                let line: SSHConfigLine?
                do throws(SSHConfigLine.Problem) {
                    line = try SSHConfigLine.parse(Substring(String(decoding: text, as: UTF8.self)), number: number)
                } catch .noArgument(let keyword) {
                    problems.append("\(path) line \(number): no argument after keyword \"\(keyword)\"")
                    continue
                } catch {
                    problems.append("\(path) line \(number): invalid quotes")
                    continue
                }
                guard let line else { continue }
                let keyword = SSHConfigKeywords.canonical(line.keyword)
                switch keyword {
                case "include":
                    items.append(.include(line, include(line, in: path, scope: scope, depth: depth)))
                case "host":
                    items.append(
                        .host(
                            line,
                            line.arguments.map { argument in
                                let bytes = Array(argument.utf8)
                                let negated = bytes.first == UInt8(ascii: "!")
                                return HostPattern(negated: negated, bytes: negated ? Array(bytes.dropFirst()) : bytes)
                            }))
                case "match":
                    let scalars = Array(line.rest.unicodeScalars)
                    var index = 0
                    var words: [String] = []
                    while let word = SSHConfigLine.delimited(scalars, &index), !word.isEmpty { words.append(word) }
                    items.append(.match(line, words))
                default:
                    items.append(.option(line, keyword: keyword, check: OptionCheck(line, keyword: keyword)))
                }
            }
            return File(path: path, items: items)
        }

        /// The files an Include line names, each pattern anchored as OpenSSH anchors it.
        mutating func include(_ line: SSHConfigLine, in path: String, scope: Scope, depth: Int) -> [File] {
            var files: [File] = []
            for argument in line.arguments where !stopped {
                if argument.hasPrefix("~") && scope == .system {
                    problems.append("\(path) line \(line.number): bad include path \(argument).")
                    continue
                }
                let pattern: String
                if argument.hasPrefix("/") || argument.hasPrefix("~") {
                    pattern = argument
                } else {
                    pattern = (scope == .user ? fileSystem.home + "/.ssh/" : "/etc/ssh/") + argument
                }
                guard let paths = fileSystem.glob(pattern) else {
                    problems.append("\(path) line \(line.number): glob failed for \(pattern).")
                    continue
                }
                for included in paths {
                    if let file = self.file(
                        included, scope: scope, checkPermissions: true, depth: depth + 1, required: false)
                    {
                        files.append(file)
                    }
                }
            }
            return files
        }
    }
}
