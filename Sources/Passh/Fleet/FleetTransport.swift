#if canImport(Glibc)
import Glibc
#endif

/// The transport of a ``Fleet``'s runs: each host over its kept connection. A host on libssh runs
/// its command as a new channel of its open session (connecting first when it has none, and once
/// more when the session turns out to be gone before the command was sent); a host on OpenSSH goes
/// through its master connection (started by the first command). Other transports run as they are.
struct FleetTransport: Transport {
    /// Where commands go.
    enum Route: Sendable {
        #if LIBSSH
        /// libssh for every host.
        case libSSH(LibSSHTransport)
        /// libssh or OpenSSH per host, as the auto transport chooses.
        case auto(AutoTransport)
        #endif
        /// OpenSSH for every host.
        case openSSH
        /// A transport of another kind: nothing is kept.
        case other(any Transport)
    }

    let route: Route
    /// The OpenSSH transport through masters, for the hosts on OpenSSH.
    let masters: OpenSSHTransport
    /// Whether the fleet started those masters (and closes them).
    let ownsMasters: Bool
    /// Only connect: log in (libssh) or start the master (OpenSSH, running `true`); a host
    /// connected already is left as it is.
    var connectOnly = false
    #if LIBSSH
    let connections = FleetConnections()
    #endif
    /// The hosts that went through a master.
    let masterHosts = FleetMasters()

    func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        if connectOnly && state(of: host) == .connected { return .exited(0) }
        let command = connectOnly ? (usesMaster(host) ? ["true"] : []) : command
        if usesMaster(host) { masterHosts.used(host) }
        switch route {
        #if LIBSSH
        case .libSSH(let libSSH):
            return await runKept(
                command, on: host, options: options, libSSH: libSSH, settings: libSSH.chooser.nativeSettings(host),
                output: output)
        case .auto(let auto):
            if let settings = auto.nativeSettings(for: host) {
                return await runKept(
                    command, on: host, options: options, libSSH: auto.libSSH, settings: settings, output: output)
            }
            return await masters.run(command, on: host, options: options, output: output)
        #endif
        case .openSSH:
            return await masters.run(command, on: host, options: options, output: output)
        case .other(let transport):
            return await transport.run(command, on: host, options: options, output: output)
        }
    }

    #if LIBSSH
    /// Runs on a kept libssh connection; an empty `command` only connects.
    private func runKept(
        _ command: [String], on host: Host, options: SessionOptions, libSSH: LibSSHTransport,
        settings: SSHHostSettings?, output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        var tries = 0
        while true {
            tries += 1
            let (connection, reused) = connections.take(host, make: libSSH.keptConnection)
            let termination = await libSSH.run(
                command, on: host, options: options, settings: settings, kept: connection,
                connectOnly: command.isEmpty, output: output)
            connections.put(connection, of: host)
            // The kept session was gone before the command went out (the host restarted, the
            // network dropped it while idle): once more, on a new connection.
            if reused, tries == 1, !Task.isCancelled, case .failed(let failure) = termination,
                failure.kind == .connectionLost, !failure.commandMayHaveRun
            {
                continue
            }
            return termination
        }
    }
    #endif

    /// How `host` is connected.
    func state(of host: Host) -> Fleet.ConnectionState {
        switch route {
        #if LIBSSH
        case .libSSH:
            return connections.state(of: host)
        case .auto(let auto):
            if auto.nativeSettings(for: host) != nil { return connections.state(of: host) }
            return masterState(of: host)
        #endif
        case .openSSH:
            return masterState(of: host)
        case .other:
            return .notConnected
        }
    }

    /// A host on OpenSSH is connected while its master's socket is there (a master removes it when
    /// it exits).
    private func masterState(of host: Host) -> Fleet.ConnectionState {
        guard let path = masters.options.controlPath(for: host) else { return .notConnected }
        var info = stat()
        return lstat(path, &info) == 0 ? .connected : .notConnected
    }

    /// Whether `host` goes through an OpenSSH master.
    func usesMaster(_ host: Host) -> Bool {
        switch route {
        #if LIBSSH
        case .libSSH: return false
        case .auto(let auto): return auto.nativeSettings(for: host) == nil
        #endif
        case .openSSH: return true
        case .other: return false
        }
    }

    func descriptorsPerHost(sendingStdin: Bool) -> Int {
        switch route {
        #if LIBSSH
        case .libSSH(let libSSH): libSSH.descriptorsPerHost(sendingStdin: sendingStdin)
        case .auto(let auto): auto.descriptorsPerHost(sendingStdin: sendingStdin)
        #endif
        case .openSSH: masters.descriptorsPerHost(sendingStdin: sendingStdin)
        case .other(let transport): transport.descriptorsPerHost(sendingStdin: sendingStdin)
        }
    }

    func descriptorsPerHost(sendingStdin: Bool, on hosts: [Host]) -> Int {
        switch route {
        #if LIBSSH
        case .libSSH(let libSSH): libSSH.descriptorsPerHost(sendingStdin: sendingStdin, on: hosts)
        case .auto(let auto): auto.descriptorsPerHost(sendingStdin: sendingStdin, on: hosts)
        #endif
        case .openSSH: masters.descriptorsPerHost(sendingStdin: sendingStdin, on: hosts)
        case .other(let transport): transport.descriptorsPerHost(sendingStdin: sendingStdin, on: hosts)
        }
    }

    func transportName(for host: Host) -> String? {
        switch route {
        #if LIBSSH
        case .libSSH(let libSSH): libSSH.transportName(for: host)
        case .auto(let auto): auto.transportName(for: host)
        #endif
        case .openSSH: masters.transportName(for: host)
        case .other(let transport): transport.transportName(for: host)
        }
    }
}
