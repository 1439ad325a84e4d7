import ArgumentParser
import Passh
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

@main
struct PasshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passh",
        abstract: "Run one command over SSH on many hosts at once.",
        usage: "passh [-n PROCS] [-i FILE] [options] host1,host2,... COMMAND [ARG...]",
        discussion: """
            Every line a host prints is shown with the host in front, "[host] line": stdout on \
            stdout, stderr on stderr. When any host fails, passh prints "failed at: HOSTS" on \
            stderr and exits 2.

            Everything from COMMAND on goes to ssh untouched (ssh joins the words with spaces for \
            the remote shell), so options after the hosts belong to the command: \
            `passh h1,h2 ls -la /` runs `ls -la /` remotely.
            """,
        helpNames: [.long]
    )

    @OptionGroup(title: "Running")
    var runFlags: RunFlags

    @OptionGroup(title: "ssh")
    var sshFlags: SSHFlags

    @Argument(help: ArgumentHelp("The hosts, comma-separated: host1,host2,... (user@host and host:port work).", valueName: "HOSTS"))
    var hosts: String

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The command to run on every host, and its arguments.", valueName: "COMMAND"))
    var command: [String] = []

    mutating func validate() throws {
        if command.first == "--" { command.removeFirst() }
        guard !command.isEmpty else {
            throw ValidationError("Missing the command to run on the hosts.")
        }
    }

    func run() async throws {
        let hostList: [Host]
        do {
            hostList = try ParallelSSH.hosts(hosts.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
        } catch {
            printError("passh: \(error)")
            throw ExitCode(64)
        }
        let passh = ParallelSSH(options: runFlags.runOptions, transport: sshFlags.transport)
        let status = await Session(passh: passh, hosts: hostList, command: command).run()
        if status != 0 { throw ExitCode(status) }
    }
}
