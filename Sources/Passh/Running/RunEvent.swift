import AsyncAlgorithms
import Synchronization

/// One line of a host's output, without its newline.
public struct OutputLine: Sendable, Hashable {
    /// The host that wrote it.
    public let host: Host
    /// The stream it was written to.
    public let stream: OutputStreamKind
    /// The line's bytes, as written, without the newline.
    public let bytes: ArraySlice<UInt8>
    /// `false` for a host's last line when it had no newline (or a piece of an over-long line).
    public let hadNewline: Bool

    /// A line of `host`'s `stream`; `hadNewline` is `false` for a line that had none.
    public init(host: Host, stream: OutputStreamKind, bytes: ArraySlice<UInt8>, hadNewline: Bool = true) {
        self.host = host
        self.stream = stream
        self.bytes = bytes
        self.hadNewline = hadNewline
    }

    /// The line decoded as UTF-8, invalid sequences replaced by U+FFFD.
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Something that happened during a run.
public enum RunEvent: Sendable, Hashable {
    /// A host's process is starting.
    case started(Host)
    /// A host wrote a line.
    case line(OutputLine)
    /// A host is done (or was cancelled before it started).
    case finished(HostResult)
}

/// The events of one run, as an `AsyncSequence`; see ``ParallelSSH/events(_:on:)``.
///
/// - Important: The run stops when the task iterating is cancelled or when the iterator is
///   released. Swift never releases the iterator of a `for try await` loop written in top-level
///   code (`main.swift`, a script), so a `break` there leaves the run going, its hosts waiting for a
///   reader. Use ``ParallelSSH/withEvents(_:on:isolation:_:)`` there: its run ends
///   when its body returns or throws.
public struct RunEvents: AsyncSequence, Sendable {
    /// A run's events.
    public typealias Element = RunEvent

    let passh: ParallelSSH
    let command: [String]
    let hosts: Result<[Host], PasshError>

    /// An iterator that starts the run on its first `next()`.
    public func makeAsyncIterator() -> Iterator {
        Iterator(producer: Producer(passh: passh, command: command, hosts: hosts))
    }

    /// Iterates a run's events; the run starts with the first `next()` and is cancelled when the
    /// iterator goes away or the task calling `next()` is cancelled.
    public struct Iterator: AsyncIteratorProtocol {
        private let producer: Producer
        private var events: EventBatches

        init(producer: Producer) {
            self.producer = producer
            self.events = EventBatches(producer.channel)
        }

        /// The next event, or `nil` when every host is done (or the run was cancelled).
        ///
        /// - Throws: ``PasshError`` for misuse found before the run starts.
        public mutating func next() async throws -> RunEvent? {
            try await next(isolation: nil)
        }

        /// The next event, taken on the caller's actor: a `for try await` loop calls this one, and
        /// the events of a batch then cost no hop between executors.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> RunEvent? {
            if let event = events.nextBuffered() { return event }
            producer.startIfNeeded()
            let producer = self.producer
            return try await withTaskCancellationHandler {
                try await events.next()
            } onCancel: {
                producer.stop()
            }
        }
    }

    /// Owns the run's task: the one place a `Task` is kept, because an `AsyncSequence`'s producer
    /// cannot be a child of its consumer. The run is cancelled when the consumer is cancelled or
    /// lets go of the iterator.
    final class Producer: Sendable {
        let channel = AsyncThrowingChannel<[RunEvent], any Error>()
        private let passh: ParallelSSH
        private let command: [String]
        private let hosts: Result<[Host], PasshError>
        private struct State {
            var task: Task<Void, Never>?
            var stopped = false
        }

        private let state = Mutex(State())

        init(passh: ParallelSSH, command: [String], hosts: Result<[Host], PasshError>) {
            self.passh = passh
            self.command = command
            self.hosts = hosts
        }

        func startIfNeeded() {
            state.withLock { state in
                guard state.task == nil, !state.stopped else { return }
                let (channel, passh, command, hosts) = (self.channel, self.passh, self.command, self.hosts)
                state.task = Task {
                    do {
                        _ = try await passh.run(command, on: hosts.get(), sink: ChannelSink(channel: channel))
                        channel.finish()
                    } catch {
                        channel.fail(error)
                    }
                }
            }
        }

        /// Cancels the run (its hosts are stopped) and ends the events.
        func stop() {
            let task = state.withLock { state -> Task<Void, Never>? in
                state.stopped = true
                return state.task
            }
            task?.cancel()
            channel.finish()
        }

        deinit {
            stop()
        }
    }
}

/// The events of a run that ``ParallelSSH/withEvents(_:on:isolation:_:)`` runs: an
/// `AsyncSequence` valid while its body runs. Iterate it once.
public struct RunEventStream: AsyncSequence, Sendable {
    /// A run's events.
    public typealias Element = RunEvent

    let channel: AsyncThrowingChannel<[RunEvent], any Error>

    /// An iterator over the run's events.
    public func makeAsyncIterator() -> Iterator { Iterator(events: EventBatches(channel)) }

    /// Iterates the run's events.
    public struct Iterator: AsyncIteratorProtocol {
        var events: EventBatches

        /// The next event, or `nil` when every host is done (or the run was stopped).
        public mutating func next() async throws -> RunEvent? {
            if let event = events.nextBuffered() { return event }
            return try await events.next()
        }

        /// The next event, taken on the caller's actor: a `for try await` loop calls this one, and
        /// the events of a batch then cost no hop between executors.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> RunEvent? {
            if let event = events.nextBuffered() { return event }
            return try await events.next()
        }
    }
}

/// Takes a run's events from its channel a batch at a time (a chunk's lines come in one send) and
/// hands them out one by one: one handoff between tasks per chunk, not per line.
struct EventBatches: Sendable {
    private let channel: AsyncThrowingChannel<[RunEvent], any Error>
    private var batch: [RunEvent] = []
    private var position = 0

    init(_ channel: AsyncThrowingChannel<[RunEvent], any Error>) {
        self.channel = channel
    }

    /// The next event of the batch at hand, if any is left.
    @inline(__always)
    mutating func nextBuffered() -> RunEvent? {
        guard position < batch.count else { return nil }
        defer { position += 1 }
        return batch[position]
    }

    /// The next event, waiting for the next batch when this one is used up. (An iterator of the
    /// channel per batch: the channel's iterator cannot be sent between executors, this struct can.)
    mutating func next() async throws -> RunEvent? {
        while true {
            if let event = nextBuffered() { return event }
            var batches = channel.makeAsyncIterator()
            guard let next = try await batches.next() else { return nil }
            batch = next
            position = 0
        }
    }
}

/// Sends a run's events into a channel, a chunk's lines in one batch; each send waits for the
/// consumer to take the batch.
struct ChannelSink: OutputSink {
    let channel: AsyncThrowingChannel<[RunEvent], any Error>

    func hostStarted(_ host: Host) async {
        await channel.send([.started(host)])
    }

    func output(_ chunk: OutputChunk) async {
        var remaining = chunk.lineCount
        var batch: [RunEvent] = []
        batch.reserveCapacity(remaining)
        for line in chunk.lines {
            remaining -= 1
            let hadNewline = remaining > 0 || chunk.endsWithNewline
            batch.append(.line(OutputLine(host: chunk.host, stream: chunk.stream, bytes: line, hadNewline: hadNewline)))
        }
        await channel.send(batch)
    }

    func hostFinished(_ result: HostResult) async {
        await channel.send([.finished(result)])
    }
}
