import PasshTestSupport
import Synchronization
import SystemPackage
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// SIGPIPEs raised in this process while a test counts them.
private let pipeSignals = Atomic<Int>(0)

/// Small bugs found by reading the library, each with the test that failed before its fix.
@Suite("Bugs found by reading", .serialized)
struct ReadingFixesTests {
    @Test func aRetriedHostKeepsItsTransferTotals() {
        let totals = TransferTotals(files: 3, bytes: 4096)
        let result = HostResult(host: try! Host("h1"), outcome: .exited(0), transfer: totals)
        #expect(result.after(attempts: 3).transfer == totals)
        #expect(result.after(attempts: 3).attempts == 3)
    }

    @Test func theLocalTransportCountsTheDescriptorsOfItsProcess() {
        // A process per host, like an ssh: stdin, two pipes, the pidfd (and the pipes' other ends
        // while it starts); a stdin file adds its pipe and the file.
        #expect(LocalTransport().descriptorsPerHost(sendingStdin: false) == 6)
        #expect(LocalTransport().descriptorsPerHost(sendingStdin: true) == 8)
        // An ssh has one more: the anonymous file it writes its log to (`-E`, SSHLog).
        #expect(
            LocalTransport().descriptorsPerHost(sendingStdin: true)
                == OpenSSHTransport().descriptorsPerHost(sendingStdin: true) - 1)
    }

    @Test func aGroupedHostsLargeOutputIsKeptInLinearTime() async throws {
        let out = try FileDescriptor.open(FilePath("/dev/null"), .writeOnly)
        defer { try? out.close() }
        let sink = GroupedSink(writer: OutputWriter(stdout: out, stderr: out))
        let host = try Host("h1")
        let chunk = Array(repeating: UInt8(ascii: "x"), count: 4095) + [0x0A]
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<4096 {  // 16 MiB: copying the host's buffer on each chunk moved 34 GB (45 s here)
            await sink.output(OutputChunk(host: host, stream: .stdout, bytes: chunk[...], endsWithNewline: true))
        }
        await sink.hostFinished(HostResult(host: host, outcome: .exited(0)))
        #expect(clock.now - start < .seconds(10))
    }

    @Test func theDecoderCollectsALargeOutputInLinearTime() throws {
        var stream = Array(#"{"event":"start","version":2,"tool":"passh"}"#.utf8) + [0x0A]
        let text = String(repeating: "0123456789", count: 200)
        let line = Array(#"{"event":"line","host":"h1","stream":"stdout","line":"\#(text)"}"#.utf8) + [0x0A]
        for _ in 0..<4000 { stream += line }  // copying the output so far on each line moved 16 GB
        stream += Array(#"{"event":"finished","host":"h1","status":"ok","exit_code":0}"#.utf8) + [0x0A]
        // Against the same stream decoded without collecting: collecting adds appends, nothing more.
        let clock = ContinuousClock()
        var start = clock.now
        _ = try JSONLinesDecoder.decode(stream)
        let reading = clock.now - start
        start = clock.now
        let run = try JSONLinesDecoder.decode(stream, collectOutput: true)
        let collecting = clock.now - start
        #expect(collecting < reading * 2 + .seconds(2), "\(collecting) collecting, \(reading) without")
        #expect(run.results.first?.stdout?.count == 4000 * 2001)
    }

    @Test func aHostThatStopsReadingRaisesNoSIGPIPE() async throws {
        // A program embedding the library may not ignore SIGPIPE: a broken pipe must be an error
        // the feeder handles, never a signal (counted here instead of killing the test).
        let previous = signal(SIGPIPE) { _ in pipeSignals.add(1, ordering: .relaxed) }
        defer { signal(SIGPIPE, previous) }
        pipeSignals.store(0, ordering: .relaxed)
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        close(fds[0])  // the host is gone
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        let poller = Poller()
        await StdinFeeder(file: nil, preamble: Array("password\n".utf8), pipe: fds[1], poller: poller).run()
        #expect(pipeSignals.load(ordering: .relaxed) == 0)
    }
}
