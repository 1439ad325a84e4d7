public import SystemPackage

/// A group source that asks a command: `/bin/sh -c COMMAND` with the group's name in the
/// environment variable `GROUP`, printing the group's hosts on stdout.
///
/// The output is hosts or patterns, one per line or several separated by spaces or commas
/// (`sinfo -h -N -o %N -p "$GROUP"` prints one node a line, `sinfo -h -o %N -p "$GROUP"` a folded
/// pattern); blank lines are ignored. No output means the source has no such group. A command that
/// exits non-zero fails the lookup with its stderr's first line:
/// `group source "slurm" failed on group "batch": exit 1: sinfo: error: invalid partition`.
///
/// The optional list command prints the names of the groups, one per line (or separated by
/// spaces); it runs without `GROUP` in its environment.
///
/// The commands run with passh's environment and stdin from `/dev/null`, each in a process group
/// of its own; passh waits for them without blocking a thread, and cancelling the calling task
/// stops them (SIGTERM to the group, SIGKILL half a second later). A command may print at most
/// 64 MiB: past that it is stopped and the lookup fails, never a group cut short. Its output may
/// name groups of this source (`@NAME`), not of another one: what one source prints never decides
/// which other source's command runs.
public struct CommandGroupSource: GroupSource {
    /// The source's name, for messages (`slurm`).
    public let name: String
    /// The command printing the hosts of `$GROUP`.
    public let command: String
    /// The command printing the names of the groups, if any.
    public let listCommand: String?

    /// A source.
    public init(name: String, command: String, listCommand: String? = nil) {
        self.name = name
        self.command = command
        self.listCommand = listCommand
    }

    /// Whether there is a list command.
    public var canListGroups: Bool { listCommand != nil }

    /// Runs the list command.
    ///
    /// - Throws: ``PasshError`` with code ``PasshError/Code/invalidGroup`` when there is no list
    ///   command or it fails; ``PasshError/Code/cancelled`` when the calling task is cancelled.
    public func groupNames() async throws(PasshError) -> [String] {
        guard let listCommand else {
            throw PasshError(
                .invalidGroup, "group source \(quoted(name)) cannot list its groups: it has no list command")
        }
        let what = "group source \(quoted(name)) failed to list its groups"
        let outcome = try await run(listCommand, group: nil, what: what)
        if let failure = outcome.failure {
            throw PasshError(.invalidGroup, "\(what): \(explain(failure, outcome))")
        }
        var seen: Set<String> = []
        return Self.words(outcome.stdout).filter { seen.insert($0).inserted }
    }

    /// Runs the command for the group; `nil` when it prints nothing.
    ///
    /// - Throws: ``PasshError`` with code ``PasshError/Code/invalidGroup`` when the command fails,
    ///   prints too much or names a group of another source; ``PasshError/Code/cancelled`` when the
    ///   calling task is cancelled.
    public func group(named group: String) async throws(PasshError) -> GroupDefinition? {
        let what = "group source \(quoted(name)) failed on group \(quoted(group))"
        let outcome = try await run(command, group: group, what: what)
        if let failure = outcome.failure {
            throw PasshError(.invalidGroup, "\(what): \(explain(failure, outcome))")
        }
        let patterns = Self.words(outcome.stdout)
        if patterns.isEmpty { return nil }
        for pattern in patterns {
            for item in pattern.split(separator: ",") where item.hasPrefix("@") {
                if let colon = item.firstIndex(of: ":"), item[item.index(after: item.startIndex)..<colon] != name {
                    throw PasshError(
                        .invalidGroup,
                        "\(what): it printed \(quoted(String(item))): a source's command may name groups of its own "
                            + "source only")
                }
            }
        }
        return GroupDefinition(patterns: patterns, origin: "group source \(quoted(name)), group \(quoted(group))")
    }

    /// Runs `command`; a failure to run it, too much output or the caller's cancellation is an
    /// error `what: …`.
    private func run(_ command: String, group: String?, what: String) async throws(PasshError)
        -> ShellCommand.Outcome
    {
        do throws(ShellCommand.Failure) {
            return try await ShellCommand.run(command, group: group)
        } catch {
            switch error {
            case .cannotRun(let reason):
                throw PasshError(.invalidGroup, "cannot run \(quoted(command)): \(reason)")
            case .tooMuchOutput:
                throw PasshError(
                    .invalidGroup,
                    "\(what): it printed more than \(ShellCommand.maximumOutput >> 20) MiB; the command was stopped")
            case .cancelled:
                throw PasshError(.cancelled, "\(what): stopped (cancelled)")
            }
        }
    }

    /// `exit 1: FIRST LINE OF STDERR`, or `exit 1` when stderr is empty.
    private func explain(_ failure: String, _ outcome: ShellCommand.Outcome) -> String {
        let line = outcome.stderr.split(separator: 0x0A).lazy
            .map { String(decoding: $0, as: UTF8.self).trimmingCharacters() }
            .first { !$0.isEmpty }
        return line.map { "\(failure): \($0)" } ?? failure
    }

    /// The words of an output: split at newlines, spaces and tabs.
    private static func words(_ bytes: [UInt8]) -> [String] {
        bytes.split(whereSeparator: { $0 == 0x0A || $0 == 0x0D || $0 == 0x20 || $0 == 0x09 })
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// The sources of a sources file: `NAME: COMMAND` lines, and `NAME.list: COMMAND` for the
    /// list command of source `NAME`.
    ///
    /// A line beginning with `#` is a comment (a `#` elsewhere belongs to the command); blank lines
    /// and spaces around a line are ignored. A source name is ASCII letters, digits, `_` and `-`, not
    /// beginning with `-`.
    /// Like ``GroupFileSource``, the file must be owned by the user and writable by no one else:
    /// it holds commands passh runs.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - reservedNames: Names the file may not use (those of other sources).
    /// - Returns: The sources, in the order of their `NAME:` lines.
    /// - Throws: ``PasshError``: ``PasshError/Code/unreadableFile`` for a missing, unreadable or
    ///   not private file; ``PasshError/Code/invalidGroup`` for a bad line (`sources:2: …`).
    public static func sources(
        contentsOf path: FilePath, reservedNames: Set<String> = []
    ) throws(PasshError) -> [CommandGroupSource] {
        let bytes = try PrivateFile.read(path)
        var order: [String] = []
        var commands: [String: (line: Int, command: String)] = [:]
        var listCommands: [String: (line: Int, command: String)] = [:]
        for (index, raw) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let location = "\(path.string):\(index + 1)"
            guard let text = String(validating: raw, as: UTF8.self) else {
                throw PasshError(
                    .unreadableFile, "Cannot read file: \(path.string): line \(index + 1) is not UTF-8 text")
            }
            let line = text.trimmingCharacters()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw PasshError(.invalidGroup, "\(location): expected \"NAME: COMMAND\"")
            }
            var key = Substring(line[..<colon]).trimmingBlanks()
            let command = Substring(line[line.index(after: colon)...]).trimmingBlanks()
            let isList = key.hasSuffix(".list")
            if isList { key = key.dropLast(5) }
            let sourceName = String(key)
            guard GroupReference.isValidSourceName(sourceName) else {
                throw PasshError(
                    .invalidGroup,
                    "\(location): invalid source name \(quoted(sourceName)): letters, digits, '_' and '-', "
                        + "not beginning with '-'")
            }
            if reservedNames.contains(sourceName) {
                throw PasshError(.invalidGroup, "\(location): the source name \(quoted(sourceName)) is taken")
            }
            guard !command.isEmpty else {
                throw PasshError(.invalidGroup, "\(location): source \(quoted(sourceName)) has no command")
            }
            if let earlier = isList ? listCommands[sourceName] : commands[sourceName] {
                let what = isList ? "\(sourceName).list" : sourceName
                throw PasshError(
                    .invalidGroup, "\(location): \(quoted(what)) is already defined at line \(earlier.line)")
            }
            if isList {
                listCommands[sourceName] = (index + 1, String(command))
            } else {
                commands[sourceName] = (index + 1, String(command))
                order.append(sourceName)
            }
        }
        if let orphan = listCommands.filter({ commands[$0.key] == nil }).min(by: { $0.value.line < $1.value.line }) {
            throw PasshError(
                .invalidGroup,
                "\(path.string):\(orphan.value.line): \(quoted(orphan.key + ".list")) "
                    + "without a line \(quoted(orphan.key + ": COMMAND"))")
        }
        return order.map {
            CommandGroupSource(name: $0, command: commands[$0]!.command, listCommand: listCommands[$0]?.command)
        }
    }
}

extension String {
    /// Without the spaces, tabs and `\r` around it.
    func trimmingCharacters() -> String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return String(text)
    }
}
