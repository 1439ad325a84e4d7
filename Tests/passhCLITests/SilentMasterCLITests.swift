import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--persist` against a master that accepts and never answers: ^C, `--timeout` and `--fail-fast`
/// each end passh before the connect timeout (6 s; the grace and a second on a quiet machine).
@Suite("passh and a silent master connection", .serialized)
struct SilentMasterCLITests {
    /// A private runtime directory whose master for `h1` is a silent listener; `body` gets the
    /// environment that points passh there, and the listener.
    static func withSilentMaster(_ body: ([String: String], SilentUnixListener) async throws -> Void) async throws {
        let runtime = temporaryPath("silent-runtime")
        #expect(mkdir(runtime, 0o700) == 0 && mkdir(runtime + "/passh", 0o700) == 0)
        defer { shell("rm -rf '\(runtime)'") }
        var ssh = OpenSSHOptions()
        ssh.configFile = FilePath(TestCluster.config)
        ssh.multiplexing = Multiplexing(directory: FilePath(runtime + "/passh"))
        let listener = SilentUnixListener(path: try #require(ssh.controlPath(for: try Host("h1"))))
        defer { listener.close() }
        try await body(["XDG_RUNTIME_DIR": runtime], listener)
    }

    @Test(.enabled(if: TestCluster.isAvailable, "needs the test cluster's ssh_config"))
    func anInterruptEndsPassh() async throws {
        try await Self.withSilentMaster { environment, listener async throws in
            let dir = temporaryPath("silent-interrupt")
            #expect(mkdir(dir, 0o700) == 0)
            defer { shell("rm -rf '\(dir)'") }
            let script = """
                XDG_RUNTIME_DIR=\(environment["XDG_RUNTIME_DIR"]!) \(passhPath) -F \(TestCluster.config) --persist h1 true \
                    >\(dir)/out 2>\(dir)/err &
                pid=$!
                i=0; while [ ! -e \(dir)/go ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
                start=$(date +%s%N)
                kill -INT $pid
                wait $pid; status=$?
                echo "$status $(( ($(date +%s%N) - start) / 1000000 ))"
                """
            let run = Task { try await bashScript(script).text }
            #expect(try await listener.waitForClient(within: .seconds(5)))
            try writeFile(dir + "/go", [])
            let figures =
                try await run.value.split(separator: "\n").last?.split(separator: " ").compactMap { Int($0) } ?? []
            #expect(figures.first == 130)
            #expect((figures.last ?? .max) < 4000, "ended \(figures.last ?? -1) ms after ^C (the connect timeout: 6 s)")
            #expect(readText(dir + "/err") == "passh: interrupted by SIGINT; did not finish: h1\n")
        }
    }

    @Test(.enabled(if: TestCluster.isAvailable, "needs the test cluster's ssh_config"))
    func aTimeoutEndsTheHost() async throws {
        try await Self.withSilentMaster { environment, _ async throws in
            let clock = ContinuousClock()
            let start = clock.now
            let out = try await passhOnCluster(["--persist", "--timeout", "1", "h1", "true"], environment: environment)
            #expect(clock.now - start < .seconds(5), "before the connect timeout (6 s)")
            #expect(out.status == 2)
            #expect(out.stderrText == "[h1] passh: timed out after 1 s\nfailed at: h1\n")
        }
    }

    @Test(.enabled(if: TestCluster.isAvailable, "needs the test cluster's ssh_config"))
    func failFastEndsTheHost() async throws {
        try await Self.withSilentMaster { environment, _ async throws in
            let clock = ContinuousClock()
            let start = clock.now
            let out = try await passhOnCluster(
                ["--persist", "--fail-fast", "h1,refused", "true"], environment: environment)
            #expect(clock.now - start < .seconds(5), "before the connect timeout (6 s)")
            #expect(out.status == 2)
            #expect(out.stderrText.hasSuffix("failed at: h1 refused\n"))
        }
    }
}

/// SIGTERM while the sudo check runs on the first host (here a stand-in ssh that never ends): passh
/// stops it and exits 143 at once, leaving nothing behind.
@Suite("passh --sudo stopped during its check")
struct SudoCheckSignalTests {
    @Test func aSignalDuringTheSudoCheckStopsIt() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let standIn = temporaryPath("ssh-hangs")
        try writeFile(standIn, Array("#!/bin/sh\nexec \(sleep)\n".utf8))
        chmod(standIn, 0o700)
        defer { unlink(standIn) }
        let script = """
            \(passhPath) --ssh \(standIn) --sudo h1 true >/dev/null 2>&1 &
            pid=$!
            i=0; while ! pgrep -f '^sleep \(marker)' >/dev/null && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
            start=$(date +%s%N)
            kill -TERM $pid
            wait $pid; status=$?
            echo "$status $(( ($(date +%s%N) - start) / 1000000 ))"
            """
        let figures =
            try await bashScript(script).text.split(separator: "\n").last?.split(separator: " ").compactMap { Int($0) }
            ?? []
        #expect(figures.first == 143)
        #expect((figures.last ?? .max) < 6000, "ended \(figures.last ?? -1) ms after SIGTERM")
        #expect(try await processesLeft(matching: marker).isEmpty)
    }
}
