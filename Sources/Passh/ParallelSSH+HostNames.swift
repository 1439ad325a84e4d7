extension ParallelSSH {
    /// Parses the host names (see ``Host/init(_:)``) and runs `command` on them, blocking (see
    /// ``runBlocking(_:on:sink:)-(_,[Host],_)``).
    @available(*, noasync, message: "use run(_:on:sink:) from async code")
    @_disfavoredOverload
    public func runBlocking(
        _ command: [String], on hostNames: [String], sink: (any OutputSink)? = nil
    ) throws(PasshError) -> [HostResult] {
        try runBlocking(command, on: Self.hosts(hostNames), sink: sink)
    }

    /// Parses the host names (see ``Host/init(_:)``) and sends `operation`'s files to them (see
    /// ``copy(_:to:sink:)-(_,[Host],_)``).
    @_disfavoredOverload
    public func copy(
        _ operation: CopyOperation, to hostNames: [String], sink: (any OutputSink)? = nil
    ) async throws(PasshError) -> [HostResult] {
        try await copy(operation, to: Self.hosts(hostNames), sink: sink)
    }

    /// Parses the host names (see ``Host/init(_:)``) and fetches `operation`'s files from them
    /// (see ``gather(_:from:sink:)-(_,[Host],_)``).
    @_disfavoredOverload
    public func gather(
        _ operation: GatherOperation, from hostNames: [String], sink: (any OutputSink)? = nil
    ) async throws(PasshError) -> [HostResult] {
        try await gather(operation, from: Self.hosts(hostNames), sink: sink)
    }

    /// Parses the host names (see ``Host/init(_:)``) and closes their master connections (see
    /// ``stopMasters(on:ssh:options:sink:)-(_,_,_,_)``).
    @_disfavoredOverload
    public static func stopMasters(
        on hostNames: [String], ssh: OpenSSHOptions, options: RunOptions = RunOptions(),
        sink: (any OutputSink)? = nil
    ) async throws(PasshError) -> [HostResult] {
        await stopMasters(on: try hosts(hostNames), ssh: ssh, options: options, sink: sink)
    }
}
