import ArgumentParser
import Passh
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// When to color the host prefixes.
enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never
}

/// How output is shown: one mode at a time.
struct OutputFlags: ParsableArguments {
    @Flag(
        name: .customLong("group"),
        help: "Show each host's output as one block when the host finishes, under a header with its status.")
    var group = false

    @Flag(
        name: [.customShort("b"), .customLong("gather")],
        help: "At the end, show identical outputs once, under the folded list of their hosts (like clush -b).")
    var gather = false

    @Flag(
        name: [.customShort("r"), .customLong("regroup")],
        help: "With -b: write a host set that holds all the hosts of groups as @NAME (like clush -r).")
    var regroup = false

    @Option(
        name: .customLong("outdir"),
        help: ArgumentHelp("Write each host's stdout to DIR/HOST (DIR is created, mode 0700).", valueName: "DIR"))
    var outdir: String?

    @Option(
        name: .customLong("errdir"),
        help: ArgumentHelp("Write each host's stderr to DIR/HOST (DIR is created, mode 0700).", valueName: "DIR"))
    var errdir: String?

    @Flag(
        name: .customLong("json"),
        help: "Print JSON Lines on stdout: one object per output line, per finished host, and a summary.")
    var json = false

    @Flag(
        name: .customLong("max-rc"),
        help: "Exit with the largest remote exit status (255 for ssh errors, timeouts and signals) instead of 2.")
    var maxRC = false

    @Option(
        name: .customLong("color"),
        help: ArgumentHelp(
            "Color the host prefixes: auto (on a terminal, unless NO_COLOR is set), always or never.", valueName: "WHEN"
        ))
    var color: ColorChoice = .auto

    mutating func validate() throws {
        let modes = [
            group ? "--group" : nil, gather ? "--gather" : nil, json ? "--json" : nil,
            outdir != nil || errdir != nil ? "--outdir/--errdir" : nil,
        ].compactMap { $0 }
        if modes.count > 1 {
            throw ValidationError("Choose one output mode; got \(modes.joined(separator: " and ")).")
        }
        if regroup && !gather {
            throw ValidationError("-r/--regroup works only with -b/--gather.")
        }
    }

    /// Whether the prefixes on `fd` (1 or 2) are colored.
    func colors(_ fd: Int32) -> Bool {
        switch color {
        case .always: true
        case .never: false
        case .auto: isatty(fd) == 1 && environment("NO_COLOR").map(\.isEmpty) ?? true
        }
    }

    /// The sink for the chosen mode; `groups` name the gathered host sets with `-r`.
    func sink(writer: OutputWriter, groups: HostGroups) throws(PasshError) -> any OutputSink {
        if group { return GroupedSink(writer: writer) }
        if gather {
            return regroup
                ? GatheringSink(writer: writer, fold: { await groups.regroup($0) }) : GatheringSink(writer: writer)
        }
        if json { return JSONLinesSink(writer: writer) }
        let (stdoutColor, stderrColor) = (colors(1), colors(2))
        let prefixed = PrefixedSink(writer: writer) { host, stream in
            let colored = stream == .stdout ? stdoutColor : stderrColor
            // clush's colors: bright blue for stdout, bright red for stderr.
            let name =
                colored
                ? (stream == .stdout ? "\u{1B}[94m" : "\u{1B}[91m") + "[\(host.name)]\u{1B}[0m" : "[\(host.name)]"
            return Array((name + " ").utf8)
        }
        if outdir != nil || errdir != nil {
            return try FileSink(
                stdoutDirectory: outdir.map { FilePath($0) }, stderrDirectory: errdir.map { FilePath($0) },
                fallback: prefixed, writer: writer)
        }
        return prefixed
    }
}
