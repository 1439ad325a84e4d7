import Synchronization

/// clush's `-b`: at the end, hosts whose output is identical are printed once, under a header with
/// the folded host set and its size:
///
/// ```
/// ---------------
/// h[0001-0003,0005] (4)
/// ---------------
/// same output
/// ```
///
/// A host's output is its stdout lines, then its stderr lines (so that the same output is the same
/// whatever order the two streams' bytes arrived in); hosts that printed nothing are not shown.
/// Groups come in the order of their first host. All output is held in memory until the run ends.
public final class GatheringSink: OutputSink {
    private let writer: OutputWriter
    private let outputs = Mutex<[Host: (stdout: [UInt8], stderr: [UInt8])]>([:])
    private let fold: @Sendable ([String]) async -> String

    /// A sink writing through `writer` (everything goes to its stdout).
    ///
    /// - Parameters:
    ///   - writer: Where the output goes.
    ///   - fold: Writes the names of the hosts of one output as a header: ``HostFolding/fold(_:)``
    ///     unless given (``HostGroups/regroup(_:)`` writes groups as `@NAME`).
    public init(
        writer: OutputWriter = OutputWriter(),
        fold: @escaping @Sendable ([String]) async -> String = { HostFolding.fold($0) }
    ) {
        self.writer = writer
        self.fold = fold
    }

    /// Keeps the chunk with the host's output.
    public func output(_ chunk: OutputChunk) async {
        outputs.withLock { outputs in
            var bytes = Array(chunk.bytes)
            if !chunk.endsWithNewline { bytes.append(0x0A) }
            switch chunk.stream {
            case .stdout: outputs[chunk.host, default: ([], [])].stdout += bytes
            case .stderr: outputs[chunk.host, default: ([], [])].stderr += bytes
            }
        }
    }

    /// Prints each distinct output once, under its hosts.
    public func runFinished(_ results: [HostResult]) async {
        let outputs = self.outputs.withLock { $0 }
        var groups: [[UInt8]: [Host]] = [:]
        var order: [[UInt8]] = []
        for result in results {
            guard let streams = outputs[result.host] else { continue }
            let output = streams.stdout + streams.stderr
            guard !output.isEmpty else { continue }
            if groups[output] == nil { order.append(output) }
            groups[output, default: []].append(result.host)
        }
        let rule = "---------------\n"
        for output in order {
            let hosts = groups[output]!
            let title = await fold(hosts.map(\.name)) + (hosts.count > 1 ? " (\(hosts.count))" : "")
            await writer.write(Array((rule + title + "\n" + rule).utf8) + output, to: .stdout)
        }
    }

    /// Waits until the writer has written everything queued.
    public func flush() async {
        await writer.flush()
    }
}
