import ArgumentParser
import Passh
import SystemPackage

/// How passh calls ssh.
struct SSHFlags: ParsableArguments {
    @Option(name: .customShort("F"), help: ArgumentHelp("Use this ssh_config file instead of ~/.ssh/config.", valueName: "CONFIG"))
    var configFile: String?

    @Option(name: .customShort("o"), help: ArgumentHelp("Pass -o OPTION to ssh (repeatable); yours come first, so they win.", valueName: "OPTION"))
    var sshOptions: [String] = []

    @Option(name: .customLong("ssh"), help: ArgumentHelp("The ssh client to run (default: $PASSH_SSH, else ssh).", valueName: "PATH"))
    var sshPath: String?

    @Flag(help: "Do not check host keys (StrictHostKeyChecking=no, UserKnownHostsFile=/dev/null).")
    var insecure = false

    @Flag(help: "Run the command on this machine, once per host, with /bin/sh (PASSH_HOST names the host): to try passh without ssh.")
    var local = false

    var transport: any Transport {
        local ? LocalTransport() : OpenSSHTransport(options: openSSHOptions)
    }

    var openSSHOptions: OpenSSHOptions {
        var options = OpenSSHOptions()
        options.sshPath = sshPath ?? environment("PASSH_SSH") ?? "ssh"
        options.configFile = configFile.map { FilePath($0) }
        options.options = sshOptions
        options.insecure = insecure
        return options
    }
}
