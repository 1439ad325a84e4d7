import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A run returns only once its sink has written everything: a file written through a sink is whole
/// when `run` returns, without the caller flushing the writer.
@Suite("Sinks flushed before a run returns", .timed)
struct FlushTests {
    /// Reads the whole file at `path`.
    static func contents(of path: String) throws -> String {
        let fd = try FileDescriptor.open(FilePath(path), .readOnly)
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
            if count == 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func aJSONLinesFileIsWholeWhenRunReturns() async throws {
        let path = temporaryPath("flush-json")
        defer { unlink(path) }
        let passh = localPassh { $0.collectOutput = false }
        for _ in 1...20 {
            let fd = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
            defer { try? fd.close() }
            let sink = JSONLinesSink(writer: OutputWriter(stdout: fd, stderr: fd))
            _ = try await passh.run(["seq 1 300"], on: ["h1", "h2", "h3"], sink: sink)
            let lines = try Self.contents(of: path).split(separator: "\n")
            #expect(lines.count == 908)  // start, 3 × (started, 300 lines, finished), summary
            #expect(lines.last?.hasPrefix(#"{"event":"summary""#) == true)
        }
    }

    @Test func aPrefixedFileIsWholeWhenRunReturns() async throws {
        let path = temporaryPath("flush-prefixed")
        defer { unlink(path) }
        let passh = localPassh { $0.collectOutput = false }
        for _ in 1...10 {
            let fd = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
            defer { try? fd.close() }
            let sink = PrefixedSink(writer: OutputWriter(stdout: fd, stderr: fd))
            _ = try await passh.run(["seq 1 500"], on: ["h1", "h2"], sink: sink)
            let text = try Self.contents(of: path)
            #expect(text.split(separator: "\n").count == 1000)
            #expect(text.hasSuffix("] 500\n"))
        }
    }
}
