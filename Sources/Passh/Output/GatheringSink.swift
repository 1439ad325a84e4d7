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
/// A host's output is its stdout and stderr lines in the order they arrived; hosts that printed
/// nothing are not shown. Groups come in the order of their first host. All output is held in
/// memory until the run ends.
public final class GatheringSink: OutputSink {
    private let writer: OutputWriter
    private let outputs = Mutex<[Host: [UInt8]]>([:])

    /// A sink writing through `writer` (everything goes to its stdout).
    public init(writer: OutputWriter = .standard) {
        self.writer = writer
    }

    public func output(_ chunk: OutputChunk) async {
        outputs.withLock { outputs in
            outputs[chunk.host, default: []].append(contentsOf: chunk.bytes)
            if !chunk.endsWithNewline { outputs[chunk.host, default: []].append(0x0A) }
        }
    }

    public func runFinished(_ results: [HostResult]) async {
        let outputs = self.outputs.withLock { $0 }
        var groups: [[UInt8]: [Host]] = [:]
        var order: [[UInt8]] = []
        for result in results {
            guard let output = outputs[result.host], !output.isEmpty else { continue }
            if groups[output] == nil { order.append(output) }
            groups[output, default: []].append(result.host)
        }
        let rule = "---------------\n"
        for output in order {
            let hosts = groups[output]!
            let title = HostFolding.fold(hosts.map(\.name)) + (hosts.count > 1 ? " (\(hosts.count))" : "")
            await writer.write(Array((rule + title + "\n" + rule).utf8) + output, to: .stdout)
        }
    }
}
