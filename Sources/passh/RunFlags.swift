import ArgumentParser
import Passh
import SystemPackage

/// How many hosts at once, and what they read.
struct RunFlags: ParsableArguments {
    @Option(name: .customShort("n"), help: ArgumentHelp("Run at most PROCS ssh processes at once; 0 = no limit.", valueName: "PROCS"))
    var procs: Int = 50

    @Option(name: .customShort("i"), help: ArgumentHelp("Send FILE to every host's stdin (each host gets all of it).", valueName: "FILE"))
    var inputFile: String?

    mutating func validate() throws {
        if procs < 0 {
            throw ValidationError("-n must be 0 (no limit) or more, not \(procs).")
        }
    }

    var runOptions: RunOptions {
        var options = RunOptions()
        options.fanout = procs
        options.stdinFile = inputFile.map { FilePath($0) }
        return options
    }
}
