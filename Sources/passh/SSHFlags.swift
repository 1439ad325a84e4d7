import ArgumentParser
import Passh
import SystemPackage

/// How passh calls ssh.
struct SSHFlags: ParsableArguments {
    @Option(name: .customShort("F"), help: ArgumentHelp("Use this ssh_config file instead of ~/.ssh/config.", valueName: "CONFIG"))
    var configFile: String?

    @Option(name: .customShort("o"), help: ArgumentHelp("Pass -o OPTION to ssh (repeatable); yours come first, so they win.", valueName: "OPTION"))
    var sshOptions: [String] = []

    @Option(name: .customShort("t"), help: ArgumentHelp("Give up connecting after SECONDS (ssh's ConnectTimeout).", valueName: "SECONDS"))
    var connectTimeout: Int = 6

    @Option(name: .customLong("ssh"), help: ArgumentHelp("The ssh client to run (default: $PASSH_SSH, else ssh).", valueName: "PATH"))
    var sshPath: String?

    @Flag(help: "Do not check host keys (StrictHostKeyChecking=no, UserKnownHostsFile=/dev/null).")
    var insecure = false

    @Option(name: .customLong("persist"), help: ArgumentHelp("Keep each connection open for SECONDS after the run (default 60), so the next run skips the handshake: OpenSSH multiplexing, sockets in a private directory. Written --persist or --persist=SECONDS.", valueName: "SECONDS"))
    var persist: Int?

    @Flag(name: .customLong("persist-stop"), help: "Close the connections --persist left open to HOSTS, and exit (no COMMAND).")
    var persistStop = false

    @Flag(help: "Run the command on this machine, once per host, with /bin/sh (PASSH_HOST names the host): to try passh without ssh.")
    var local = false

    mutating func validate() throws {
        if connectTimeout < 1 {
            throw ValidationError("-t must be a positive number of seconds, not \(connectTimeout).")
        }
        if let persist, persist < 1 {
            throw ValidationError("--persist must be a positive number of seconds, not \(persist).")
        }
        if local && (persist != nil || persistStop) {
            throw ValidationError("--local runs no ssh: it cannot be used with --persist or --persist-stop.")
        }
    }

    func openSSHOptions(defaultUser: String?) throws(PasshError) -> OpenSSHOptions {
        var options = OpenSSHOptions()
        options.sshPath = sshPath ?? environment("PASSH_SSH") ?? "ssh"
        options.configFile = configFile.map { FilePath($0) }
        options.options = sshOptions
        options.insecure = insecure
        options.connectTimeout = connectTimeout
        options.defaultUser = defaultUser
        if persist != nil || persistStop {
            options.multiplexing = Multiplexing(directory: try Multiplexing.privateDirectory(), seconds: persist ?? 60)
        }
        return options
    }

    func transport(defaultUser: String?) throws(PasshError) -> any Transport {
        local ? LocalTransport() : OpenSSHTransport(options: try openSSHOptions(defaultUser: defaultUser))
    }
}
