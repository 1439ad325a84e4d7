import Passh
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc  // unlink, for the test's own file
#endif

/// A transport of the embedder's own: it "runs" a command by echoing its stdin back as stdout, and
/// `wait` by waiting until it is stopped — all it knows of passh is the public API.
struct EchoTransport: Transport {
    func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        var stdin: SessionStdin
        do {
            stdin = try SessionStdin(options)
        } catch {
            return .failed(error)
        }
        if command == ["wait"] {
            let killed = Gate()
            return await options.whileEmergencyStopRegistered(kill: { killed.open() }) {
                await killed.wait()
                return .signaled(Signal(name: "KILL"))
            }
        }
        var echoed: [UInt8] = []
        while let piece = stdin.next(atMost: 3) { echoed += piece }
        await output(OutputChunk(host: host, stream: .stdout, bytes: echoed[...], endsWithNewline: true))
        return .exited(0)
    }

    func descriptorsPerHost(sendingStdin: Bool) -> Int { 1 }
}

/// Opened once; `wait()` returns once it is.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if now { continuation.resume() }
        }
    }
}

@Suite("A custom transport gets stdin and the emergency stop from the library")
struct CustomTransportTests {
    @Test func theStdinPreambleComesFirstThenTheFile() async throws {
        let path = FilePath("/tmp/passh-api-stdin-\(UInt32.random(in: 0...UInt32.max))")
        let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
        _ = try fd.writeAll(Array("file line\n".utf8))
        try fd.close()
        defer { unlink(path.string) }
        var options = RunOptions()
        options.collectOutput = true
        options.stdinFile = path
        options.sudo = Sudo(password: try SudoPassword(Array("s3cret".utf8)))
        let results = try await ParallelSSH(options: options, transport: EchoTransport()).run(["cat"], on: ["h1"])
        let lines = String(decoding: results[0].stdout ?? [], as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines.prefix(2) == ["s3cret", "s3cret"])  // the password, for sudo's check and the command's
        #expect(lines.last == "file line")
    }

    @Test func aMissingStdinFileFailsTheHost() async throws {
        var options = RunOptions()
        options.stdinFile = "/nonexistent/passh-stdin"
        let session = options.session
        #expect(throws: HostFailure.self) { _ = try SessionStdin(session) }
    }

    @Test func theEmergencyStopReachesACustomSession() async throws {
        var options = RunOptions()
        let stop = EmergencyStop()
        options.emergencyStop = stop
        let passh = ParallelSSH(options: options, transport: EchoTransport())
        async let results = passh.run(["wait"], on: ["h1", "h2"])
        stop.trigger()
        #expect(await stop.killsSent(within: .seconds(10)))
        #expect(try await results.map(\.outcome) == [.signaled(Signal(name: "KILL")), .signaled(Signal(name: "KILL"))])
    }
}
