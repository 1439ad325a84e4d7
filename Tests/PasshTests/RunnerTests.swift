import Passh
import PasshTestSupport
import Synchronization
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A sink that records what it is told, and the most hosts it saw running at once.
final class RecordingSink: OutputSink {
    struct State {
        var running = 0
        var mostRunning = 0
        var started: [String] = []
        var finished: [String] = []
        var lines: [String] = []
        var runFinished = 0
    }

    let state = Mutex(State())

    func hostStarted(_ host: Host) async {
        state.withLock {
            $0.running += 1
            $0.mostRunning = max($0.mostRunning, $0.running)
            $0.started.append(host.name)
        }
    }

    func output(_ chunk: OutputChunk) async {
        state.withLock { state in
            for line in chunk.lines {
                state.lines.append("\(chunk.host) \(chunk.stream.rawValue) \(String(decoding: line, as: UTF8.self))")
            }
        }
    }

    func hostFinished(_ result: HostResult) async {
        state.withLock {
            $0.running -= 1
            $0.finished.append(result.host.name)
        }
    }

    func runFinished(_ results: [HostResult]) async {
        state.withLock { $0.runFinished += 1 }
    }
}

func localPassh(_ configure: (inout RunOptions) -> Void = { _ in }) -> ParallelSSH {
    var options = RunOptions()
    options.collectOutput = true
    configure(&options)
    return ParallelSSH(options: options, transport: LocalTransport())
}

func text(_ bytes: [UInt8]?) -> String { String(decoding: bytes ?? [], as: UTF8.self) }

@Suite("Runner over LocalTransport")
struct RunnerTests {
    /// A host that stops reading its stdin early makes feeding it fail with EPIPE — and used to
    /// raise SIGPIPE, which killed a program that does not ignore it (this test process).
    @Test func aHostThatClosesItsStdinEarlyDoesNotKillTheProgram() async throws {
        let path = temporaryPath("stdin-epipe")
        defer { unlink(path) }
        try writeFile(path, [UInt8](repeating: 0x61, count: 8 << 20))
        _ = signal(SIGPIPE, SIG_DFL)  // as in a program that never touched it
        var options = RunOptions()
        options.stdinFile = FilePath(path)
        let results = try await ParallelSSH(options: options, transport: LocalTransport())
            .run(["exec 0<&-; echo closed"], on: (1...8).map { "h\($0)" })
        #expect(results.map(\.outcome) == Array(repeating: .exited(0), count: 8))
    }

    @Test func collectsEachHostsOutputAndStatus() async throws {
        let results = try await localPassh().run(
            ["echo out-$PASSH_HOST; echo err-$PASSH_HOST >&2; exit $(( ${#PASSH_HOST} - 2 ))"],
            on: ["ab", "abc", "abcd"])
        #expect(results.map(\.host.name) == ["ab", "abc", "abcd"])
        #expect(results.map(\.outcome) == [.exited(0), .exited(1), .exited(2)])
        #expect(results.map { text($0.stdout) } == ["out-ab\n", "out-abc\n", "out-abcd\n"])
        #expect(results.map { text($0.stderr) } == ["err-ab\n", "err-abc\n", "err-abcd\n"])
        #expect(results.map(\.errorMessage) == [nil, "err-abc", "err-abcd"])
    }

    @Test func keepsBytesAsTheyAre() async throws {
        let results = try await localPassh().run(["printf 'a\\r\\nb\\377\\376\\000c\\nno newline'"], on: ["h"])
        #expect(results[0].stdout == Array("a\r\nb".utf8) + [0xFF, 0xFE, 0x00] + Array("c\nno newline".utf8))
    }

    @Test func emptyHostListRunsNothing() async throws {
        #expect(try await localPassh().run(["true"], on: [Host]()).isEmpty)
    }

    /// A command for each host that returns once `count` hosts have started it (at most after 10 s):
    /// the hosts that can run at once all do, whatever the machine's speed.
    func untilStarted(_ count: Int) -> (command: String, directory: String) {
        let directory = temporaryPath("started")
        mkdir(directory, 0o700)
        let command = """
            touch \(directory)/$PASSH_HOST; i=0
            while [ "$(ls \(directory) | wc -l)" -lt \(count) ] && [ $i -lt 400 ]; do sleep 0.025; i=$((i+1)); done
            """
        return (command, directory)
    }

    @Test(arguments: [1, 2, 5])
    func fanoutBoundsTheHostsRunningAtOnce(fanout: Int) async throws {
        let sink = RecordingSink()
        let hosts = (1...8).map { "h\($0)" }
        let (command, directory) = untilStarted(fanout)
        defer { shell("rm -rf \(directory)") }
        let results = try await localPassh { $0.fanout = fanout }.run([command], on: hosts, sink: sink)
        #expect(results.allSatisfy { $0.isSuccess })
        let state = sink.state.withLock { $0 }
        #expect(state.mostRunning == fanout)
        #expect(state.started.sorted() == hosts.sorted())
        #expect(state.finished.sorted() == hosts.sorted())
        #expect(state.runFinished == 1)
    }

    @Test func fanoutZeroMeansNoLimit() async throws {
        let sink = RecordingSink()
        let (command, directory) = untilStarted(30)
        defer { shell("rm -rf \(directory)") }
        _ = try await localPassh { $0.fanout = 0 }.run([command], on: (1...30).map { "h\($0)" }, sink: sink)
        #expect(sink.state.withLock { $0.mostRunning } == 30)
    }

    @Test func everyHostReadsTheWholeStdinFile() async throws {
        // One open file per host: a shared descriptor would give all the bytes to one host.
        let path = "/tmp/passh-stdin-\(uniqueMarker())"
        let content = String(repeating: "0123456789abcdef\n", count: 20_000)
        try write(content, to: path)
        defer { unlink(path) }
        let results = try await localPassh {
            $0.stdinFile = FilePath(path); $0.fanout = 0
        }
        .run(["wc -c"], on: (1...50).map { "h\($0)" })
        #expect(results.map { text($0.stdout).trimmingSpaces } == Array(repeating: "340000", count: 50))
    }

    @Test func stdinIsDevNullByDefault() async throws {
        let results = try await localPassh().run(["wc -c"], on: ["h"])
        #expect(text(results[0].stdout).trimmingSpaces == "0")
    }

    @Test func misuseIsThrownBeforeAnythingStarts() async throws {
        let marker = uniqueMarker()
        await #expect(throws: PasshError(.invalidOption, "no command given")) {
            try await localPassh().run([], on: ["h"])
        }
        await #expect(throws: PasshError(.invalidOption, "fanout must be 0 (no limit) or more, not -1")) {
            try await localPassh { $0.fanout = -1 }.run(["echo \(marker)"], on: ["h"])
        }
        await #expect(throws: PasshError(.unreadableFile, "No such file: /nonexistent/\(marker)")) {
            try await localPassh { $0.stdinFile = FilePath("/nonexistent/\(marker)") }.run(["true"], on: ["h"])
        }
        await #expect(throws: PasshError(.unreadableFile, "Not a file: /tmp is a directory")) {
            try await localPassh { $0.stdinFile = FilePath("/tmp") }.run(["true"], on: ["h"])
        }
        await #expect(
            throws: PasshError(.invalidHost, "invalid host \"-oProxyCommand=x\": a host must not begin with '-'")
        ) {
            try await localPassh().run(["true"], on: ["h1", "-oProxyCommand=x"])
        }
    }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
    }
}

func write(_ content: String, to path: String) throws {
    let fd = try FileDescriptor.open(
        FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
    defer { try? fd.close() }
    _ = try fd.writeAll(Array(content.utf8))
}
