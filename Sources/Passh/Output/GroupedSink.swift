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
    public init(writer: OutputWriter = .standard) {
        self.writer = writer
    }

    /// Keeps the chunk until the host finishes.
    public func output(_ chunk: OutputChunk) async {
        pending.withLock { pending in
            var buffers = pending[chunk.host, default: Buffers()]
            switch chunk.stream {
            case .stdout: buffers.stdout.append(contentsOf: chunk.bytes)
            case .stderr: buffers.stderr.append(contentsOf: chunk.bytes)
            }
            if !chunk.endsWithNewline {
                if chunk.stream == .stdout { buffers.stdout.append(0x0A) } else { buffers.stderr.append(0x0A) }
            }
            pending[chunk.host] = buffers
        }
    }

    /// Prints the host's block.
    public func hostFinished(_ result: HostResult) async {
        let buffers = pending.withLock { $0.removeValue(forKey: result.host) } ?? Buffers()
        await writer.write(Array("--- \(result.host) (\(result.outcome)) ---\n".utf8) + buffers.stdout, to: .stdout)
        await writer.write(buffers.stderr, to: .stderr)
    }
}
