extension ParallelSSH {
    /// Sends `operation`'s files to every host (see ``CopyOperation``) and returns one result per
    /// host, in the order given, each with the ``HostResult/transfer`` it received when it
    /// succeeded.
    ///
    /// Everything that applies to a command applies here: fanout, timeout, fail-fast,
    /// cancellation, the sink (which sees what the remote `tar` prints), ``gateways`` (the archive
    /// then crosses each gateway's link once, and the gateway gives it to each of its hosts).
    ///
    /// - Throws: ``PasshError`` for misuse found before any host starts: options out of range, or
    ///   a ``RunOptions/stdinFile`` (the archive is every host's stdin).
    public func copy(
        _ operation: CopyOperation, to hosts: [Host], sink: (any OutputSink)? = nil
    ) async throws(PasshError) -> [HostResult] {
        try await run(
            operation, on: hosts, sink: sink,
            refusingStdin: "a copy sends its archive as every host's stdin: it takes no stdin file")
    }

    /// Fetches `operation`'s files from every host into its own directory (see
    /// ``GatherOperation``) and returns one result per host, in the order given, each with the
    /// ``HostResult/transfer`` it sent. A host whose archive is malformed or tries to write outside
    /// its directory fails (``HostFailure/Kind/other``, the reason in its message) and its session is
    /// stopped. A host behind one of ``gateways`` sends its archive through the gateway, in pieces
    /// as the gateway reads them: it is unpacked here all the same.
    ///
    /// - Throws: ``PasshError`` for misuse found before any host starts: options out of range, or
    ///   a ``RunOptions/stdinFile``.
    public func gather(
        _ operation: GatherOperation, from hosts: [Host], sink: (any OutputSink)? = nil
    ) async throws(PasshError) -> [HostResult] {
        try await run(operation, on: hosts, sink: sink, refusingStdin: "a gather takes no stdin file")
    }

    /// Runs an operation that makes its own stdin: a stdin file is refused with `refusal`.
    private func run(
        _ operation: any HostOperation, on hosts: [Host], sink: (any OutputSink)?, refusingStdin refusal: String
    ) async throws(PasshError) -> [HostResult] {
        try validateOptions()
        if options.stdinFile != nil { throw PasshError(.invalidOption, refusal) }
        if let gateways, !gateways.routes.isEmpty {
            return await run(operation, on: hosts, sink: sink, through: gateways)
        }
        return await Runner(transport: transport, options: options).run(operation, on: hosts, sink: sink)
    }
}
