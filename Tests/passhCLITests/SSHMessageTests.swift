import Passh
import PasshTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// ssh's own messages come from its log, never from the remote command's stderr: a command that
/// prints ssh-like words is a command that ran (issue 22, items 1, 7, 8).
@Suite("ssh's messages and the command's", .needsTestCluster)
struct SSHMessageTests {
    let cluster = TestCluster.config

    @Test func aCommandThatPrintsSSHsWordsAndExits255RanOnceAndIsItsOwnFailure() async throws {
        let file = "/tmp/passh-ran-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { shell("rm -f \(file)") }
        let command =
            "echo ran >> \(file); echo 'ssh: connect to host db1 port 22: Connection refused' >&2; exit 255"
        let out = try await passhOnCluster(["--retry", "3", "--retry-delay", "0.01", "--json", "h1", command])
        #expect(out.status == 2)
        #expect(readText(file) == "ran\n", "the side effect happened once")
        let run = try JSONLinesDecoder.decode(out.stdout, collectOutput: true)
        #expect(run.results.count == 1)
        #expect(run.results.first?.outcome == .exited(255))
        #expect(run.results.first?.attempts == 1)
        #expect(run.results.first?.errorMessage == "ssh: connect to host db1 port 22: Connection refused")

        // Plain output: the line once, and no "connection refused" of passh's own.
        let plain = try await passhOnCluster(["--retry", "3", "--retry-delay", "0.01", "h1", command])
        #expect(plain.status == 2)
        #expect(
            plain.stderrText == "[h1] ssh: connect to host db1 port 22: Connection refused\nfailed at: h1\n")
        #expect(readText(file) == "ran\nran\n")
    }

    @Test func aCommandThatPrintsAHostKeyWarningEarnsNoHostKeyAdvice() async throws {
        let command =
            "echo '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @' >&2; "
            + "echo 'Host key verification failed.' >&2; exit 255"
        let out = try await passhOnCluster(["h1", command])
        #expect(out.status == 2)
        #expect(
            out.stderrText == """
                [h1] @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
                [h1] Host key verification failed.
                failed at: h1

                """)
    }

    @Test func sshsOwnErrorsStillReachTheHostsStderrOnce() async throws {
        let out = try await passhOnCluster(["--transport", "openssh", "refused,h1", "echo fine"])
        #expect(out.status == 2)
        #expect(
            out.stderrText
                == "[refused] ssh: connect to host 127.0.0.1 port \(TestCluster.refusedPort): Connection refused\r\n"
                + "failed at: refused\n")
        // A LogLevel of the user's own still works: QUIET silences ssh.
        let quiet = try await passhOnCluster(["--transport", "openssh", "-o", "LogLevel=QUIET", "refused", "true"])
        #expect(quiet.status == 2)
        #expect(
            quiet.stderrText
                == "[refused] passh: failed: exit 255 without a message: ssh's status for its own errors; here the "
                + "remote command was probably killed by a signal\nfailed at: refused\n")
    }

    @Test func aConnectionCutDuringTheKeyExchangeIsExplainedAndRetried() async throws {
        let cutter = KeyExchangeCutter()
        defer { cutter.stop() }
        let out = try await passh([
            "-F", cluster, "--transport", "openssh", "--retry", "2", "--retry-delay", "0.01", "--json", cutter.host,
            "echo never",
        ])
        #expect(out.status == 2)
        #expect(cutter.connections == 3, "tried three times")
        let run = try JSONLinesDecoder.decode(out.stdout, collectOutput: true)
        guard case .failed(let failure) = run.results.first?.outcome else {
            Issue.record("\(String(describing: run.results.first?.outcome))")
            return
        }
        #expect(failure.kind == .connectionLost)
        #expect(!failure.commandMayHaveRun)
        #expect(
            failure.message.hasPrefix("Connection closed by 127.0.0.1 port ")
                || failure.message.hasPrefix("Connection reset by 127.0.0.1 port "), "\(failure.message)")
        #expect(run.results.first?.attempts == 3)
        // Only the last attempt's message is shown.
        let stderr = String(decoding: run.results.first?.stderr ?? [], as: UTF8.self)
        #expect(stderr.split(separator: "\n").count == 1, "\(stderr)")
    }

    @Test func withRetriesTheCommandsStderrFlowsAndIsNotHeld() async throws {
        let marker = "/tmp/passh-flow-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let dir = temporaryPath("flow")
        let out = try await bash(
            """
            mkdir -p \(dir); cd \(dir)
            \(passhPath) -F \(cluster) --retry 2 h1 'echo started >&2; n=0; while [ ! -e \(marker) ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done; echo done' >out 2>err &
            pid=$!
            n=0; while ! grep -q started err && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done
            cat err
            touch \(marker)
            wait $pid
            echo "status $?"
            cat out
            """)
        defer { shell("rm -rf \(dir) \(marker)") }
        #expect(out == ["[h1] started", "status 0", "[h1] done"], "the line came while the command ran")
    }

    // Alone: 100 MB through passh, and its peak RSS measured.
    @Test(.alone) func withRetriesMuchStderrCostsNoMemory() async throws {
        let dir = temporaryPath("held-stderr")
        let out = try await bash(
            """
            mkdir -p \(dir); cd \(dir)
            /usr/bin/time -f %M -o rss \(passhPath) -F \(cluster) --retry 2 h1 'yes 0123456789abcdef | head -c 104857600 >&2' 2>/dev/null
            echo "status $?"
            """)
        defer { shell("rm -rf \(dir)") }
        #expect(out == ["status 0"])
        // (Not in a sanitized build: its memory is the sanitizer's.)
        if getenv("PASSH_TEST_SANITIZER") == nil {
            #expect(peakKiB(dir + "/rss") < 64 * 1024, "peak RSS \(peakKiB(dir + "/rss")) KiB")
        }
    }

    @Test func insecureAddsNoPermanentlyAddedLines() async throws {
        let out = try await passhOnCluster(["--insecure", "unknown-key,h1", "echo in"])
        #expect(out.status == 0)
        #expect(out.sortedStdoutLines == ["[h1] in", "[unknown-key] in"])
        #expect(
            out.stderrText
                == "passh: warning: --insecure: host keys are not checked, so anyone between you and the hosts can pose as them\n"
        )
    }
}

/// A server that sends an SSH greeting, reads the client's and the start of its key exchange, then
/// hangs up: `ssh` says `Connection closed by ADDRESS port N` (at `LogLevel=INFO`) and exits 255.
final class KeyExchangeCutter: Sendable {
    private let fd: Int32
    let host: String
    private let accepted = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    init() {
        (fd, host) = listenOnLoopback(backlog: 16)
        startThread { [self] in serve() }
    }

    /// How many connections were accepted.
    var connections: Int { accepted.load(ordering: .acquiring) }

    func stop() {
        stopped.store(true, ordering: .releasing)
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private func serve() {
        defer { close(fd) }
        while !stopped.load(ordering: .acquiring) {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            accepted.add(1, ordering: .acquiringAndReleasing)
            let banner = Array("SSH-2.0-OpenSSH_9.2p1 cutter\r\n".utf8)
            _ = banner.withUnsafeBytes { write(client, $0.baseAddress!, $0.count) }
            // The client's greeting, then the first bytes of its KEXINIT packet.
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(client, &buffer, buffer.count)
                if count <= 0 { break }
                received += buffer[..<count]
                if let end = received.firstIndex(of: 0x0A), received.count > end + 6 { break }
            }
            close(client)
        }
    }
}
