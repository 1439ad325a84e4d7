import Synchronization
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// An OpenSSH master in proxy mode, played by a script over a socketpair: it reads the frames the
/// session sends and writes the ones the script gives, on a thread of its own (its reads block, with
/// a timeout, so a script that waits for a frame that never comes ends all the same).
///
/// What it received is kept (``received``) for the test to check once the script is done.
final class FakeMaster: Sendable {
    /// One proxy frame: its type and payload.
    struct Frame: Sendable, Equatable {
        let type: UInt8
        let payload: [UInt8]

        /// The payload's fields, read in order.
        var reader: MuxProxyFrames.Reader { MuxProxyFrames.Reader(bytes: payload[...]) }
    }

    /// The session's end of the socketpair (non-blocking), to hand to a ``MuxClient``.
    let sessionEnd: Int32
    private let fd: Int32
    private let log = Mutex<[Frame]>([])
    private let marks = Mutex<(reached: Set<String>, waiters: [String: [CheckedContinuation<Void, Never>]])>(([], [:]))
    private let done = Mutex<(finished: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    /// A master running `script` at once.
    init(_ script: @escaping @Sendable (FakeMaster) -> Void) {
        var pair: [Int32] = [-1, -1]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
        sessionEnd = pair[0]
        fd = pair[1]
        _ = fcntl(sessionEnd, F_SETFL, fcntl(sessionEnd, F_GETFL) | O_NONBLOCK)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        startLibraryThread(named: "fake-master") { [self] in
            script(self)
            let waiter = done.withLock { state in
                state.finished = true
                return state.waiter.take()
            }
            waiter?.resume()
        }
    }

    deinit {
        close(fd)
    }

    /// Every frame received so far.
    var received: [Frame] { log.withLock { $0 } }

    /// The script got as far as `label` (``mark(_:)``): waits until it does.
    func reached(_ label: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = marks.withLock { marks -> Bool in
                if marks.reached.contains(label) { return true }
                marks.waiters[label, default: []].append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Waits until the script has ended.
    func finished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = done.withLock { state -> Bool in
                if state.finished { return true }
                state.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }

    // MARK: The script's side (its thread)

    /// The next frame the session sent; `nil` at its end (or after 10 s of silence).
    func next() -> Frame? {
        guard let header = read(4) else { return nil }
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        guard length >= 2, let body = read(length) else { return nil }
        let frame = Frame(type: body[1], payload: Array(body[2...]))
        log.withLock { $0.append(frame) }
        return frame
    }

    /// The next frame of `type`, skipping others (window adjusts, say); `nil` at the end.
    func next(_ type: MuxProxyFrames.Kind) -> Frame? {
        while let frame = next() {
            if frame.type == type.rawValue { return frame }
        }
        return nil
    }

    /// Sends a frame of `type` with `fields` (each a `u32`, a string or raw bytes).
    func send(_ type: MuxProxyFrames.Kind, _ fields: Field...) {
        var payload: [UInt8] = [0, type.rawValue]
        for field in fields { payload += field.bytes }
        let length = UInt32(payload.count)
        let frame =
            [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            + payload
        _ = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Tells the test the script got as far as `label`.
    func mark(_ label: String) {
        let waiters = marks.withLock { marks in
            marks.reached.insert(label)
            return marks.waiters.removeValue(forKey: label) ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits (at most 10 s) until the session has shut its end for writing, or closed it; reads
    /// nothing meanwhile, as a master busy elsewhere. Whether it did.
    func waitForTheSessionToStopWriting() -> Bool {
        let readHangUp: Int16 = 0x2000  // POLLRDHUP (Linux), which Glibc's module leaves out
        var entry = pollfd(fd: fd, events: readHangUp, revents: 0)
        while true {
            let ready = poll(&entry, 1, 10_000)
            if ready < 0 && errno == EINTR { continue }
            return ready > 0
        }
    }

    /// Whether the session's end is still open for reading (it only shut its writing side):
    /// a byte written to it is taken.
    func sessionStillReads() -> Bool {
        var byte: UInt8 = 0
        return Glibc.send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) == 1
    }

    /// Closes the master's end: the connection is gone.
    func hangUp() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// A field of a frame.
    enum Field {
        case u32(UInt32)
        case string([UInt8])
        case text(String)
        case byte(UInt8)

        var bytes: [UInt8] {
            switch self {
            case .u32(let value):
                [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
            case .string(let value): Field.u32(UInt32(value.count)).bytes + value
            case .text(let value): Field.string(Array(value.utf8)).bytes
            case .byte(let value): [value]
            }
        }
    }

    private func read(_ count: Int) -> [UInt8]? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: count)
        while bytes.count < count {
            let got = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, count - bytes.count) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return nil }
            bytes += buffer[..<got]
        }
        return bytes
    }
}
