import Dispatch
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Runs one command over SSH on many hosts at once.
///
/// ```swift
/// let passh = ParallelSSH(options: RunOptions(), ssh: OpenSSHOptions())
/// let results = try await passh.run(["uptime"], on: ["web1", "web2"])
/// for result in results where !result.isSuccess { print("failed:", result.host) }
/// ```
///
/// Three ways to use it, one engine underneath:
/// - ``run(_:on:sink:)-(_,[Host],_)``, async, returns one ``HostResult`` per host (with the host's output when
///   ``RunOptions/collectOutput`` is set) and streams to an ``OutputSink`` if you give one;
/// - ``events(_:on:)``, an `AsyncSequence` of ``RunEvent``s for callers that render output themselves;
/// - ``runBlocking(_:on:sink:)`` for programs that are not async.
///
/// Each call is independent: run as many as you like, one after another or at the same time.
public struct ParallelSSH: Sendable {
    /// How runs behave: fanout, stdin file, collection, fail-fast, timeout.
    public var options: RunOptions
    /// How hosts are reached; ``OpenSSHTransport`` unless you pass another.
    public var transport: any Transport
    /// The hosts reached through gateways, and how; `nil`: every host is reached directly.
    /// Commands, copies and gathers go through them alike.
    public var gateways: GatewayRoutes?

    /// Runs over the OpenSSH client, called as `ssh` describes.
    public init(options: RunOptions = RunOptions(), ssh: OpenSSHOptions = OpenSSHOptions()) {
        self.options = options
        self.transport = OpenSSHTransport(options: ssh)
    }

    /// Runs over any transport (``LocalTransport`` for tests, for instance).
    public init(options: RunOptions = RunOptions(), transport: any Transport) {
        self.options = options
        self.transport = transport
    }

    /// Runs `command` on every host and returns one result per host, in the order given.
    ///
    /// A host that fails (non-zero exit, ssh error, timeout) is a result, not an error. Cancelling
    /// the calling task stops every running host (its command is asked to end, given
    /// ``RunOptions/terminationGrace``, then ended) and returns promptly, the unfinished hosts
    /// reported ``HostOutcome/cancelled``; ``RunOptions/emergencyStop`` ends them at once.
    ///
    /// - Parameters:
    ///   - command: The remote command's words; ssh joins them with spaces for the remote shell.
    ///   - hosts: The hosts, in order.
    ///   - sink: Where output goes as it arrives (e.g. ``PrefixedSink``); `nil` to only collect.
    /// - Throws: ``PasshError`` for misuse found before any process starts: no command, a
    ///   negative fanout, an unreadable stdin file or one that is not a regular file.
    public func run(
        _ command: [String], on hosts: [Host], sink: (any OutputSink)? = nil
    ) async throws(PasshError) -> [HostResult] {
        try validate(command)
        guard let gateways, !gateways.routes.isEmpty else {
            return await Runner(transport: transport, options: options).run(command, on: hosts, sink: sink)
        }
        return await run(CommandOperation(command: command), on: hosts, sink: sink, through: gateways)
    }

    /// A run with some hosts through gateways: one link per gateway that has hosts, for the run's
    /// life, beside the runner; when the runner is done the gateways are told, and the run returns
    /// once they have exited. A copy's archive, as a stdin file, crosses each gateway's link once;
    /// a gather's archives come back in pieces, as the gateway reads them.
    func run(
        _ operation: any HostOperation, on hosts: [Host], sink: (any OutputSink)?, through gateways: GatewayRoutes
    ) async -> [HostResult] {
        let openSSH = OpenSSHTransport(options: gateways.ssh)
        let options = options
        var links: [Host: GatewayLink] = [:]
        let setup = gateways.setup.share(among: Set(hosts.compactMap { gateways.routes[$0] }).count)
        func link(_ gateway: Host, spare: Bool) {
            guard links[gateway] == nil else { return }
            links[gateway] = GatewayLink(
                gateway: gateway, transport: openSSH, command: gateways.command, setup: setup,
                grace: options.terminationGrace, maximumLineLength: options.maximumLineLength,
                emergencyStop: options.emergencyStop, spare: spare, push: gateways.push, pushed: gateways.pushed,
                helloTimeout: GatewayLink.helloTimeout(connectTimeout: gateways.ssh.connectTimeout))
        }
        var routes: [Host: Host] = [:]
        var spares: Set<Host> = []
        for host in hosts {
            guard let gateway = gateways.routes[host] else { continue }
            link(gateway, spare: false)
            routes[host] = gateway
            for other in gateways.routeGateways[host] ?? [] where other != gateway { spares.insert(other) }
        }
        for gateway in spares { link(gateway, spare: true) }
        let transport = RoutedTransport(
            direct: transport, routes: routes, routeGateways: gateways.routeGateways, links: links,
            rerouted: gateways.rerouted)
        let all = Array(links.values)
        return await withTaskGroup(of: [HostResult]?.self) { group in
            for link in all {
                group.addTask {
                    await link.serve(); return nil
                }
            }
            group.addTask {
                let results = await Runner(transport: transport, options: options).run(
                    operation, on: hosts, sink: sink)
                for link in all { link.finish() }
                return results
            }
            var results: [HostResult] = []
            while let next = await group.next() {
                if let next { results = next }
            }
            return results
        }
    }

    /// Parses the host names (see ``Host/init(_:)``) and runs `command` on them.
    @_disfavoredOverload
    public func run(
        _ command: [String], on hostNames: [String], sink: (any OutputSink)? = nil
    ) async throws(PasshError) -> [HostResult] {
        try await run(command, on: Self.hosts(hostNames), sink: sink)
    }

    /// The events of a run, as they happen: a host started, a line of output, a host finished.
    ///
    /// The run starts when iteration starts and is cancelled (its processes torn down) when the
    /// iterating task is cancelled or the iterator is released. It waits for the consumer: a host's
    /// output is not read further until its lines have been taken. Misuse (see
    /// ``run(_:on:sink:)-(_,[Host],_)``) is thrown by the first `next()`.
    ///
    /// - Important: In top-level code (`main.swift`, a script) Swift never releases a `for try
    ///   await` loop's iterator: a `break` there leaves the run going, every host waiting for a
    ///   reader. Use ``withEvents(_:on:isolation:_:)-(_,[Host],_,_)`` there (and wherever the run
    ///   must be over at a known point): its run ends when its body returns.
    ///
    /// Lines are handed over a chunk at a time (one handoff per chunk, not per line); for bulk
    /// output, a sink (``run(_:on:sink:)-(_,[Host],_)``) is still the cheaper path.
    public func events(_ command: [String], on hosts: [Host]) -> RunEvents {
        RunEvents(passh: self, command: command, hosts: .success(hosts))
    }

    /// Parses the host names (see ``Host/init(_:)``) and gives the run's events; an invalid name is
    /// thrown by the first `next()`.
    @_disfavoredOverload
    public func events(_ command: [String], on hostNames: [String]) -> RunEvents {
        let hosts: Result<[Host], PasshError>
        do throws(PasshError) {
            hosts = .success(try Self.hosts(hostNames))
        } catch {
            hosts = .failure(error)
        }
        return RunEvents(passh: self, command: command, hosts: hosts)
    }

    /// Runs `command` on every host and waits, blocking the calling thread: for programs that
    /// are not async. Callable any number of times in one process.
    ///
    /// Do not call it from async code: use ``run(_:on:sink:)-(_,[Host],_)`` there.
    @available(*, noasync, message: "use run(_:on:sink:) from async code")
    public func runBlocking(
        _ command: [String], on hosts: [Host], sink: (any OutputSink)? = nil
    ) throws(PasshError) -> [HostResult] {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<[HostResult], PasshError>?>(nil)
        Task.detached {
            let result: Result<[HostResult], PasshError>
            do throws(PasshError) {
                result = .success(try await self.run(command, on: hosts, sink: sink))
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// Closes the master connections that ``OpenSSHOptions/multiplexing`` left open to `hosts`,
    /// at most ``RunOptions/fanout`` at once. A host without one counts as done.
    public static func stopMasters(
        on hosts: [Host], ssh: OpenSSHOptions, options: RunOptions = RunOptions(), sink: (any OutputSink)? = nil
    ) async -> [HostResult] {
        await Runner(transport: MasterStoppingTransport(options: ssh), options: options).run([], on: hosts, sink: sink)
    }

    /// Parses host names, refusing the first invalid one.
    public static func hosts(_ names: [String]) throws(PasshError) -> [Host] {
        var hosts: [Host] = []
        hosts.reserveCapacity(names.count)
        for name in names { hosts.append(try Host(name)) }
        return hosts
    }

    func validate(_ command: [String]) throws(PasshError) {
        if command.isEmpty || command.allSatisfy(\.isEmpty) {
            throw PasshError(.invalidOption, "no command given")
        }
        try validateOptions()
        if let file = options.stdinFile { try Self.checkReadableFile(file) }
    }

    /// Refuses options out of range.
    func validateOptions() throws(PasshError) {
        if options.fanout < 0 {
            throw PasshError(.invalidOption, "fanout must be 0 (no limit) or more, not \(options.fanout)")
        }
        if let timeout = options.commandTimeout, timeout <= .zero {
            throw PasshError(.invalidOption, "the command timeout must be positive")
        }
        if options.maximumLineLength < 1 {
            throw PasshError(.invalidOption, "the maximum line length must be positive")
        }
        try Self.validate(options.rollout)
        if options.terminal && options.sudo?.password != nil {
            throw PasshError(
                .invalidOption,
                "a sudo password cannot be sent to a command that has a terminal: the terminal would echo it")
        }
    }

    private static func validate(_ rollout: Rollout) throws(PasshError) {
        if rollout.canaries < 0 {
            throw PasshError(.invalidOption, "the number of canaries must be 0 or more, not \(rollout.canaries)")
        }
        for count in [rollout.batch, rollout.maxFailures].compactMap(\.self) {
            switch count {
            case .hosts(let hosts) where hosts < 0:
                throw PasshError(.invalidOption, "a number of hosts must be 0 or more, not \(hosts)")
            case .percent(let share) where !(1...100).contains(share):
                throw PasshError(.invalidOption, "a percentage of hosts must be from 1 to 100, not \(share)")
            default: break
            }
        }
        if rollout.batch == .hosts(0) {
            throw PasshError(.invalidOption, "a wave must have at least 1 host")
        }
        if rollout.retries < 0 || rollout.retryDelay < .zero {
            throw PasshError(.invalidOption, "retries and their delay must be 0 or more")
        }
    }

    /// Refuses a path that is missing, not a regular file (a directory, a pipe…), or not readable.
    static func checkReadableFile(_ path: FilePath) throws(PasshError) {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec, .nonBlocking])
        } catch let error as Errno {
            if error == .noSuchFileOrDirectory {
                throw PasshError(.unreadableFile, "No such file: \(path.string)")
            }
            throw PasshError(.unreadableFile, "Cannot read file: \(path.string): \(error)")
        } catch {
            throw PasshError(.unreadableFile, "Cannot read file: \(path.string): \(error)")
        }
        defer { try? fd.close() }
        var info = stat()
        guard fstat(fd.rawValue, &info) == 0 else {
            throw PasshError(.unreadableFile, "Cannot read file: \(path.string)")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw PasshError(.unreadableFile, "Not a file: \(path.string) is a directory")
        }
        if (info.st_mode & S_IFMT) != S_IFREG {
            // A pipe or a device can be read once, not once per host: every host would get a part.
            throw PasshError(
                .unreadableFile, "Not a regular file: \(path.string) can be read only once, not by every host")
        }
        var probe: UInt8 = 0
        if read(fd.rawValue, &probe, 0) < 0 {
            throw PasshError(.unreadableFile, "Cannot read file: \(path.string): \(Errno(rawValue: errno))")
        }
    }
}
