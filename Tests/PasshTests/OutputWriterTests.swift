import PasshTestSupport
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// The number of threads of this process.
func threadCount() -> Int {
    shell("ls /proc/\(getpid())/task | wc -l").text.split(separator: "\n").first.flatMap { Int($0) } ?? -1
}

@Suite("Output writers")
struct OutputWriterTests {
    @Test func aReleasedWriterEndsItsThread() async throws {
        // One writer first, so that the threads any run needs (the cooperative pool's) are up.
        let warmUp = try CapturedOutput()
        await warmUp.writer.write(Array("warm\n".utf8), to: .stdout)
        _ = await warmUp.text()
        let before = threadCount()
        for _ in 0..<20 {
            let output = try CapturedOutput()
            await output.writer.write(Array("line\n".utf8), to: .stdout)
            #expect(await output.text().stdout == "line\n")
        }
        // A thread kept per writer would make 20 more; other work in the process may start a few.
        var after = threadCount()
        try await waitUntil(within: .seconds(2)) {
            after = threadCount()
            return after < before + 10
        }
        #expect(after < before + 10, "20 writers made and released: \(before) threads before, \(after) after")
    }
}
