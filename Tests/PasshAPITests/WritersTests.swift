// Compiled with `import Passh` alone, under the `MemberImportVisibility` upcoming feature: the
// public API needs no other import (swift-system's types come with Passh).
import Passh
import Synchronization
import Testing

/// Sinks that write anywhere: memory, a descriptor the writer owns, any consumer.
@Suite("Writers: memory, owned descriptors, consumers")
struct WritersTests {
    let passh = ParallelSSH(transport: LocalTransport())

    @Test func jsonLinesIntoMemory() async throws {
        let buffer = OutputBuffer()
        let results = try await passh.run(
            ["printf 'a\\nb\\n'"], on: ["h1", "h2"], sink: JSONLinesSink(writer: buffer.writer))
        #expect(results.allSatisfy { $0.isSuccess })
        let decoded = try JSONLinesDecoder.decode(buffer.bytes(of: .stdout))
        #expect(decoded.results.map(\.host.name).sorted() == ["h1", "h2"])
        #expect(decoded.events.count == 8)
        #expect(decoded.summary?.hosts == 2)
        #expect(buffer.text(of: .stderr) == "")
    }

    @Test func prefixedLinesIntoMemory() async throws {
        let buffer = OutputBuffer()
        _ = try await passh.run(["echo out; echo err >&2"], on: ["h1"], sink: PrefixedSink(writer: buffer.writer))
        #expect(buffer.text(of: .stdout) == "[h1] out\n")
        #expect(buffer.text(of: .stderr) == "[h1] err\n")
        #expect(buffer.take(.stdout) == Array("[h1] out\n".utf8))
        #expect(buffer.bytes(of: .stdout).isEmpty)
    }

    @Test func intoADescriptorTheWriterOwns() async throws {
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.readEnd.close() }
        do {
            let writer = OutputWriter(owning: pipe.writeEnd)
            _ = try await passh.run(["echo one; echo two >&2"], on: ["h1"], sink: PrefixedSink(writer: writer))
        }
        // The writer is gone: it closed the pipe, so the read ends.
        let text = try String(decoding: Self.readAll(pipe.readEnd), as: UTF8.self)
        #expect(text.split(separator: "\n").sorted() == ["[h1] one", "[h1] two"])
    }

    @Test func intoAnyConsumer() async throws {
        let received = Mutex<[(OutputStreamKind, [UInt8])]>([])
        let writer = OutputWriter { bytes, stream in received.withLock { $0.append((stream, bytes)) } }
        _ = try await passh.run(["seq 1 3"], on: ["h1"], sink: PrefixedSink(writer: writer))
        let stdout = received.withLock { $0.filter { $0.0 == .stdout }.flatMap(\.1) }
        #expect(String(decoding: stdout, as: UTF8.self) == "[h1] 1\n[h1] 2\n[h1] 3\n")
    }

    @Test func aConsumerThatFailsStopsItsStream() async throws {
        let writer = OutputWriter { _, stream in if stream == .stdout { throw Errno.brokenPipe } }
        _ = try await passh.run(["echo hi"], on: ["h1"], sink: PrefixedSink(writer: writer))
        #expect(writer.error(on: .stdout) == .brokenPipe)
        #expect(writer.error(on: .stderr) == nil)
    }

    static func readAll(_ fd: FileDescriptor) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
            if count == 0 { return bytes }
            bytes += buffer[..<count]
        }
    }
}
