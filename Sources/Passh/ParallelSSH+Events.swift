import AsyncAlgorithms

extension ParallelSSH {
    /// Runs `command` on every host and gives `body` the run's events as they happen; the run
    /// ends when `body` returns or throws.
    ///
    /// ```swift
    /// try await passh.withEvents(["tail", "-f", "/var/log/syslog"], on: ["web1", "web2"]) { events in
    ///     for try await event in events {
    ///         if case .line(let line) = event, line.text.contains("panic") { break }
    ///     }
    /// }
    /// // Every host's command is stopped here, its processes gone.
    /// ```
    ///
    /// The scoped form of ``events(_:on:)-(_,[Host])``, and the one to use in top-level code
    /// (`main.swift`, a script), where Swift never releases a `for try await` loop's iterator: when
    /// `body` is done — every event read, a `break`, a `return`, an error — the hosts still running
    /// are stopped as a cancelled run stops them (their commands asked to end, given
    /// ``RunOptions/terminationGrace``, then ended), and `withEvents` returns once they all have.
    /// The run waits for `body`: a host's output is not read further until its lines have been
    /// taken. Read the events inside `body` only; the sequence ends with the run.
    ///
    /// - Returns: What `body` returns.
    /// - Throws: ``PasshError`` for misuse found before any host starts (see
    ///   ``run(_:on:sink:)-(_,[Host],_)``), or what `body` throws.
    public func withEvents<Result>(
        _ command: [String], on hosts: [Host], isolation: isolated (any Actor)? = #isolation,
        _ body: (RunEventStream) async throws -> Result
    ) async throws -> Result {
        try validate(command)
        let channel = AsyncThrowingChannel<[RunEvent], any Error>()
        let passh = self
        let outcome = await withTaskGroup(of: Void.self, returning: Swift.Result<Result, any Error>.self) { group in
            group.addTask {
                // Through the gateways, if any (the command was checked above: this cannot throw).
                _ = try? await passh.run(command, on: hosts, sink: ChannelSink(channel: channel))
                channel.finish()
            }
            let outcome: Swift.Result<Result, any Error>
            do {
                outcome = .success(try await body(RunEventStream(channel: channel)))
            } catch {
                outcome = .failure(error)
            }
            // Stop what is still running, release a send waiting for a reader, and wait for the end.
            group.cancelAll()
            channel.finish()
            await group.waitForAll()
            return outcome
        }
        return try outcome.get()
    }

    /// Parses the host names (see ``Host/init(_:)``) and runs `command` on them, giving `body` the
    /// run's events (see ``withEvents(_:on:isolation:_:)-(_,[Host],_,_)``).
    @_disfavoredOverload
    public func withEvents<Result>(
        _ command: [String], on hostNames: [String], isolation: isolated (any Actor)? = #isolation,
        _ body: (RunEventStream) async throws -> Result
    ) async throws -> Result {
        try await withEvents(command, on: Self.hosts(hostNames), isolation: isolation, body)
    }
}
