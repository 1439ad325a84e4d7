import DequeModule
import Synchronization

/// What one host's `run` call and the code driving its channel share: output on its way to the
/// consumer, the termination, and requests to stop. The driver — an engine thread (libssh), a task
/// of its own (the mux proxy) — never waits for the consumer, so that a stop is carried out on time
/// however slow the consumer is.
///
/// The driver reads its wire only while less than ``readLimit`` bytes wait for the consumer
/// (``mayRead()``); past that the channel's window fills and the remote command blocks on its
/// output — the same backpressure as a full pipe. Everything is behind one `Mutex`; the consumer
/// waits on a continuation, the driver is woken through its `wake` function (when there is room
/// again, or a stop).
final class SessionBridge: Sendable {
    static let readLimit = 256 << 10

    private struct State {
        var chunks: Deque<OutputChunk> = []
        var queuedBytes = 0
        var readingBlocked = false
        var termination: Termination?
        var waiter: CheckedContinuation<Void, Never>?
        var stop = StopLevel.none
        /// The emergency stop to tell once the `KILL` went out.
        var killReceipt: EmergencyStop.Registration?
    }

    private let state = Mutex(State())
    /// Wakes the driver (to read again, or to stop).
    private let wake: @Sendable () -> Void

    init(wake: @escaping @Sendable () -> Void) {
        self.wake = wake
    }

    // MARK: The driver's side

    /// Whether the driver may read more; if not, the consumer wakes it once there is room.
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
        let (waiter, receipt) = state.withLock { state in
            state.termination = termination
            return (state.waiter.take(), state.killReceipt.take())
        }
        receipt?.acknowledge()
        waiter?.resume()
    }

    /// What the consumer asked for.
    var stopRequest: StopLevel { state.withLock { $0.stop } }

    /// The `KILL` request left for the host: an emergency stop waiting for it may go on.
    func killSent() {
        state.withLock { $0.killReceipt.take() }?.acknowledge()
    }

    // MARK: The consumer's side

    /// Hands the output to `output` as it comes, and returns how the session ended once all of it
    /// was handed on.
    func deliver(to output: @Sendable (OutputChunk) async -> Void) async -> Termination {
        while true {
            let (chunks, termination) = await next()
            for chunk in chunks {
                await output(chunk)
                consumed(chunk.bytes.count)
            }
            if let termination { return termination }
        }
    }

    /// The output waiting, or, once all of it is taken, the termination; waits for either.
    private func next() async -> (chunks: [OutputChunk], termination: Termination?) {
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

    /// `count` bytes of output were handed on: the driver may read again if it was held back.
    private func consumed(_ count: Int) {
        let wakeDriver = state.withLock { state in
            state.queuedBytes -= count
            guard state.readingBlocked && state.queuedBytes < Self.readLimit else { return false }
            state.readingBlocked = false
            return true
        }
        if wakeDriver { wake() }
    }

    /// Asks the driver to stop the session (a request never weakens an earlier one); `receipt`: the
    /// emergency stop to tell once the `KILL` went out.
    func requestStop(_ level: StopLevel, receipt: EmergencyStop.Registration? = nil) {
        let (changed, over) = state.withLock { state -> (Bool, Bool) in
            guard state.termination == nil else { return (false, true) }
            if let receipt { state.killReceipt = receipt }
            guard level > state.stop else { return (false, false) }
            state.stop = level
            return (true, false)
        }
        if over { receipt?.acknowledge() }
        if changed { wake() }
    }
}
