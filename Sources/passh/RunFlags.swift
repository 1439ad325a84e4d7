import ArgumentParser
import Passh
import SystemPackage

/// The largest number of seconds any option takes (about 31 years): beyond it durations overflow.
let maximumSeconds = 1_000_000_000

/// How many hosts at once, what they read, when to stop.
struct RunFlags: ParsableArguments {
    @Option(
        name: .customShort("n"), parsing: .unconditional,
        help: ArgumentHelp("Run at most PROCS hosts at once; 0 = no limit.", valueName: "PROCS"))
    var procs: Int = 50

    @Option(
        name: .customShort("i"),
        help: ArgumentHelp(
            "Send FILE to every host's stdin (each host gets all of it; a pipe is read once first).", valueName: "FILE")
    )
    var inputFile: String?

    @Flag(
        name: .customShort("I"),
        help: "Read this terminal's stdin once and send it to every host (like -i with a temporary copy).")
    var broadcastStdin = false

    @Option(
        name: .customLong("timeout"), parsing: .unconditional,
        help: ArgumentHelp(
            "Give each host at most SECONDS to finish; then it is stopped and fails (timeout).", valueName: "SECONDS"))
    var commandTimeout: Double?

    @Flag(
        name: .customLong("fail-fast"), help: "At the first failed host, start no more hosts and stop the running ones."
    )
    var failFast = false

    @Option(
        name: .customLong("failed-to"),
        help: ArgumentHelp(
            "Write the hosts that did not succeed to FILE, one per line (retry them with -h FILE).", valueName: "FILE"))
    var failedTo: String?

    @Flag(
        name: .customLong("tty"),
        help:
            "Give each command a terminal on its host (ssh -tt): it is hung up when its host is stopped, but its stderr comes merged into stdout and lines end in CR LF."
    )
    var terminal = false

    mutating func validate() throws {
        if procs < 0 {
            throw ValidationError("-n must be 0 (no limit) or more, not \(procs).")
        }
        if let commandTimeout, !(commandTimeout > 0) || !(commandTimeout <= Double(maximumSeconds)) {
            throw ValidationError(
                "--timeout must be a number of seconds above 0 and at most \(maximumSeconds), not \(commandTimeout).")
        }
        if inputFile != nil && broadcastStdin {
            throw ValidationError("-i and -I cannot be used together.")
        }
        if terminal && (inputFile != nil || broadcastStdin) {
            throw ValidationError(
                "--tty cannot be used with \(inputFile != nil ? "-i" : "-I"): the host's terminal would echo the input back."
            )
        }
    }

    var runOptions: RunOptions {
        var options = RunOptions()
        options.fanout = procs
        options.stdinFile = inputFile.map { FilePath($0) }
        options.failFast = failFast
        options.terminal = terminal
        options.commandTimeout = commandTimeout.map { .milliseconds(Int64(($0 * 1000).rounded(.up))) }
        return options
    }
}
