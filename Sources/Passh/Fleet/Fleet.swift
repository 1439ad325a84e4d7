import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Hosts kept connected: connect once, then run any number of commands on them — one after
/// another or at the same time — with the results, events and sinks of ``ParallelSSH``.
///
/// On libssh (``LibSSHTransport``, or the hosts ``AutoTransport`` gives to libssh) each host keeps
/// one session open and each command is a new channel on it: a round trip, not a handshake. On
/// OpenSSH each host goes through a master connection (`ssh -M`, as ``Multiplexing`` starts it)
/// that the first command starts. A command running on a host while another runs there gets a
/// second connection, kept too. A connection found gone when a command starts is made again
/// (once, before the command is sent); one lost while a command runs fails that host with why,
/// and the next command connects again. ``state(of:)`` says which hosts are connected.
///
/// ``close()`` closes every connection; ``with(_:options:transport:_:)`` closes them when its body
/// returns or its task is cancelled. Until then the connections stay open (their sockets count
/// against the open-file limit: one per host on libssh).
public final class Fleet: Sendable {
    /// How commands run (fanout, timeouts, grace…).
    public let options: RunOptions
    private let transport: FleetTransport
    /// The master connections' private directory when the fleet made it (removed by ``close()``).
    private let ownDirectory: FilePath?
    private let state: Mutex<State>

    private struct State {
        var hosts: [Host]
        var closed = false
    }

    /// How long an idle master (OpenSSH) stays up when the fleet made it.
    public static let masterPersistSeconds = 600

    /// A fleet of `hosts` reached through `transport`; nothing connects until a command (or
    /// ``connect(sink:)``).
    ///
    /// An ``OpenSSHTransport`` (or the OpenSSH side of an ``AutoTransport``) with
    /// ``OpenSSHOptions/multiplexing`` keeps its masters where they are and leaves them open after
    /// ``close()`` (they persist as set); without, the fleet starts masters of its own in a private
    /// directory and closes them. Another kind of transport runs each command as it does: nothing
    /// is kept.
    ///
    /// - Throws: ``PasshError`` when the private directory for the masters cannot be made.
    public init(hosts: [Host], options: RunOptions = RunOptions(), transport: any Transport) throws(PasshError) {
        self.options = options
        var ssh: OpenSSHOptions?
        var route: FleetTransport.Route
        if let openSSH = transport as? OpenSSHTransport {
            ssh = openSSH.options
            route = .openSSH
        } else {
            route = .other(transport)
        }
        #if LIBSSH
        if let libSSH = transport as? LibSSHTransport {
            route = .libSSH(libSSH)
        } else if let auto = transport as? AutoTransport {
            ssh = auto.openSSH.options
            route = .auto(auto)
        }
        #endif
        var own: FilePath?
        if var options = ssh, options.multiplexing == nil {
            let base = try Multiplexing.privateDirectory()
            let directory = base.appending("fleet-\(String(UInt64.random(in: .min ... .max), radix: 36))")
            guard mkdir(directory.string, 0o700) == 0 else {
                throw PasshError(.unreadableFile, "Cannot create directory: \(directory): \(Errno(rawValue: errno))")
            }
            own = directory
            options.multiplexing = Multiplexing(directory: directory, seconds: Self.masterPersistSeconds)
            ssh = options
        }
        ownDirectory = own
        self.transport = FleetTransport(
            route: route, masters: OpenSSHTransport(options: ssh ?? OpenSSHOptions()), ownsMasters: own != nil)
        state = Mutex(State(hosts: Self.unique(hosts)))
    }

    /// Runs `body` with a fleet of `hosts`, and closes it when `body` returns or throws, or its
    /// task is cancelled.
    public static func with<Result>(
        _ hosts: [Host], options: RunOptions = RunOptions(), transport: any Transport,
        _ body: (Fleet) async throws -> Result
    ) async throws -> Result {
        let fleet = try Fleet(hosts: hosts, options: options, transport: transport)
        do {
            let result = try await body(fleet)
            await fleet.close()
            return result
        } catch {
            await fleet.close()
            throw error
        }
    }

    // MARK: Hosts

    /// The hosts, in order.
    public var hosts: [Host] { state.withLock { $0.hosts } }

    /// Adds hosts (those already in the fleet are left where they are); they connect with their
    /// first command.
    public func add(_ hosts: [Host]) {
        state.withLock { state in state.hosts = Self.unique(state.hosts + hosts) }
    }

    /// Removes hosts, closing their connections.
    public func remove(_ hosts: [Host]) async {
        let gone = Set(hosts)
        state.withLock { state in state.hosts.removeAll { gone.contains($0) } }
        await closeConnections(of: Array(gone), mastered: transport.masterHosts.remove(gone))
    }

    /// How `host` is connected.
    public func state(of host: Host) -> ConnectionState { transport.state(of: host) }

    /// The transport that reaches `host` (`libssh`, `openssh`), as ``Transport/transportName(for:)``.
    public func transportName(for host: Host) -> String? { transport.transportName(for: host) }

    // MARK: Running

    /// Runs `command` on `hosts` (by default every host of the fleet) over the kept connections;
    /// as ``ParallelSSH/run(_:on:sink:)-(_,[Host],_)``, results in the order of `hosts`.
    ///
    /// - Throws: ``PasshError`` for misuse found before anything starts (no command; a closed
    ///   fleet).
    public func run(
        _ command: [String], on hosts: [Host]? = nil, sink: (any OutputSink)? = nil
    ) async throws(PasshError) -> [HostResult] {
        let hosts = try begin(hosts)
        return try await ParallelSSH(options: options, transport: transport).run(command, on: hosts, sink: sink)
    }

    /// The events of a run of `command` on `hosts` (by default every host), as
    /// ``ParallelSSH/events(_:on:)-(_,[Host])``.
    public func events(_ command: [String], on hosts: [Host]? = nil) -> RunEvents {
        let chosen: [Host]
        do throws(PasshError) {
            chosen = try begin(hosts)
        } catch {
            return RunEvents(
                passh: ParallelSSH(options: options, transport: transport), command: command, hosts: .failure(error))
        }
        return ParallelSSH(options: options, transport: transport).events(command, on: chosen)
    }

    /// Copies to `hosts` (by default every host), as ``ParallelSSH/copy(_:to:sink:)``.
    public func copy(
        _ operation: CopyOperation, to hosts: [Host]? = nil, sink: (any OutputSink)? = nil
    ) async throws(PasshError) -> [HostResult] {
        let hosts = try begin(hosts)
        return try await ParallelSSH(options: options, transport: transport).copy(operation, to: hosts, sink: sink)
    }

    /// Gathers from `hosts` (by default every host), as ``ParallelSSH/gather(_:from:sink:)``.
    public func gather(
        _ operation: GatherOperation, from hosts: [Host]? = nil, sink: (any OutputSink)? = nil
    ) async throws(PasshError) -> [HostResult] {
        let hosts = try begin(hosts)
        return try await ParallelSSH(options: options, transport: transport).gather(operation, from: hosts, sink: sink)
    }

    /// Connects the hosts (by default every host) that have no connection open, without running
    /// a command: on libssh a session logged in, on OpenSSH a master started (by running `true`).
    /// A host that cannot be reached is a failed result.
    public func connect(_ hosts: [Host]? = nil, sink: (any OutputSink)? = nil) async -> [HostResult] {
        guard let hosts = try? begin(hosts) else { return [] }
        var transport = self.transport
        transport.connectOnly = true
        return await Runner(transport: transport, options: options).run(["true"], on: hosts, sink: sink)
    }

    /// A ``ParallelSSH`` whose runs go over the fleet's connections, with the fleet's options:
    /// for what the fleet's own calls do not take (its `options` can be changed; its hosts are
    /// any). Runs after ``close()`` connect again, and nothing closes those connections.
    public var passh: ParallelSSH { ParallelSSH(options: options, transport: transport) }

    /// The hosts to run on.
    private func begin(_ hosts: [Host]?) throws(PasshError) -> [Host] {
        let result: Result<[Host], PasshError> = state.withLock { state in
            if state.closed { return .failure(PasshError(.invalidOption, "the fleet is closed")) }
            return .success(hosts ?? state.hosts)
        }
        return try result.get()
    }

    // MARK: Closing

    /// Closes every connection: libssh sessions at once (a running command's when it ends), the
    /// masters the fleet started. Later runs throw. Runs to its end even when the calling task is
    /// cancelled.
    public func close() async {
        let hosts = state.withLock { state in
            defer { state.closed = true }
            return state.closed ? [] : state.hosts
        }
        let mastered = transport.masterHosts.removeAll()
        let transport = self.transport
        let ownDirectory = self.ownDirectory
        // Not cut short by a cancelled caller: the connections must close.
        await Task {
            await Self.close(transport, hosts: hosts, mastered: mastered, all: true)
            if let ownDirectory { rmdir(ownDirectory.string) }
        }.value
    }

    private func closeConnections(of hosts: [Host], mastered: [Host]) async {
        let transport = self.transport
        await Task { await Self.close(transport, hosts: hosts, mastered: mastered, all: false) }.value
    }

    private static func close(_ transport: FleetTransport, hosts: [Host], mastered: [Host], all: Bool) async {
        #if LIBSSH
        let connections = all ? transport.connections.removeAll() : hosts.flatMap(transport.connections.remove)
        switch transport.route {
        case .libSSH(let libSSH): await libSSH.release(connections)
        case .auto(let auto): await auto.libSSH.release(connections)
        default: break
        }
        #endif
        if !mastered.isEmpty, transport.ownsMasters {
            _ = await ParallelSSH.stopMasters(on: mastered, ssh: transport.masters.options)
        }
    }

    private static func unique(_ hosts: [Host]) -> [Host] {
        var seen = Set<Host>()
        return hosts.filter { seen.insert($0).inserted }
    }
}
