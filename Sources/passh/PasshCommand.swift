import ArgumentParser
import CPasshShims
import Passh
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

@main
struct PasshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passh",
        abstract: "Run one command over SSH on many hosts at once.",
        usage: """
            passh [options] HOSTS COMMAND [ARG...]
              passh [options] -h FILE COMMAND [ARG...]
              passh [options] HOSTS --copy PATH [--copy PATH...] --dest DIR
              passh [options] HOSTS --rcopy PATH [--rcopy PATH...] --dest DIR
            """,
        discussion: """
            Every line a host prints is shown with the host in front, "[host] line": stdout on \
            stdout, stderr on stderr. When any host fails, passh prints "failed at: HOSTS" on \
            stderr and exits 2.

            HOSTS is a comma-separated list of hosts or patterns: web1,web2, node[01-20], \
            r[1-2]n[1-3], web[1-4].example.com, admin@db1:2222, [2001:db8::1]:22, and groups: \
            @web (from $XDG_CONFIG_HOME/passh/groups, lines "web: web[1-4]"), @slurm:batch (from a \
            command in $XDG_CONFIG_HOME/passh/sources, lines "slurm: COMMAND" printing the hosts of \
            $GROUP).

            Everything from COMMAND on goes to ssh untouched (ssh joins the words with spaces for \
            the remote shell), so options after the hosts belong to the command.

            Examples:
              passh web1,web2 uptime
              passh -n 10 'node[001-200]' 'df -h /var'
              passh -h hosts.txt -x web3 --timeout 30 'systemctl restart app'
              passh -i ~/.bashrc h1,h2 dd of=.bashrc
              passh 'web[1-4]' --copy conf.d --copy app.toml --dest /etc/app
              passh 'web[1-4]' --rcopy /var/log/app --dest logs   # logs/web1/app/...
              passh -b 'node[1-50]' cat /etc/os-release
              passh -b -r @all uname -r                   # @NAME: a group
              passh -x @db @slurm:batch uptime            # a group of a source
              passh --json 'web[1-4]' uptime | jq .
              passh --failed-to failed.txt 'node[1-99]' apt-get update
              passh -h failed.txt apt-get update          # retry just the failed hosts
              passh --persist 'node[1-100]' true          # later runs skip the handshake

            The guide is in docs/ of passh's source, one page per topic, indexed with every flag \
            in docs/README.md: docs/hosts.md (patterns, files, @groups), docs/running.md, \
            docs/rollouts.md, docs/sudo.md, docs/copy.md, docs/output.md, docs/json.md (the \
            --json schema), docs/exit-status.md, docs/transports.md (--persist, --stop-remote, \
            libssh).
            """,
        version: PasshCommand.version,
        helpNames: [.long]
    )

    /// `2.1.0 (transports: openssh, libssh)`: the version and the transports built in.
    #if LIBSSH
    static let version = GatewayProtocol.passhVersion + " (transports: openssh, libssh)"
    #else
    static let version = GatewayProtocol.passhVersion + " (transports: openssh)"
    #endif

    @OptionGroup(title: "Hosts")
    var hostFlags: HostFlags

    @OptionGroup(title: "Running")
    var runFlags: RunFlags

    @OptionGroup(title: "Rolling out")
    var rolloutFlags: RolloutFlags

    @OptionGroup(title: "sudo")
    var sudoFlags: SudoFlags

    @OptionGroup(title: "Output")
    var outputFlags: OutputFlags

    @OptionGroup(title: "ssh")
    var sshFlags: SSHFlags

    @OptionGroup(title: "Copying files")
    var copyFlags: CopyFlags

    @OptionGroup(title: "Gateways")
    var gatewayFlags: GatewayFlags

    @Argument(
        help: ArgumentHelp(
            "Hosts, patterns or @groups, comma-separated (omit it when -h gives the hosts).", valueName: "HOSTS"))
    var hosts: String?

    @Argument(
        parsing: .captureForPassthrough,
        help: ArgumentHelp("The command to run on every host, and its arguments.", valueName: "COMMAND"))
    var command: [String] = []

    static func main() async {
        // glibc gives threads that contend for malloc arenas of their own (up to 8 per core), and
        // memory freed in one serves no other: the shell on 1000 kept connections grew by 0.3–0.8
        // MB a command (Pss 59.7 MB after one, 68.8 after ten, 73.9 after thirty); with two arenas
        // it stays at 62 MB, no slower (docs/decisions.md). Before the first thread but this one.
        _ = passh_limit_malloc_arenas(2)
        var command: any ParsableCommand
        do {
            command = try await asyncParseAsRoot()
        } catch {
            // Help and version print as ArgumentParser prints them; a usage error is one line.
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) }
            printError("passh: \(firstLine(of: message(for: error))) (see passh --help)")
            Glibc.exit(code.rawValue)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    mutating func validate() throws {
        if gatewayFlags.serve {
            // Started by a root passh over ssh: it alone says what to run, on stdin.
            if hosts != nil || !command.isEmpty || !hostFlags.hostFiles.isEmpty || gatewayFlags.routes {
                throw ValidationError("--gateway-serve takes no hosts, command or other gateway flag.")
            }
            return
        }
        if !hostFlags.hostFiles.isEmpty, let first = hosts {
            command.insert(first, at: 0)  // with -h, the first word is the command
            hosts = nil
        }
        if command.first == "--" { command.removeFirst() }
        var words = command
        try copyFlags.take(from: &words)
        command = words
        if hostFlags.listGroups {
            if !hostFlags.hostFiles.isEmpty || hostFlags.listHosts || sshFlags.persistStop || !command.isEmpty {
                throw ValidationError(
                    "--list-groups takes at most a SOURCE: no -h, --list-hosts, --persist-stop or COMMAND.")
            }
            return
        }
        if hostFlags.verbose && !hostFlags.listHosts {
            throw ValidationError("-v goes with --list-hosts (it prints each host's transport).")
        }
        if hosts == nil && hostFlags.hostFiles.isEmpty {
            throw ValidationError("Missing the hosts: give HOSTS or -h FILE.")
        }
        if runFlags.terminal && sshFlags.local {
            throw ValidationError("--local runs no ssh: it cannot be used with --tty.")
        }
        if runFlags.terminal && sudoFlags.sudo {
            throw ValidationError("--sudo cannot be used with --tty: the host's terminal would echo the password.")
        }
        let runsCommand = !hostFlags.listHosts && !sshFlags.persistStop
        if copyFlags.copies && !runsCommand {
            throw ValidationError(
                "\(hostFlags.listHosts ? "--list-hosts" : "--persist-stop") takes no \(copyFlags.name).")
        }
        if gatewayFlags.routes, let refused = refusedThroughGateways {
            throw ValidationError("\(gatewayFlags.routingFlag) cannot be used with \(refused.flag): \(refused.reason).")
        }
        try copyFlags.check(command: command, runFlags: runFlags)
        if opensShell {
            // The shell reads its commands from stdin, and runs each without a terminal.
            let refused: String? =
                runFlags.broadcastStdin
                ? "-I" : runFlags.terminal ? "--tty" : gatewayFlags.routes ? "--gateway" : nil
            if let refused {
                throw ValidationError(
                    "\(refused) cannot be used without a COMMAND (the shell reads its commands from stdin).")
            }
        }
        if !runsCommand && !command.isEmpty {
            throw ValidationError("\(hostFlags.listHosts ? "--list-hosts" : "--persist-stop") takes no COMMAND.")
        }
    }

    /// No command to run, no copy, no listing: `passh HOSTS` opens a shell (``Shell``).
    var opensShell: Bool {
        command.isEmpty && !copyFlags.copies && !hostFlags.listHosts && !hostFlags.listGroups && !sshFlags.persistStop
            && !gatewayFlags.serve
    }

    func run() async throws {
        let command = self
        if gatewayFlags.serve {
            let status = await RunControl.supervise { control in await Self.serveGateway(control) }
            if status != 0 { throw ExitCode(status) }
            return
        }
        let status = await RunControl.supervise { control in await command.execute(control) }
        if status != 0 { throw ExitCode(status) }
    }

    /// A flag that makes no sense through gateways, if one is given, and why.
    private var refusedThroughGateways: (flag: String, reason: String)? {
        if sshFlags.local { return ("--local", "it runs the command on this machine, reaching no host") }
        if sshFlags.persistStop {
            return (
                "--persist-stop",
                "it closes this machine's master connections, and a host behind a gateway has none here"
            )
        }
        return nil
    }

    /// Everything after parsing; returns the exit status. A stop (``RunControl``) cancels it; each
    /// step ends on that cancellation, and the status then says what stopped it.
    private func execute(_ control: RunControl) async -> Int32 {
        let writer = OutputWriter()
        do throws(PasshError) {
            let groups = HostFlags.groups()
            if hostFlags.listGroups {
                return await listHosts(try await groups.groups(of: hosts), writer: writer)
            }
            let list = try await hostFlags.hostList(patterns: hosts, groups: groups)
            if let status = control.stoppedStatus { return status }
            var assignment = GatewayRoutes.Assignment()
            var routing = false
            if let gateways = gatewayFlags.gateways {
                var gatewayList = HostList(groups: groups)
                try await gatewayList.add(gateways)
                guard !gatewayList.hosts.isEmpty else {
                    printError("passh: --gateway names no gateway")
                    return 64
                }
                assignment = GatewayRoutes.assignment(of: list.hosts, through: gatewayList.hosts)
                routing = true
            } else if !sshFlags.local && !sshFlags.persistStop, let topology = try gatewayFlags.topologyFile() {
                // --local and --persist-stop reach no host from here: they ignore the file.
                assignment = try await topology.assign(list.hosts, groups: groups)
                routing = true
            }
            let routes = assignment.routes
            if let status = control.stoppedStatus { return status }
            if hostFlags.listHosts && hostFlags.verbose {
                let transport = try sshFlags.transport(defaultUser: hostFlags.user)
                return await listHosts(
                    list.hosts.map { host in
                        (
                            host.name, routes[host] == nil ? sshFlags.choice(for: host, transport: transport) : nil,
                            routes[host]
                        )
                    },
                    showsRoute: routing, writer: writer)
            }
            if hostFlags.listHosts {
                return await listHosts(list.names, writer: writer)
            }
            guard !list.hosts.isEmpty else {
                printError("passh: no hosts to run on")
                return 64
            }
            if outputFlags.regroup { try await groups.prepareRegroup() }
            if sshFlags.insecure && !sshFlags.local {
                printError(
                    "passh: warning: --insecure: host keys are not checked, so anyone between you and the hosts can pose as them"
                )
            }
            let transport = try sshFlags.transport(defaultUser: hostFlags.user)
            if sshFlags.persistStop {
                return await stopMasters(
                    on: list.hosts, ssh: try sshFlags.openSSHOptions(defaultUser: hostFlags.user), writer: writer)
            }
            var options = runFlags.runOptions
            options.rollout = rolloutFlags.rollout
            options.emergencyStop = control.emergencyStop
            var gateways: GatewayRoutes?
            if !routes.isEmpty {
                var link = try sshFlags.openSSHOptions(defaultUser: hostFlags.user)
                link.multiplexing = nil
                link.stopRemoteCommands = false
                var routed = GatewayRoutes(
                    assignment, passh: gatewayFlags.gatewayPassh ?? "passh", ssh: link,
                    setup: GatewayFlags.setup(sshFlags, user: hostFlags.user))
                routed.rerouted = { reroute in
                    let instead = reroute.replacement.map { "go through \($0.name)" } ?? "are reached directly"
                    printError(
                        "passh: gateway \(reroute.gateway.name) cannot be reached (\(reroute.reason)): its hosts \(instead)"
                    )
                }
                if gatewayFlags.pushPassh {
                    routed.push = try await GatewayFlags.push()
                    routed.pushed = { gateway in
                        printError(
                            "passh: gateway \(gateway.name) has no passh \(GatewayProtocol.passhVersion): this passh was copied to ~/.cache/passh/\(GatewayProtocol.passhVersion)/passh there"
                        )
                    }
                }
                gateways = routed
            }
            do {
                options.sudo = try await sudoFlags.makeSudo(
                    probe: { [gateways] in
                        await SudoProbe(transport: transport, options: options, gateways: gateways).answer(
                            for: list.hosts)
                    })
            } catch {
                if let status = control.stoppedStatus { return status }
                printError("passh: \(error.message)")
                return 1
            }
            if let status = control.stoppedStatus { return status }
            let limit = OpenFileLimit.raise()
            guard limit >= OpenFileLimit.minimum else {
                printError(
                    "passh: the open-file limit is \(limit): passh needs at least \(OpenFileLimit.minimum) (raise it with ulimit -n)"
                )
                return 1
            }
            let requested = options.requestedHostsAtOnce(of: list.hosts.count)
            let perHost =
                transport.descriptorsPerHost(
                    sendingStdin: options.stdinFile != nil || runFlags.broadcastStdin || !copyFlags.copy.isEmpty)
                + (copyFlags.rcopy.isEmpty ? 0 : GatherOperation.descriptorsPerHost)
            let capacity = OpenFileLimit.hostsAtOnce(requested, descriptorsPerHost: perHost)
            if requested > capacity {
                printError(
                    "passh: running at most \(capacity) hosts at once: the open-file limit is \(OpenFileLimit.current)")
            }
            // Stdin that can be read only once (-I, or -i naming a pipe) is copied first.
            let spool: StdinSpool?
            do throws(PasshError) {
                if runFlags.broadcastStdin {
                    spool = try await StdinSpool(reading: .standardInput, name: "stdin")
                } else if let file = options.stdinFile, try StdinSpool.needsSpooling(file) {
                    spool = try await StdinSpool(contentsOf: file)
                } else {
                    spool = nil
                }
            } catch {
                if let status = control.stoppedStatus { return status }
                throw error
            }
            if let spool { options.stdinFile = spool.path }
            defer { spool?.close() }
            if opensShell {
                let shell = Shell(
                    fleet: try Fleet(hosts: list.hosts, options: options, transport: transport),
                    outputFlags: outputFlags, groups: groups, writer: writer, control: control,
                    interactive: isatty(0) == 1, openSSH: !sshFlags.local && !sshFlags.persist && !sshFlags.stopRemote,
                    overPlainOpenSSH: { [sshFlags] in sshFlags.usesPlainOpenSSH($0, transport: transport) })
                return await shell.run()
            }
            // The archive to send is made before any host starts; a missing path stops here.
            let work: Work
            do throws(PasshError) {
                work = try await copyFlags.work() ?? .command(command)
            } catch {
                if let status = control.stoppedStatus { return status }
                throw error
            }
            if let status = control.stoppedStatus { return status }
            let sink = try outputFlags.sink(writer: writer, groups: groups)
            var passh = ParallelSSH(options: options, transport: transport)
            passh.gateways = gateways
            var invocation = Invocation(
                passh: passh, hosts: list.hosts, work: work,
                sink: sink, writer: writer, failedTo: runFlags.failedTo.map { FilePath($0) }, maxRC: outputFlags.maxRC)
            invocation.explainHosts = !outputFlags.json
            invocation.openSSH = !sshFlags.local && !sshFlags.persist && !sshFlags.stopRemote
            invocation.overPlainOpenSSH = { [sshFlags] in sshFlags.usesPlainOpenSSH($0, transport: transport) }
            if let files = sink as? FileSink { invocation.outputFailures = { Set(files.failures.keys) } }
            return await invocation.run(control: control)
        } catch {
            return report(error)
        }
    }
}

extension PasshCommand {
    /// `--gateway-serve`: a root passh's requests on stdin, the hosts' events on stdout, until
    /// stdin ends (the root is done, or gone) and every host has stopped.
    static func serveGateway(_ control: RunControl) async -> Int32 {
        var server = GatewayServer { setup throws(PasshError) in try GatewayFlags.transport(for: setup) }
        server.emergencyStop = control.emergencyStop
        return await server.serve(input: .standardInput, writer: OutputWriter())
    }
}

/// The first line of a usage error, cut to 300 characters: the words quoted from a flag's value
/// (`--batch`) stay readable whatever its length.
func firstLine(of message: String) -> String {
    let line = message.split(separator: "\n").first ?? ""
    return line.count > 300 ? line.prefix(300) + "…" : String(line)
}

/// `--list-hosts -v`: each host, the transport that would reach it (`local` for `--local`) and,
/// for OpenSSH chosen by passh, why — in columns: `web1  openssh  CertificateFile`; a host through
/// a gateway, `web1  via gw1` (the gateway chooses its transport). When gateways are in play
/// (`showsRoute`), a host reached from here says so first: `db1  direct  libssh`.
func listHosts(
    _ hosts: [(name: String, choice: TransportChoice?, gateway: Host?)], showsRoute: Bool = false,
    writer: OutputWriter
) async -> Int32 {
    let width = hosts.map(\.name.count).max() ?? 0
    let lines = hosts.map { host -> String in
        var name = host.name + String(repeating: " ", count: width - host.name.count)
        if let gateway = host.gateway { return name + "  via " + gateway.name }
        if showsRoute { name += "  direct" }
        guard let choice = host.choice else { return name + "  local" }
        guard let reason = choice.reason else { return name + "  " + choice.kind.rawValue }
        return name + "  " + choice.kind.rawValue + "  " + reason
    }
    return await listHosts(lines, writer: writer)
}

/// `--list-hosts`: the hosts, one per line; a write error is a message and exit status 1 (141 for
/// a reader that went away).
func listHosts(_ names: [String], writer: OutputWriter) async -> Int32 {
    await writer.write(Array(names.map { $0 + "\n" }.joined().utf8), to: .stdout)
    await writer.flush()
    guard let error = writer.error(on: .stdout) else { return 0 }
    if error == .brokenPipe { return 141 }
    printError("passh: cannot write to stdout: \(error)")
    return 1
}
