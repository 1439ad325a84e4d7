import ArgumentParser
import Passh
import SystemPackage

/// How passh calls ssh.
struct SSHFlags: ParsableArguments {
    @Option(
        name: .customShort("F"),
        help: ArgumentHelp("Use this ssh_config file instead of ~/.ssh/config.", valueName: "CONFIG"))
    var configFile: String?

    @Option(
        name: .customShort("o"),
        help: ArgumentHelp("Pass -o OPTION to ssh (repeatable); yours come first, so they win.", valueName: "OPTION"))
    var sshOptions: [String] = []

    @Option(
        name: .customShort("t"), parsing: .unconditional,
        help: ArgumentHelp("Give up connecting after SECONDS (ssh's ConnectTimeout).", valueName: "SECONDS"))
    var connectTimeout: Int = 6

    @Option(
        name: .customLong("ssh"),
        help: ArgumentHelp("The ssh client to run (default: $PASSH_SSH, else ssh).", valueName: "PATH"))
    var sshPath: String?

    @Flag(help: "Do not check host keys (StrictHostKeyChecking=no, UserKnownHostsFile=/dev/null).")
    var insecure = false

    @Flag(
        name: .customLong("persist"),
        help:
            "Keep each connection open after the run (--persist-seconds, default 60), so the next run skips the handshake: OpenSSH multiplexing, sockets in a private directory."
    )
    var persist = false

    @Option(
        name: .customLong("persist-seconds"), parsing: .unconditional,
        help: ArgumentHelp("With --persist: how long an idle connection stays open (default 60).", valueName: "SECONDS")
    )
    var persistSeconds: Int?

    @Flag(
        name: .customLong("persist-stop"),
        help: "Close the connections --persist left open to HOSTS, and exit (no COMMAND).")
    var persistStop = false

    @Flag(
        name: .customLong("stop-remote"),
        help:
            "OpenSSH: run each host through a master connection of its own (ssh -M -N), so that ^C, --timeout and --fail-fast stop the remote command (SIGTERM, then SIGKILL) and a command killed by a signal is reported as such. --persist always does."
    )
    var stopRemote = false

    @Option(
        name: .customLong("transport"),
        help: ArgumentHelp(
            "How hosts are reached: auto (libssh inside passh wherever it gives what ssh would, else an ssh process; see --list-hosts -v), openssh (an ssh process per host) or libssh; default $PASSH_TRANSPORT, else auto.",
            valueName: "NAME"))
    var transportName: String?

    @Flag(
        help:
            "Run the command on this machine, once per host, with /bin/sh (PASSH_HOST names the host): to try passh without ssh."
    )
    var local = false

    /// The transports passh knows by name.
    enum TransportName: String {
        case auto, openssh, libssh
    }

    /// `--transport`, else `$PASSH_TRANSPORT`, else auto.
    var transportChoice: TransportName {
        (transportName ?? environment("PASSH_TRANSPORT")).flatMap(TransportName.init(rawValue:)) ?? .auto
    }

    mutating func validate() throws {
        let name = transportName ?? environment("PASSH_TRANSPORT").flatMap { $0.isEmpty ? nil : $0 }
        if let name {
            let source = transportName == nil ? "PASSH_TRANSPORT=\(name)" : "--transport \(name)"
            guard let choice = TransportName(rawValue: name) else {
                throw ValidationError("\(source): the transport must be auto, openssh or libssh.")
            }
            #if !LIBSSH
            if choice == .libssh {
                throw ValidationError(
                    "\(source): this passh was built without libssh; rebuild it with the LibSSH trait (the default; needs libssh-dev)."
                )
            }
            #endif
            if choice == .libssh && !local {
                if persist || persistStop {
                    throw ValidationError(
                        "\(persist ? "--persist" : "--persist-stop") uses OpenSSH's connection sharing (ControlMaster): it cannot be used with \(source)."
                    )
                }
                if stopRemote {
                    throw ValidationError(
                        "--stop-remote is for the OpenSSH transport: libssh always stops remote commands.")
                }
                if sshPath != nil {
                    throw ValidationError("--ssh names an ssh client: it cannot be used with \(source).")
                }
            }
            if choice == .libssh && local && transportName != nil {
                throw ValidationError("--local runs no ssh: it cannot be used with --transport libssh.")
            }
        }
        if !(1...maximumSeconds).contains(connectTimeout) {
            throw ValidationError("-t must be a number of seconds from 1 to \(maximumSeconds), not \(connectTimeout).")
        }
        if let persistSeconds {
            if !persist { throw ValidationError("--persist-seconds needs --persist.") }
            if !(1...maximumSeconds).contains(persistSeconds) {
                throw ValidationError(
                    "--persist-seconds must be a number of seconds from 1 to \(maximumSeconds), not \(persistSeconds).")
            }
        }
        if persist && persistStop {
            throw ValidationError("--persist and --persist-stop cannot be used together.")
        }
        if local && stopRemote {
            throw ValidationError("--local runs no ssh: it cannot be used with --stop-remote.")
        }
        if local && (persist || persistStop) {
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
        options.stopRemoteCommands = stopRemote
        if persist || persistStop {
            options.multiplexing = Multiplexing(
                directory: try Multiplexing.privateDirectory(), seconds: persistSeconds ?? 60)
        }
        return options
    }

    /// The transport the flags ask for; `maximumHandshakes`: the native transport's cap on
    /// handshakes in flight (a gateway's share of the root's), `nil`: its default.
    func transport(defaultUser: String?, maximumHandshakes: Int? = nil) throws(PasshError) -> any Transport {
        if local { return LocalTransport() }
        #if LIBSSH
        var native = libSSHOptions(defaultUser: defaultUser)
        if let maximumHandshakes { native.maximumHandshakes = maximumHandshakes }
        if transportChoice == .libssh { return try LibSSHTransport(options: native) }
        if transportChoice == .auto && everyHostOnOpenSSH == nil {
            return try AutoTransport(
                ssh: openSSHOptions(defaultUser: defaultUser), maximumHandshakes: native.maximumHandshakes)
        }
        #endif
        return OpenSSHTransport(options: try openSSHOptions(defaultUser: defaultUser))
    }

    /// With the auto transport, what sends every host to OpenSSH: a flag only OpenSSH serves, an
    /// ssh client named, or a build without libssh; `nil` when hosts are chosen one by one.
    var everyHostOnOpenSSH: String? {
        #if !LIBSSH
        return "built without libssh"
        #else
        if persist { return "--persist" }
        if persistStop { return "--persist-stop" }
        if stopRemote { return "--stop-remote" }
        if sshPath != nil { return "--ssh" }
        if environment("PASSH_SSH") != nil { return "PASSH_SSH" }
        return nil
        #endif
    }

    /// Which transport reaches `host` through `transport`, and why OpenSSH when it is OpenSSH and
    /// the choice was passh's (`--transport auto`); `nil` for `--local`.
    func choice(for host: Host, transport: any Transport) -> TransportChoice? {
        if local { return nil }
        #if LIBSSH
        if let auto = transport as? AutoTransport { return auto.choice(for: host) }
        if transport is LibSSHTransport { return .libssh }
        #endif
        if transportChoice == .auto, let reason = everyHostOnOpenSSH { return .openssh(reason) }
        return TransportChoice(kind: .openssh, reason: nil)
    }

    /// Whether a host reached through `transport` goes through a plain OpenSSH `ssh` (whose exit
    /// status 255 means its own failure, and which cannot stop a remote command); through a master
    /// in proxy mode (`--persist`, `--stop-remote`), 255 is the command's.
    func usesPlainOpenSSH(_ host: Host, transport: any Transport) -> Bool {
        guard !local, !persist, !stopRemote else { return false }
        return choice(for: host, transport: transport)?.kind == .openssh
    }

    #if LIBSSH
    func libSSHOptions(defaultUser: String?) -> LibSSHOptions {
        var options = LibSSHOptions()
        options.configFile = configFile.map { FilePath($0) }
        options.options = sshOptions
        options.insecure = insecure
        options.connectTimeout = connectTimeout
        options.defaultUser = defaultUser
        return options
    }
    #endif
}
