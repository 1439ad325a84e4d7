import DequeModule
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// What the root has to write on a gateway's stdin, in order: request lines, and files after
/// their header. Anyone queues (``send(_:)``, synchronous: a cancelled host's stop is queued from
/// its cancellation handler); one task writes (``drain(to:poller:)``).
final class GatewayOutbox: Sendable {
    enum Item: Sendable {
        case bytes([UInt8])
        /// A file's bytes: `size` of them, as its header said.
        case file(FilePath, size: Int64)
    }

    private struct State {
        var queue: Deque<Item> = []
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func send(_ item: Item) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.finished else { return nil }
            state.queue.append(item)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The queue is `items` alone (what was queued and not written is dropped): for a new session
    /// with the gateway, when the last one's passh was not the one wanted.
    func restart(with items: [Item]) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.queue = Deque(items)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// No more items: the writer ends once the queue is written.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Writes the items to `fd` (non-blocking) as they come; returns when finished and written, on
    /// a write error (the gateway is gone), or when cancelled.
    func drain(to fd: Int32, poller: Poller) async {
        while let item = await next() {
            switch item {
            case .bytes(let bytes):
                guard await write(bytes[...], to: fd, poller: poller) else { return }
            case .file(let path, let size):
                guard let file = try? FileDescriptor.open(path, .readOnly, options: [.closeOnExec]) else { return }
                defer { try? file.close() }
                var left = size
                var buffer = [UInt8](repeating: 0, count: 256 << 10)
                while left > 0 {
                    let count = buffer.withUnsafeMutableBytes {
                        read(file.rawValue, $0.baseAddress, min($0.count, Int(clamping: left)))
                    }
                    guard count > 0 else { return }  // the file shrank: the gateway's stream cannot be kept in step
                    guard await write(buffer[..<count], to: fd, poller: poller) else { return }
                    left -= Int64(count)
                }
            }
        }
    }

    /// The next item; `nil` once finished and empty, or when the task is cancelled.
    private func next() async -> Item? {
        while true {
            enum Step { case item(Item), done, wait }
            let step = state.withLock { state -> Step in
                if let item = state.queue.popFirst() { return .item(item) }
                return state.finished ? .done : .wait
            }
            switch step {
            case .item(let item): return item
            case .done: return nil
            case .wait:
                if Task.isCancelled { return nil }
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let now = state.withLock { state -> Bool in
                            if !state.queue.isEmpty || state.finished || Task.isCancelled { return true }
                            state.waiter = continuation
                            return false
                        }
                        if now { continuation.resume() }
                    }
                } onCancel: {
                    state.withLock { state -> CheckedContinuation<Void, Never>? in
                        defer { state.waiter = nil }
                        return state.waiter
                    }?.resume()
                }
            }
        }
    }

    private func write(_ bytes: ArraySlice<UInt8>, to fd: Int32, poller: Poller) async -> Bool {
        var rest = bytes
        while !rest.isEmpty {
            let count = rest.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                rest = rest.dropFirst(count)
                continue
            }
            if count < 0 && errno == EINTR { continue }
            guard count < 0 && errno == EAGAIN else { return false }
            guard await poller.wait(fd, for: .writable) != .cancelled else { return false }
        }
        return true
    }
}
