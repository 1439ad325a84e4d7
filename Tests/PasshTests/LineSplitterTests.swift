import Testing

@testable import Passh

/// ``LineSplitter`` on long lines: a line that arrives in many reads is grown where it is, not
/// copied whole at each read, and comes out whole.
@Suite("Line splitter")
struct LineSplitterTests {
    @Test func aLongLineGrowsInPlace() throws {
        var lines = LineSplitter(host: try Host("h1"), stream: .stdout, maximumLineLength: 64 << 20)
        var storages = Set<UnsafeRawPointer?>()
        for index in 0..<300 {
            let chunks = lines.append(ArraySlice(repeating: UInt8(ascii: "a") + UInt8(index % 26), count: 64 << 10))
            if !chunks.isEmpty { Issue.record("a chunk before the newline") }
            storages.insert(lines.pending.withUnsafeBytes { $0.baseAddress })
        }
        // Geometric growth: a few dozen buffers for 300 reads (one per read when copied each time).
        #expect(storages.count < 30)
        let chunks = lines.append(Array("end\nnext".utf8)[...])
        #expect(chunks.count == 1)
        let line = try #require(chunks.first)
        #expect(line.bytes.count == 300 * (64 << 10) + 4)
        #expect(line.bytes[line.bytes.startIndex + 299 * (64 << 10)] == UInt8(ascii: "a") + UInt8(299 % 26))
        #expect(Array(line.bytes.suffix(4)) == Array("end\n".utf8))
        #expect(lines.pending == Array("next".utf8))
    }
}
