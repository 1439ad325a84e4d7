import Synchronization

/// Output kept in memory: give ``writer`` to a sink (``JSONLinesSink``, ``PrefixedSink``…) and read
/// what it wrote back with ``bytes(of:)`` or ``text(of:)``.
///
/// ```swift
/// let buffer = OutputBuffer()
/// _ = try await passh.run(["uptime"], on: ["web1", "web2"], sink: JSONLinesSink(writer: buffer.writer))
/// let json = buffer.text(of: .stdout)   // the whole run: `run` returns once the sink has written it
/// ```
///
/// Everything is kept until taken (``take(_:)``): for a run's bulk output, stream it instead
/// (``OutputWriter/init(highWater:consumer:)``).
public final class OutputBuffer: Sendable {
    /// The writer whose bytes this buffer keeps.
    public let writer: OutputWriter
    private let storage: Storage

    /// The bytes written so far, per stream; apart from the buffer so that the writer's consumer
    /// does not keep the buffer alive.
    private final class Storage: Sendable {
        let bytes = Mutex<[OutputStreamKind: [UInt8]]>([:])
    }

    /// An empty buffer.
    public init() {
        let storage = Storage()
        self.storage = storage
        writer = OutputWriter { bytes, stream in
            storage.bytes.withLock { $0[stream, default: []].append(contentsOf: bytes) }
        }
    }

    /// The bytes written to `stream` so far (everything, once the run returned or the writer was
    /// flushed).
    public func bytes(of stream: OutputStreamKind) -> [UInt8] {
        storage.bytes.withLock { $0[stream] ?? [] }
    }

    /// ``bytes(of:)`` decoded as UTF-8, invalid sequences replaced by U+FFFD.
    public func text(of stream: OutputStreamKind) -> String {
        String(decoding: bytes(of: stream), as: UTF8.self)
    }

    /// The bytes written to `stream` so far, removed from the buffer.
    public func take(_ stream: OutputStreamKind) -> [UInt8] {
        storage.bytes.withLock { $0.removeValue(forKey: stream) ?? [] }
    }
}
