/// Where a run's events go: an output mode.
///
/// The runner calls a sink from many host tasks at once; a sink that keeps state must protect it
/// (an actor, or a `Mutex`). Calls for one host come in order: ``hostStarted(_:)``, its
/// ``output(_:)`` chunks (stdout and stderr chunks may interleave), then ``hostFinished(_:)``.
/// ``hostFinished(_:)`` calls are serialized; ``runFinished(_:)`` comes last, once, then
/// ``flush()``: the run returns only once the sink has written everything.
///
/// A sink slows the run down by taking its time: a host's output is not read further until
/// ``output(_:)`` returns. That is the backpressure that keeps memory bounded.
public protocol OutputSink: Sendable {
    /// A host's process is about to start.
    func hostStarted(_ host: Host) async
    /// A host is about to start, over the transport named (``Transport/transportName(for:)``); by
    /// default ``hostStarted(_:)``.
    func hostStarted(_ host: Host, transport: String?) async
    /// Some whole lines from one host.
    func output(_ chunk: OutputChunk) async
    /// A host is done, or was cancelled before it started.
    func hostFinished(_ result: HostResult) async
    /// Every host is done; `results` are in the order the hosts were given.
    func runFinished(_ results: [HostResult]) async
    /// A wave of a rollout (``Rollout``) starts: `number` of `total`, from 1; the canaries are the
    /// first wave. Not called for a run in one wave.
    func waveStarted(_ number: Int, of total: Int) async
    /// Called once, after ``runFinished(_:)``: returns when everything the sink was given is
    /// written where it goes (its ``OutputWriter`` flushed). `run`, `runBlocking`, `copy` and
    /// `gather` return only after it has. A write error is kept by the writer
    /// (``OutputWriter/error(on:)``).
    func flush() async
}

extension OutputSink {
    /// Does nothing.
    public func hostStarted(_ host: Host) async {}
    /// Calls ``hostStarted(_:)``.
    public func hostStarted(_ host: Host, transport: String?) async { await hostStarted(host) }
    /// Does nothing.
    public func hostFinished(_ result: HostResult) async {}
    /// Does nothing.
    public func runFinished(_ results: [HostResult]) async {}
    /// Does nothing.
    public func waveStarted(_ number: Int, of total: Int) async {}
    /// Does nothing: a sink that writes nothing, or writes before each call returns.
    public func flush() async {}
}
