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
            try FileDescriptor.open(
                FilePath($0), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
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
        #expect(
            text.stdout == """
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
