import ArgumentParser
import Passh
import SystemPackage

/// Copying files instead of running a command: `--copy` sends, `--rcopy` fetches.
struct CopyFlags: ParsableArguments {
    @Option(
        name: .customLong("copy"),
        help: ArgumentHelp(
            "Send PATH (a file or a directory, recursively) to every host, into --dest; repeatable. Takes the place of COMMAND.",
            valueName: "PATH"))
    var copy: [String] = []

    @Option(
        name: .customLong("rcopy"),
        help: ArgumentHelp(
            "Fetch PATH from every host into --dest/HOST/; repeatable. Takes the place of COMMAND.", valueName: "PATH"))
    var rcopy: [String] = []

    @Option(
        name: .customLong("dest"),
        help: ArgumentHelp(
            "With --copy: the directory on every host (created when missing). With --rcopy: the local directory.",
            valueName: "DIR"))
    var dest: String?

    @Flag(
        name: .customLong("preserve-owner"),
        help: "With --copy: keep owners and groups (where the remote user is root).")
    var preserveOwner = false

    /// Whether files are copied instead of a command run.
    var copies: Bool { !copy.isEmpty || !rcopy.isEmpty }

    /// The option in use, for messages.
    var name: String { rcopy.isEmpty ? "--copy" : "--rcopy" }

    /// The options that take a value.
    private static let valued = ["--copy", "--rcopy", "--dest"]

    /// Takes copy options written after HOSTS, where the parser hands them over as COMMAND: the
    /// leading words of `command` that are copy options are taken, the rest left.
    mutating func take(from command: inout [String]) throws {
        var index = 0
        while index < command.count {
            let word = command[index]
            if word == "--preserve-owner" {
                preserveOwner = true
                index += 1
                continue
            }
            let name: String
            let value: String
            if let equals = word.firstIndex(of: "="), Self.valued.contains(String(word[..<equals])) {
                name = String(word[..<equals])
                value = String(word[word.index(after: equals)...])
                index += 1
            } else if Self.valued.contains(word) {
                guard index + 1 < command.count else {
                    throw ValidationError("Missing value for '\(word) <\(word == "--dest" ? "DIR" : "PATH")>'")
                }
                name = word
                value = command[index + 1]
                index += 2
            } else {
                break
            }
            switch name {
            case "--copy": copy.append(value)
            case "--rcopy": rcopy.append(value)
            default: dest = value
            }
        }
        command.removeFirst(index)
    }

    /// The rules between the copy options and the rest.
    func check(command: [String], runFlags: RunFlags) throws {
        if !copy.isEmpty && !rcopy.isEmpty {
            throw ValidationError("--copy and --rcopy cannot be used together.")
        }
        if !copies {
            if dest != nil { throw ValidationError("--dest works only with --copy or --rcopy.") }
            if preserveOwner { throw ValidationError("--preserve-owner works only with --copy.") }
            return
        }
        if !command.isEmpty {
            throw ValidationError("\(name) takes no COMMAND: got \(command[0]).")
        }
        if dest == nil {
            throw ValidationError("\(name) needs --dest DIR.")
        }
        if dest == "" {
            throw ValidationError("--dest must name a directory.")
        }
        if preserveOwner && copy.isEmpty {
            throw ValidationError("--preserve-owner works only with --copy.")
        }
        if runFlags.inputFile != nil || runFlags.broadcastStdin {
            throw ValidationError("\(name) cannot be used with -i or -I.")
        }
    }

    /// What the run does: the copy or the gather, made ready (the archive is made here, and what
    /// the local `tar` said while making it is shown).
    func work() async throws(PasshError) -> Work? {
        guard let dest else { return nil }
        if !copy.isEmpty {
            let operation = try await CopyOperation(paths: copy, destination: dest, preserveOwner: preserveOwner)
            for line in operation.warnings { printError("passh: \(line)") }
            return .copy(operation)
        }
        if !rcopy.isEmpty {
            return .gather(try GatherOperation(paths: rcopy, destination: FilePath(dest)))
        }
        return nil
    }
}
