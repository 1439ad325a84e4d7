import PasshTestSupport
import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A terminal session for one page's examples: one `/bin/sh` runs them in order, as a user types
/// them one after another, so a file an example writes, `cd` and `$?` carry over to the next.
///
/// The session has a fresh directory of its own as its working directory and `HOME` (so
/// `~/.config/passh/groups` is the page's), a private `XDG_RUNTIME_DIR` (`--persist` sockets) and
/// `LC_ALL=C`. `passh` is the built binary, found first in `PATH` through a wrapper that adds
/// `-F` with the test cluster's ssh_config, so an example reads as a user types it. Each command's
/// stdin is `/dev/null` unless it says otherwise, and its stdout and stderr go, in the order
/// written, to one file.
struct DocSession: ~Copyable {
    let directory: String

    init() throws {
        directory = temporaryPath("docs")
        try check(mkdir(directory, 0o700) == 0, "cannot create \(directory)")
        try check(mkdir(directory + "/.bin", 0o700) == 0, "cannot create \(directory)/.bin")
        try check(mkdir(directory + "/.run", 0o700) == 0, "cannot create \(directory)/.run")
        let wrapper = "#!/bin/sh\nexec '\(passhPath)' -F '\(TestCluster.config)' \"$@\"\n"
        try writeFile(directory + "/.bin/passh", Array(wrapper.utf8))
        try check(chmod(directory + "/.bin/passh", 0o700) == 0, "cannot make the passh wrapper executable")
    }

    deinit { shell("rm -rf '\(directory)'") }

    /// Runs `commands` one after another; returns what each printed, as lines (`nil` for those that
    /// had not finished when `timeout` struck: the session is then stopped, its processes killed).
    ///
    /// Sessions of every test process on this machine run one at a time: the test cluster's hosts
    /// share one account, and the examples that write remote files write the same ones.
    func run(_ commands: [String], timeout: Duration) async throws -> [[String]?] {
        try await withMachineLock("doc-examples") { try await runLocked(commands, timeout: timeout) }
    }

    private func runLocked(_ commands: [String], timeout: Duration) async throws -> [[String]?] {
        var script = "exec 2>&1\n"
        for (index, command) in commands.enumerated() {
            script += """
                { \(command)
                } </dev/null 2>&1
                passh_doc_status=$?
                printf '\\n@@passh-doc \(index)@@\\n'
                (exit $passh_doc_status)

                """
        }
        try writeFile(directory + "/.script", Array(script.utf8))
        let outputPath = directory + "/.output"
        let output = try FileDescriptor.open(
            FilePath(outputPath), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        var platformOptions = PlatformOptions()
        platformOptions.createSession = true
        platformOptions.teardownSequence = [
            .send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: .seconds(2))
        ]
        let environment = Environment.inherit.updating([
            "HOME": directory, "PATH": directory + "/.bin:" + (getenv("PATH").map { String(cString: $0) } ?? ""),
            "XDG_RUNTIME_DIR": directory + "/.run", "XDG_CONFIG_HOME": nil, "LC_ALL": "C",
        ])
        let (directory, platform) = (self.directory, platformOptions)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try await Subprocess.run(
                    .path("/bin/sh"), arguments: [directory + "/.script"], environment: environment,
                    workingDirectory: FilePath(directory), platformOptions: platform, input: .none,
                    output: .fileDescriptor(output, closeAfterSpawningProcess: true), error: .discarded)
            }
            group.addTask { try await Task.sleep(for: timeout) }
            try await group.next()
            group.cancelAll()
        }
        return Self.split(readBytes(outputPath) ?? [], count: commands.count)
    }

    /// The output of each command, cut at the markers the script prints after each.
    static func split(_ bytes: [UInt8], count: Int) -> [[String]?] {
        var outputs: [[String]?] = []
        var rest = bytes[...]
        for index in 0..<count {
            guard let marker = rest.firstRange(of: Array("\n@@passh-doc \(index)@@\n".utf8)) else { break }
            let printed = Array(rest[..<marker.lowerBound])
            outputs.append(printed.isEmpty ? [] : lines(printed))
            rest = rest[marker.upperBound...]
        }
        return outputs + [[String]?](repeating: nil, count: count - outputs.count)
    }
}

private struct SessionError: Error, CustomStringConvertible {
    let description: String
}

private func check(_ condition: Bool, _ message: String) throws {
    if !condition { throw SessionError(description: message + ": " + String(cString: strerror(errno))) }
}
