/// What a line typed at the shell's prompt asks for (`passh HOSTS` with no command). The
/// shell's own commands are clush's where clush has one (`quit`, `?`, `+NODES`, `-NODES`, `=`,
/// `!CMD`);
/// those clush lacks start with `:`, which as a remote command would run nothing (`:` is the
/// shell's no-op).
enum ShellLine: Equatable {
    /// An empty line: nothing.
    case empty
    /// `quit` (any case) or `exit`: leave.
    case quit
    /// Run the line on every host.
    case run(String)
    /// `?` or `:hosts`: every host and how it is connected.
    case hosts
    /// `+PATTERNS`: add hosts (patterns, @groups).
    case add(String)
    /// `-PATTERNS`: remove hosts.
    case remove(String)
    /// `!CMD`: run CMD once on this machine (its output labelled `LOCAL`); `nil` for a `!` alone.
    case local(String?)
    /// `=`: gathered output (`-b`) on or off.
    case toggleGather
    /// `:retry`: the last command again, on the hosts where it failed.
    case retry
    /// `:down`: the hosts whose connection is lost or could not be made.
    case down
    /// `:help`: the shell's commands.
    case help
    /// A `:` command the shell does not know.
    case unknown(String)

    init(_ line: String) {
        let text = String(line.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
        switch text {
        case "": self = .empty
        case "exit": self = .quit
        case _ where text.lowercased() == "quit": self = .quit
        case "?", ":hosts": self = .hosts
        case "=": self = .toggleGather
        case ":retry": self = .retry
        case ":down": self = .down
        case ":help": self = .help
        default:
            if text.hasPrefix("+") {
                self = .add(String(text.dropFirst()).trimmingSpaces)
            } else if text.hasPrefix("-") {
                self = .remove(String(text.dropFirst()).trimmingSpaces)
            } else if text.hasPrefix("!") {
                let command = String(text.dropFirst()).trimmingSpaces
                self = .local(command.isEmpty ? nil : command)
            } else if text.hasPrefix(":") {
                self = .unknown(text)
            } else {
                self = .run(text)
            }
        }
    }

    static let helpText = """
        quit, exit, ^D   leave
        ?, :hosts        every host and its connection
        +HOSTS, -HOSTS   add, remove hosts (patterns, @groups)
        =                gathered output (-b) on or off
        !COMMAND         run COMMAND once on this machine (output labelled LOCAL)
        :retry           the last command again, on the hosts where it failed
        :down            the hosts whose connection is lost or could not be made
        ^C               stop the running command on every host (twice: kill it at once)
        """
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
