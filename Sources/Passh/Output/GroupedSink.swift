import Synchronization

/// Each host's output as one block, printed when the host finishes: a header line with the host
/// and its status (`--- web1 (ok) ---`, `--- web2 (failed: exit 3) ---`) and the host's stdout on
/// stdout, then its stderr on stderr. Lines are not prefixed; a last line without a newline gets one.
///
/// A running host's output is held in memory until it finishes.
public final class GroupedSink: OutputSink {
    private let writer: OutputWriter
    private struct Buffers {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
    }

    private let pending = Mutex<[Host: Buffers]>([:])

    /// A sink writing through `writer`.
    public init(writer: OutputWriter = OutputWriter()) {
        self.writer = writer
    }

    /// Keeps the chunk until the host finishes.
    public func output(_ chunk: OutputChunk) async {
        pending.withLock { pending in
            // In place: a copy of the host's buffer per chunk would make a large output quadratic.
            switch chunk.stream {
            case .stdout:
                pending[chunk.host, default: Buffers()].stdout.append(contentsOf: chunk.bytes)
                if !chunk.endsWithNewline { pending[chunk.host, default: Buffers()].stdout.append(0x0A) }
            case .stderr:
                pending[chunk.host, default: Buffers()].stderr.append(contentsOf: chunk.bytes)
                if !chunk.endsWithNewline { pending[chunk.host, default: Buffers()].stderr.append(0x0A) }
            }
        }
    }

    /// Prints the host's block.
    public func hostFinished(_ result: HostResult) async {
        let buffers = pending.withLock { $0.removeValue(forKey: result.host) } ?? Buffers()
        await writer.write(Array("--- \(result.host) (\(result.outcome)) ---\n".utf8) + buffers.stdout, to: .stdout)
        await writer.write(buffers.stderr, to: .stderr)
    }

    /// Waits until the writer has written everything queued.
    public func flush() async {
        await writer.flush()
    }
}
