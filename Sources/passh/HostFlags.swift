import ArgumentParser
import Passh
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Which hosts: patterns, host files, exclusions, groups.
struct HostFlags: ParsableArguments {
    @Option(
        name: .customShort("h"),
        help: ArgumentHelp(
            "Read hosts from FILE, one host or pattern per line (# comments); repeatable. Replaces the HOSTS argument.",
            valueName: "FILE"))
    var hostFiles: [String] = []

    @Option(
        name: .customShort("x"),
        help: ArgumentHelp("Leave out these hosts (patterns and @groups allowed); repeatable.", valueName: "HOSTS"))
    var exclude: [String] = []

    @Option(
        name: .customShort("l"),
        help: ArgumentHelp("Log in as USER on hosts that do not name a user (user@host).", valueName: "USER"))
    var user: String?

    @Flag(
        name: .customLong("list-hosts"),
        help: "Print the final host list, one per line, and exit without running anything.")
    var listHosts = false

    @Flag(
        name: .customShort("v"),
        help:
            "With --list-hosts: each host with the transport that would reach it, and for OpenSSH why (web1  openssh  CertificateFile)."
    )
    var verbose = false

    @Flag(
        name: .customLong("list-groups"),
        help:
            "Print the groups of every group source (or of the source given in place of HOSTS), one per line as @NAME or @SOURCE:NAME, and exit."
    )
    var listGroups = false

    /// The name of the groups file's source: `@NAME` names its groups.
    static let fileSource = "local"

    /// The host list from `patterns` (the HOSTS argument, if given), the host files and `-x`.
    /// Asking a group source may run its command; cancelling the calling task stops it.
    func hostList(patterns: String?, groups: HostGroups) async throws(PasshError) -> HostList {
        var list = HostList(groups: groups)
        if let patterns { try await list.add(patterns) }
        for file in hostFiles { try await list.add(contentsOfFile: FilePath(file)) }
        for pattern in exclude { try await list.exclude(pattern) }
        return list
    }

    /// The groups of the configuration directory, read when a group is first used: the groups
    /// file (source `local`, the default) and the command sources of the sources file. A missing
    /// file is no groups.
    static func groups() -> HostGroups {
        let directory = configDirectory()
        return HostGroups(defaultSource: fileSource) { () throws(PasshError) in
            let groupsFile = FilePath(directory + "/groups")
            let fileGroups: any GroupSource =
                exists(groupsFile) ? try GroupFileSource(contentsOf: groupsFile) : StaticGroupSource([:])
            var sources: [(name: String, source: any GroupSource)] = [(fileSource, fileGroups)]
            let sourcesFile = FilePath(directory + "/sources")
            if exists(sourcesFile) {
                for source in try CommandGroupSource.sources(contentsOf: sourcesFile, reservedNames: [fileSource]) {
                    sources.append((source.name, source))
                }
            }
            return sources
        }
    }

    /// `$XDG_CONFIG_HOME/passh` when that is an absolute path, else `~/.config/passh`.
    static func configDirectory() -> String {
        if let base = environment("XDG_CONFIG_HOME"), base.hasPrefix("/") { return base + "/passh" }
        var home = environment("HOME") ?? ""
        if home.isEmpty, let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir {
            home = String(cString: directory)
        }
        return home + "/.config/passh"
    }

    /// Whether something is at `path` (a dangling link counts, and fails when read).
    private static func exists(_ path: FilePath) -> Bool {
        var info = stat()
        return lstat(path.string, &info) == 0
    }
}
