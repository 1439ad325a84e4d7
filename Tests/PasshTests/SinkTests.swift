import PasshTestSupport
import Synchronization
import SystemPackage
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// A writer into two temporary files, and what was written once it is flushed.
final class CapturedOutput {
    let stdoutPath = temporaryPath("sink-out")
    let stderrPath = temporaryPath("sink-err")
    let writer: OutputWriter
    private let files: [FileDescriptor]

    init() throws {
        files = try [stdoutPath, stderrPath].map {
            try FileDescriptor.open(FilePath($0), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        }
        writer = OutputWriter(stdout: files[0], stderr: files[1])
    }

    deinit {
        for file in files { try? file.close() }
        unlink(stdoutPath)
        unlink(stderrPath)
    }

    func text() async -> (stdout: String, stderr: String) {
        await writer.flush()
        return (readText(stdoutPath) ?? "", readText(stderrPath) ?? "")
    }
}

/// The output modes, fed events directly: no process, no ssh.
@Suite("Output sinks")
struct SinkTests {
    let web1 = try! Host("web1")
    let web2 = try! Host("web2")

    func chunk(_ host: Host, _ stream: OutputStreamKind, _ text: String, newline: Bool = true) -> OutputChunk {
        OutputChunk(host: host, stream: stream, bytes: Array(text.utf8)[...], endsWithNewline: newline)
    }

    @Test func prefixedSinkPrefixesEveryLineAndEndsTheLast() async throws {
        let output = try CapturedOutput()
        let sink = PrefixedSink(writer: output.writer)
        await sink.output(chunk(web1, .stdout, "a\nb\n"))
        await sink.output(chunk(web1, .stderr, "oops\n"))
        await sink.output(chunk(web2, .stdout, "no newline", newline: false))
        let text = await output.text()
        #expect(text.stdout == "[web1] a\n[web1] b\n[web2] no newline\n")
        #expect(text.stderr == "[web1] oops\n")
    }

    @Test func groupedSinkPrintsABlockWhenTheHostFinishes() async throws {
        let output = try CapturedOutput()
        let sink = GroupedSink(writer: output.writer)
        await sink.output(chunk(web1, .stdout, "one\n"))
        await sink.output(chunk(web2, .stdout, "other\n"))
        await sink.output(chunk(web1, .stderr, "err", newline: false))
        await sink.hostFinished(HostResult(host: web1, outcome: .exited(3)))
        let text = await output.text()
        #expect(text.stdout == "--- web1 (failed: exit 3) ---\none\n")
        #expect(text.stderr == "err\n")
    }

    @Test func gatheringSinkFoldsIdenticalOutputs() async throws {
        let output = try CapturedOutput()
        let sink = GatheringSink(writer: output.writer)
        let hosts = try ParallelSSH.hosts(["n1", "n2", "n3", "n4"])
        for host in hosts {
            await sink.output(chunk(host, .stdout, host.name == "n3" ? "different\n" : "same\n"))
        }
        await sink.runFinished(hosts.map { HostResult(host: $0, outcome: .exited(0)) })
        let text = await output.text()
        #expect(text.stdout == """
            ---------------
            n[1-2,4] (3)
            ---------------
            same
            ---------------
            n3
            ---------------
            different

            """)
    }

    @Test func writeErrorsAreKeptAndReportedOnce() async throws {
        let full = try FileDescriptor.open("/dev/full", .writeOnly)
        defer { try? full.close() }
        let writer = OutputWriter(stdout: full, stderr: full)
        let reported = Mutex<[OutputStreamKind]>([])
        writer.onError { stream, _ in reported.withLock { $0.append(stream) } }
        await writer.write(Array("x\n".utf8), to: .stdout)
        await writer.write(Array("y\n".utf8), to: .stdout)
        await writer.flush()
        #expect(writer.error(on: .stdout) == .noSpace)
        #expect(writer.error(on: .stderr) == nil)
        #expect(reported.withLock { $0 } == [.stdout])
    }
}

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
        for _ in 0..<50 where after >= before + 10 {
            try await Task.sleep(for: .milliseconds(20))
            after = threadCount()
        }
        #expect(after < before + 10, "20 writers made and released: \(before) threads before, \(after) after")
    }
}

/// The framing of OpenSSH's multiplexing protocol.
@Suite("Mux message framing")
struct MuxFramingTests {
    @Test func aMessageIsLengthTypeAndFields() throws {
        var message = MuxMessage(rawType: 0x1000_0002)
        message.u32(7)
        message.string(Array("ls".utf8))
        let framed = message.framed
        #expect(framed == [0, 0, 0, 14, 0x10, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 2, UInt8(ascii: "l"), UInt8(ascii: "s")])
        var received = framed + [0, 0]  // and the start of the next message
        var reader = try #require(try MuxMessage.take(from: &received))
        #expect(reader.type == 0x1000_0002)
        #expect(reader.u32() == 7)
        #expect(reader.text() == "ls")
        #expect(received == [0, 0])
        #expect(try MuxMessage.take(from: &received) == nil)
    }

    @Test func oversizedAndTypelessMessagesAreRefused() {
        var oversized: [UInt8] = [0, 0x10, 0, 0, 0, 0, 0, 1]
        #expect(throws: MuxClient.Failure.self) { try MuxMessage.take(from: &oversized) }
        var typeless: [UInt8] = [0, 0, 0, 2, 1, 2]
        #expect(throws: MuxClient.Failure.self) { try MuxMessage.take(from: &typeless) }
    }
}
