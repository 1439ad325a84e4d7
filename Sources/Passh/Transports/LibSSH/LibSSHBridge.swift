#if LIBSSH
import DequeModule
import Synchronization

/// How a host's session is asked to stop.
enum StopRequest: Int, Sendable, Comparable {
    case none, terminate, kill
    static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// What one host's async `run` call and the engine thread driving its session share: output on
/// its way to the consumer, the termination, and requests to stop.
///
/// The engine reads a channel only while less than ``readLimit`` bytes wait for the consumer
/// (``mayRead()``); past that the channel's window fills and the remote command blocks on its
/// output — the same backpressure as a full pipe. Everything is behind one `Mutex`; the async side
/// waits on a continuation, the engine thread is woken through its `wake` function.
final class LibSSHBridge: Sendable {
    static let readLimit = 256 << 10

    private struct State {
        var chunks: Deque<OutputChunk> = []
        var queuedBytes = 0
        var readingBlocked = false
        var termination: Termination?
        var waiter: CheckedContinuation<Void, Never>?
        var stop: StopRequest = .none
        var killSent = false
    }

    private let state = Mutex(State())
    /// Wakes the engine thread that drives this session (to read again, or to stop).
    private let wake: @Sendable () -> Void

    init(wake: @escaping @Sendable () -> Void) {
        self.wake = wake
    }

    // MARK: The engine thread's side

    /// Whether the engine may read more of the channel; if not, the consumer's next
    /// ``consumed(_:)`` that makes room wakes the engine.
    func mayRead() -> Bool {
        state.withLock { state in
            state.readingBlocked = state.queuedBytes >= Self.readLimit
            return !state.readingBlocked
        }
    }

    /// Hands output to the consumer.
    func push(_ chunks: [OutputChunk]) {
        guard !chunks.isEmpty else { return }
        let waiter = state.withLock { state in
            for chunk in chunks {
                state.chunks.append(chunk)
                state.queuedBytes += chunk.bytes.count
            }
            return state.waiter.take()
        }
        waiter?.resume()
    }

    /// The session is over (after its last ``push(_:)``).
    func finish(_ termination: Termination) {
        let waiter = state.withLock { state in
            state.termination = termination
            return state.waiter.take()
        }
        waiter?.resume()
    }

    /// What the consumer asked for.
    var stopRequest: StopRequest { state.withLock { $0.stop } }

    /// The KILL request left for the host (or the session is closed): an emergency stop may now
    /// let the process exit.
    func markKillSent() { state.withLock { $0.killSent = true } }

    /// Whether ``markKillSent()`` was called or the session is over.
    var isKillSent: Bool { state.withLock { $0.killSent || $0.termination != nil } }

    // MARK: The host's `run` side

    /// The output waiting, or, once all of it is taken, the termination; waits for either.
    func next() async -> (chunks: [OutputChunk], termination: Termination?) {
        while true {
            let taken = state.withLock { state -> (chunks: [OutputChunk], termination: Termination?)? in
                if !state.chunks.isEmpty {
                    defer { state.chunks.removeAll() }
                    return (Array(state.chunks), nil)
                }
                return state.termination.map { ([], $0) }
            }
            if let taken { return taken }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state in
                    if state.chunks.isEmpty && state.termination == nil {
                        state.waiter = continuation
                        return false
                    }
                    return true
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// `count` bytes of output were delivered: the engine may read again if it was held back.
    func consumed(_ count: Int) {
        let wakeEngine = state.withLock { state in
            state.queuedBytes -= count
            guard state.readingBlocked && state.queuedBytes < Self.readLimit else { return false }
            state.readingBlocked = false
            return true
        }
        if wakeEngine { wake() }
    }

    /// Asks the engine to stop the session: ``StopRequest/terminate`` (TERM, the grace, KILL) or
    /// ``StopRequest/kill`` (KILL at once). A request never weakens an earlier one.
    func requestStop(_ request: StopRequest) {
        let changed = state.withLock { state in
            guard request > state.stop, state.termination == nil else { return false }
            state.stop = request
            return true
        }
        if changed { wake() }
    }
}
#endif
