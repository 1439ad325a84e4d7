import CPasshShims
import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The library's own threads take no signals: a program that watches SIGINT with signalfd or a
/// dispatch source (passh itself) ignores it and needs it blocked in every thread, or a thread
/// that leaves it unblocked may take it and drop it — passh went on after a ^C.
@Suite struct LibraryThreadTests {
    /// The signals blocked by each thread whose name starts with `passh-`, by name.
    static func blockedSignals() -> [(name: String, blocked: UInt64)] {
        guard let dir = opendir("/proc/self/task") else { return [] }
        defer { closedir(dir) }
        var found: [(String, UInt64)] = []
        while let entry = readdir(dir) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard Int(tid) != nil, let name = readText("/proc/self/task/\(tid)/comm"), name.hasPrefix("passh-") else {
                continue
            }
            let status = readText("/proc/self/task/\(tid)/status") ?? ""
            let mask =
                status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") }
                .flatMap { UInt64($0.dropFirst("SigBlk:".count).trimmingPrefix(while: \.isWhitespace), radix: 16) } ?? 0
            found.append((String(name.dropLast()), mask))
        }
        return found
    }

    @Test func theWriterAndThePollerTakeNoSignalAProgramWatches() async throws {
        let out = try FileDescriptor.open(FilePath("/dev/null"), .writeOnly)
        defer { try? out.close() }
        let writer = OutputWriter(stdout: out, stderr: out)
        await writer.write(Array("started\n".utf8), to: .stdout)  // starts its thread
        await writer.flush()
        let input = temporaryPath("thread-input")
        defer { unlink(input) }
        try writeFile(input, Array("x\n".utf8))
        var options = RunOptions()
        options.stdinFile = FilePath(input)
        // The poller is the transport's: its thread lives as long as the transport.
        let transport = LocalTransport()
        _ = try await ParallelSSH(options: options, transport: transport).run(["true"], on: ["h1"])
        // Its thread starts with the first wait that has to wait (on a loaded machine the run above
        // may never have had to): one that does, on a pipe nobody writes to.
        let poller = Poller()
        var pipe: [Int32] = [-1, -1]
        #expect(Glibc.pipe(&pipe) == 0)
        defer { close(pipe[0]); close(pipe[1]) }
        let waiting = Task { [reading = pipe[0]] in await poller.wait(reading, for: .readable) }
        defer { waiting.cancel() }
        #expect(try await waitUntil { Self.blockedSignals().contains { $0.name == "passh-poller" } })
        let threads = Self.blockedSignals()
        #expect(Set(threads.map(\.name)).isSuperset(of: ["passh-writer", "passh-poller"]))
        for thread in threads {
            for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH] {
                #expect(thread.blocked & (1 << UInt64(signal - 1)) != 0, "\(thread.name) takes signal \(signal)")
            }
        }
        withExtendedLifetime((writer, transport)) {}
    }

    #if LIBSSH
    /// The fork handler that gives a ProxyCommand its signals back is libssh's threads' own: the
    /// child of any other thread's fork keeps the mask its parent had.
    @Test func onlyLibSSHsForksHaveTheirSignalsUnblocked() async throws {
        let transport = try LibSSHTransport()
        _ = try await ParallelSSH(transport: transport).run(["true"], on: ["nosuchhost.invalid"])  // starts its threads
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGUSR1)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        let childBlocks = passh_forked_child_blocks(SIGUSR1)
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        #expect(childBlocks == 1)
        withExtendedLifetime(transport) {}
    }
    #endif
}
