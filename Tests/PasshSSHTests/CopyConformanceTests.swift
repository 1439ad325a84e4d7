import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Copy and gather, through the library, over every transport.
@Suite("Copy and gather over every transport", .needsTestCluster, .ownMasterConnections, .timed)
struct CopyConformanceTests {
    /// Every entry under `path`, sorted: type, mode, mtime or link target; then checksums.
    static func describe(_ path: String) -> String {
        shell(
            """
            cd '\(path)' && find . -mindepth 1 \\( -type l -printf '%p %y -> %l\\n' \\) -o -printf '%p %y %m %T@\\n' | sort \
            && find . -type f -exec sha256sum {} + | sort -k 2
            """
        ).text
    }

    /// `SRC/data/…`: 3 MB of zeros (no newline at all), a line of 100 KB, random bytes, a link.
    static func makeSource() -> String {
        let source = temporaryPath("copy-lib-src")
        let made = shell(
            """
            set -e; mkdir -p '\(source)/data/sub' && cd '\(source)/data'
            head -c 3000000 /dev/zero > zeros; head -c 100000 /dev/zero | tr '\\0' x > sub/long; head -c 300000 /dev/urandom > sub/random
            ln -s sub/random link; chmod -R a+rX '\(source)'; chmod 0640 sub/long
            find . -depth -exec touch -h -d '2003-04-05 06:07:08' {} +
            """)
        precondition(made.status == 0)
        return source
    }

    @Test(arguments: TransportKind.allCases)
    func copyThenGather(_ kind: TransportKind) async throws {
        try await kind.prepare(["h01", "h02"])
        let source = Self.makeSource()
        let pushed = temporaryPath("copy-lib-dest")
        let gathered = temporaryPath("gather-lib")
        defer { shell("rm -rf '\(source)' '\(pushed)' '\(gathered)'") }
        let copy = try await CopyOperation(paths: [source + "/data"], destination: pushed)
        #expect(copy.totals == TransferTotals(files: 3, bytes: 3_400_000))
        let sent = try await kind.passh().copy(copy, to: try ParallelSSH.hosts(["h01"]))
        #expect(sent.map(\.outcome) == [.exited(0)])
        #expect(sent.map(\.transfer) == [TransferTotals(files: 3, bytes: 3_400_000)])
        #expect(Self.describe(pushed) == Self.describe(source))

        let gather = try GatherOperation(paths: [pushed + "/data"], destination: FilePath(gathered))
        let fetched = try await kind.passh().gather(gather, from: try ParallelSSH.hosts(["h01", "h02"]))
        #expect(fetched.map(\.outcome) == [.exited(0), .exited(0)])
        #expect(fetched.map(\.transfer) == Array(repeating: TransferTotals(files: 3, bytes: 3_400_000), count: 2))
        #expect(fetched.map(\.stdout) == [[], []])
        for host in ["h01", "h02"] {
            #expect(Self.describe(gathered + "/" + host) == Self.describe(source))
        }
    }

    @Test(arguments: TransportKind.allCases)
    func aHostileArchiveFailsItsHostAndWritesNothingOutside(_ kind: TransportKind) async throws {
        try await kind.prepare(["h01"])
        let work = temporaryPath("hostile")
        let destination = work + "/out"
        defer { shell("rm -rf '\(work)'") }
        // A member named "../escape.txt": it would land in `out/`, beside the host's directory.
        let made = shell(
            """
            set -e; mkdir -p '\(work)/sub' && echo pwned > '\(work)/escape.txt'
            cd '\(work)/sub' && tar -cPf '\(work)/evil.tar' ../escape.txt && chmod -R a+rX '\(work)'
            """)
        try #require(made.status == 0)
        let gather = try GatherOperation(command: "cat '\(work)/evil.tar'", destination: FilePath(destination))
        let results = try await kind.passh().gather(gather, from: try ParallelSSH.hosts(["h01"]))
        let result = try #require(results.first)
        guard case .failed(let failure) = result.outcome else {
            Issue.record("expected a failure, got \(result.outcome)")
            return
        }
        #expect(failure.kind == .other)
        #expect(!failure.message.isEmpty && !failure.message.contains("\n"))
        #expect(result.errorMessage == failure.message)
        #expect(result.transfer == nil)
        #expect(access(destination + "/escape.txt", F_OK) != 0)
        #expect(shell("find '\(destination)' -type f").text == "")
    }

    @Test(.timed, arguments: TransportKind.allCases)
    func timeoutsAndFailFastApplyToAGather(_ kind: TransportKind) async throws {
        try await kind.prepare(["h01", "h02"])
        let destination = temporaryPath("gather-stop")
        defer { shell("rm -rf '\(destination)'") }
        // A stream that starts and then stalls: the timeout ends the host, and nothing is left running.
        let (sleep, marker) = uniqueSleep(seconds: 8)  // over OpenSSH the remote command outlives its ssh
        let stalled = try GatherOperation(
            command: "head -c 512 /dev/zero; \(sleep)", destination: FilePath(destination))
        let started = ContinuousClock.now
        let timed = try await kind.passh { $0.commandTimeout = .milliseconds(800) }.gather(
            stalled, from: try ParallelSSH.hosts(["h01"]))
        #expect(timed.map(\.outcome) == [.timedOut])
        #expect(ContinuousClock.now - started < .seconds(10))
        guard kind == .local else { return }
        // A host whose command fails stops the others with fail-fast (PASSH_HOST: local only).
        let failing = try GatherOperation(
            command: "[ \"$PASSH_HOST\" = h01 ] && exit 3; \(sleep)", destination: FilePath(destination))
        let results = try await kind.passh { $0.failFast = true }.gather(
            failing, from: try ParallelSSH.hosts(["h01", "h02"]))
        #expect(results.map(\.outcome) == [.exited(3), .cancelled])
        #expect(try await processesLeft(matching: marker).isEmpty)
    }
}
