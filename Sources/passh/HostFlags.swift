import ArgumentParser
import Passh
import SystemPackage

/// Which hosts: patterns, host files, exclusions.
struct HostFlags: ParsableArguments {
    @Option(name: .customShort("h"), help: ArgumentHelp("Read hosts from FILE, one host or pattern per line (# comments); repeatable. Replaces the HOSTS argument.", valueName: "FILE"))
    var hostFiles: [String] = []

    @Option(name: .customShort("x"), help: ArgumentHelp("Leave out these hosts (patterns allowed); repeatable.", valueName: "HOSTS"))
    var exclude: [String] = []

    @Option(name: .customShort("l"), help: ArgumentHelp("Log in as USER on hosts that do not name a user (user@host).", valueName: "USER"))
    var user: String?

    @Flag(name: .customLong("list-hosts"), help: "Print the final host list, one per line, and exit without running anything.")
    var listHosts = false

    /// The host list from `patterns` (the HOSTS argument, if given), the host files and `-x`.
    func hostList(patterns: String?) throws(PasshError) -> HostList {
        var list = HostList()
        if let patterns { try list.add(patterns) }
        for file in hostFiles { try list.add(contentsOfFile: FilePath(file)) }
        for pattern in exclude { try list.exclude(pattern) }
        return list
    }
}
