import Testing

@testable import Passh

@Suite("The output path: counting and prefixing lines")
struct PrefixLinesTests {
    let prefix = Array("[h1] ".utf8)

    func prefixed(_ text: [UInt8], terminate: Bool = false) -> [UInt8] {
        prefixLines(text[...], with: prefix, terminate: terminate)
    }

    @Test func prefixesEveryLine() {
        #expect(prefixed(Array("a\nbb\n\nccc\n".utf8)) == Array("[h1] a\n[h1] bb\n[h1] \n[h1] ccc\n".utf8))
    }

    @Test func addsTheMissingLastNewlineWhenAsked() {
        #expect(prefixed(Array("a\nlast".utf8), terminate: true) == Array("[h1] a\n[h1] last\n".utf8))
        #expect(prefixed([], terminate: true) == Array("\n".utf8))
        #expect(prefixed([]) == [])
    }

    @Test func keepsEveryByte() {
        let all = (0...255).map(UInt8.init).filter { $0 != 0x0A }
        let input = all + [0x0A] + Array("crlf\r\n".utf8)
        #expect(prefixed(input) == prefix + all + [0x0A] + prefix + Array("crlf\r\n".utf8))
    }

    @Test func shortAndLongLinesTakeTheSameResult() {
        // Short lines go through the word-at-a-time loop, long ones through memchr: both must agree
        // with the obvious per-byte definition, whatever the line lengths.
        var generator = SystemRandomNumberGenerator()
        for averageLength in [1, 3, 7, 8, 9, 31, 33, 200] {
            var input: [UInt8] = []
            for _ in 0..<500 {
                let length = Int.random(in: 0...(2 * averageLength), using: &generator)
                input += (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }.map {
                    $0 == 0x0A ? 0x0B : $0
                }
                input.append(0x0A)
            }
            var expected: [UInt8] = []
            var atStart = true
            for byte in input {
                if atStart { expected += prefix }
                expected.append(byte)
                atStart = byte == 0x0A
            }
            #expect(prefixed(input) == expected, "average line length \(averageLength)")
            #expect(input.withUnsafeBytes { countNewlines($0) } == 500)
        }
    }

    @Test func chunkLinesAndCount() throws {
        let host = try Host("h1")
        let chunk = OutputChunk(host: host, stream: .stdout, bytes: Array("a\n\nb".utf8)[...], endsWithNewline: false)
        #expect(chunk.lines.map { Array($0) } == [Array("a".utf8), [], Array("b".utf8)])
        #expect(chunk.lineCount == 3)
        let whole = OutputChunk(host: host, stream: .stdout, bytes: Array("a\nb\n".utf8)[...], endsWithNewline: true)
        #expect(whole.lineCount == 2)
    }
}
