import OrderedCollections
public import SystemPackage

/// The hosts of a run: patterns and host files expanded, duplicates dropped, exclusions applied.
///
/// ```swift
/// var list = HostList()
/// try await list.add("web[1-3],db1")                        // the HOSTS argument
/// try await list.add(contentsOfFile: "/etc/passh/hosts")    // -h FILE
/// try await list.exclude("web2")                            // -x web2
/// list.names                                          // ["web1", "web3", "db1", …the file's hosts]
/// ```
///
/// - Order: hosts keep the order they were added in; a host added again keeps its first place.
/// - Validation: every name is a ``Host``, so a name that is empty, has whitespace or a control
///   character, or begins with `-` is refused (`h1,-oProxyCommand=x`), whether it comes from a
///   pattern or a file.
/// - Exclusion: ``exclude(_:)`` removes names from the final list whenever it is called, before or
///   after the hosts are added. It matches whole names: `-x web1` leaves out `web1`, not `root@web1`.
/// - Groups: an item `@NAME` or `@SOURCE:NAME` of a pattern list (in ``add(_:)``, a host file or
///   ``exclude(_:)``) stands for the hosts of that group of ``groups``, in the group's order; a
///   group may name other groups. An unknown group or source, a group that includes itself and a
///   source that fails are errors (``PasshError/Code/invalidGroup``), naming the file and line of
///   the reference when there is one. Groups are resolved (which asks their sources) before any name
///   is counted or expanded; their patterns count towards the limit like the others. Asking a
///   source may run its command: that is why adding is `async`; cancelling the calling task stops
///   the command (``PasshError/Code/cancelled``).
/// - Limit: one call to ``add(_:)`` or ``add(contentsOfFile:)`` may name at most ``limit`` hosts,
///   repeats included (`h[1-1000000]` on two lines of a file is too many); they are counted before
///   anything is expanded, so a call that names too many is refused at once. The list (its distinct
///   hosts, before exclusion) may hold at most ``limit`` hosts: that is checked as the names are
///   added, stopping at the first one past the limit. So one call expands at most ``limit`` names,
///   and a list that would hold at most ``limit`` hosts once repeats are dropped is never refused
///   because of hosts added by earlier calls. The exclusions may hold at most ``limit`` names too.
///
/// A call that throws leaves the list as it was.
public struct HostList: Sendable {
    /// The most hosts the list may hold (and the most it may exclude); ``HostPattern/defaultLimit``
    /// unless given.
    public let limit: Int
    /// The groups `@NAME` and `@SOURCE:NAME` name; none unless given.
    public let groups: HostGroups
    private var added: OrderedSet<Host> = []
    private var excluded: Set<String> = []

    /// An empty list.
    ///
    /// - Parameters:
    ///   - limit: The most hosts the list may hold.
    ///   - groups: The groups patterns may name (`@web`, `@slurm:batch`).
    public init(limit: Int = HostPattern.defaultLimit, groups: HostGroups = HostGroups()) {
        self.limit = limit
        self.groups = groups
    }

    /// The hosts, in order, without the excluded ones.
    public var hosts: [Host] {
        excluded.isEmpty ? added.elements : added.elements.filter { !excluded.contains($0.name) }
    }

    /// The names of ``hosts``.
    public var names: [String] { hosts.map(\.name) }

    /// The number of ``hosts``.
    public var count: Int {
        excluded.isEmpty ? added.count : added.reduce(0) { $0 + (excluded.contains($1.name) ? 0 : 1) }
    }

    /// Adds the hosts of a comma-separated list of patterns (``HostPattern``), e.g. `web[1-3],db1`.
    ///
    /// - Throws: ``PasshError``: ``PasshError/Code/invalidPattern`` for a malformed pattern or too
    ///   many hosts, ``PasshError/Code/invalidHost`` for a name ``Host`` refuses.
    public mutating func add(_ patterns: String) async throws(PasshError) {
        try await add([(patterns, nil)], input: nil)  // HostPattern counts the whole list before expanding it
    }

    /// The pattern lists of `patterns` with their groups replaced by the groups' patterns, counted;
    /// `nil` when no pattern names a group.
    private func resolvingGroups(
        _ patterns: [(text: String, location: String?)], input: String?
    ) async throws(PasshError) -> [(text: String, location: String?)]? {
        guard patterns.contains(where: { GroupResolver.mayNameGroups($0.text) }) else { return nil }
        let input = input ?? "host pattern \(quoted(patterns.first?.text ?? ""))"
        return try await GroupResolver.resolve(patterns, groups: groups, limit: limit, input: input)
    }

    /// Adds the hosts of a host file: one host or pattern per line.
    ///
    /// A `#` starts a comment (a whole line or the end of one); blank lines, spaces and tabs around
    /// a line and `\r` line ends are ignored. An error about a line names the file and line:
    /// `hosts:3: invalid host "-oProxyCommand=x": a host must not begin with '-'`.
    ///
    /// - Parameter path: The file; a named pipe (`<(command)`) works too.
    /// - Throws: ``PasshError``: ``PasshError/Code/unreadableFile`` (`No such file: PATH`,
    ///   `Cannot read file: PATH: REASON`), or the errors of ``add(_:)``.
    public mutating func add(contentsOfFile path: FilePath) async throws(PasshError) {
        let bytes = try Self.read(path)
        let lines = try Self.hostFileLines(bytes, path: path)
        try await add(lines.map { ($0.text, "\(path.string):\($0.line)") }, input: "host file \(path.string)")
    }

    /// Leaves out the hosts of a comma-separated list of patterns, e.g. `web[2-3]`, from the final
    /// list, whether they are added before or after.
    ///
    /// - Throws: ``PasshError`` with code ``PasshError/Code/invalidPattern`` for a malformed pattern or
    ///   too many names.
    public mutating func exclude(_ patterns: String) async throws(PasshError) {
        var names: [String] = []
        if let resolved = try await resolvingGroups([(patterns, nil)], input: nil) {
            for (text, _) in resolved { names += try HostPattern.expand(text, limit: limit) }  // counted: no error
        } else {
            names = try HostPattern.expand(patterns, limit: limit)
        }
        let union = excluded.union(names)
        if union.count > limit {
            throw PasshError(.invalidPattern, "too many hosts to leave out: more than the limit of \(limit)")
        }
        excluded = union
    }

    /// Counts the names of all the patterns (refusing more than ``limit``), then expands and
    /// validates every pattern and adds the new hosts; on an error, takes them out again.
    ///
    /// - Parameter input: What the patterns are, for the error when they hold too many names
    ///   (`host file PATH`); `nil` for one pattern list, which ``HostPattern`` counts whole.
    private mutating func add(_ patterns: [(text: String, location: String?)], input: String?) async throws(PasshError)
    {
        var patterns = patterns
        if let resolved = try await resolvingGroups(patterns, input: input) {
            patterns = resolved  // and counted
        } else if let input {
            // Counting is cheap (`h[1-1000000]` is one range); it stops at the first pattern past
            // the limit, so that a file of a million copies of that line is refused at its second.
            var total = 0
            for (index, (text, location)) in patterns.enumerated() {
                do throws(PasshError) {
                    total += try HostPattern.count(text, limit: limit)
                } catch {
                    guard let location else { throw error }
                    throw PasshError(error.code, "\(location): \(error.message)")
                }
                if total > limit {
                    let atLeast = index < patterns.count - 1 ? "at least " : ""
                    throw PasshError(
                        .invalidPattern, "\(input) expands to \(atLeast)\(total) hosts, more than the limit of \(limit)"
                    )
                }
            }
        }
        let countBefore = added.count
        for (text, location) in patterns {
            do throws(PasshError) {
                for name in try HostPattern.expand(text, limit: limit) {
                    if added.append(try Host(name)).inserted, added.count > limit {
                        throw Self.tooMany(limit)
                    }
                }
            } catch {
                added.removeLast(added.count - countBefore)
                guard let location else { throw error }
                throw PasshError(error.code, "\(location): \(error.message)")
            }
        }
    }

    private static func tooMany(_ limit: Int) -> PasshError {
        PasshError(.invalidPattern, "too many hosts: more than the limit of \(limit)")
    }

    /// A host file larger than this is refused (`/dev/zero` must not fill the memory).
    static let maximumFileSize = 256 << 20

    /// The whole content of a file.
    static func read(_ path: FilePath) throws(PasshError) -> [UInt8] {
        func unreadable(_ reason: any Error) -> PasshError {
            PasshError(.unreadableFile, "Cannot read file: \(path.string): \(reason)")
        }
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        } catch let error as Errno where error == .noSuchFileOrDirectory {
            throw PasshError(.unreadableFile, "No such file: \(path.string)")
        } catch {
            throw unreadable(error)
        }
        defer { try? file.close() }
        return try read(file, path: path)
    }

    /// The rest of an open file's content (`path` names it in errors).
    static func read(_ file: FileDescriptor, path: FilePath) throws(PasshError) -> [UInt8] {
        func unreadable(_ reason: any Error) -> PasshError {
            PasshError(.unreadableFile, "Cannot read file: \(path.string): \(reason)")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes { try file.read(into: $0) }
            } catch {
                throw unreadable(error)
            }
            if count == 0 { return bytes }
            if bytes.count + count > maximumFileSize {
                throw PasshError(
                    .unreadableFile, "Cannot read file: \(path.string): larger than \(maximumFileSize >> 20) MiB")
            }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    /// The patterns of a host file with their line numbers (from 1): comments, blank lines, spaces
    /// and tabs around a line and `\r` line ends removed.
    static func hostFileLines(_ bytes: [UInt8], path: FilePath) throws(PasshError) -> [(line: Int, text: String)] {
        var result: [(line: Int, text: String)] = []
        let isBlank: (UInt8) -> Bool = {
            $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r")
        }
        for (number, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        {
            var text = line
            if let hash = text.firstIndex(of: UInt8(ascii: "#")) { text = text[..<hash] }
            while let last = text.last, isBlank(last) { text.removeLast() }
            while let first = text.first, isBlank(first) { text.removeFirst() }
            if text.isEmpty { continue }
            guard let string = String(validating: text, as: UTF8.self) else {
                throw PasshError(
                    .unreadableFile, "Cannot read file: \(path.string): line \(number + 1) is not UTF-8 text")
            }
            result.append((number + 1, string))
        }
        return result
    }
}
