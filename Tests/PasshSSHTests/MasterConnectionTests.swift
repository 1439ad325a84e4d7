import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Master connections (`multiplexing`) that are not what they seem when passh reaches them.
@Suite(.needsTestCluster, .timed)
struct MasterConnectionTests {
    /// A master at the end of its `ControlPersist` answers passh's hello and then goes away, leaving
    /// its socket behind. Here a stand-in does just that (python3: answers the hello, reads the proxy
    /// request, closes; after its last round it stops listening first, as a master that has exited
    /// listens no more by the time passh sees it gone). The host's command still runs: passh starts
    /// a master again.
    @Test func aMasterThatGoesAwayAsItIsReachedIsStartedAgain() async throws {
        try await reachStandIn(goingAway: 1)
    }

    /// The master passh starts goes away too before passh reaches it: ssh counts `ControlPersist` in
    /// whole seconds (2 s lasted 1.07 s without a client), and a loaded machine took longer than that
    /// (a full run failed "the master connection to h1 did not answer", its one retry spent). The
    /// stand-in's second round stands for that master: passh tries once more.
    @Test func aMasterThatGoesAwayTwiceIsStartedAgain() async throws {
        try await reachStandIn(goingAway: 2)
    }

    private func reachStandIn(goingAway rounds: Int) async throws {
        let directory = temporaryPath("mux-gone")
        mkdir(directory, 0o700)
        var ssh = OpenSSHOptions()
        ssh.configFile = FilePath(TestCluster.config)
        // Long enough not to idle out under load; the master is asked to exit at the end.
        ssh.multiplexing = Multiplexing(directory: FilePath(directory), seconds: 30)
        let path = try #require(ssh.controlPath(for: try Host("h1")))
        defer {
            shell("ssh -F \(TestCluster.config) -o ControlPath=\(path) -O exit h1 >/dev/null 2>&1; rm -rf \(directory)")
        }
        let standIn = """
            import socket, struct, sys
            path, rounds = sys.argv[1], int(sys.argv[2])
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(path)
            listener.listen(1)
            open(path + ".ready", "w").close()
            for round in range(rounds):
                peer, _ = listener.accept()
                def message():
                    size = struct.unpack(">I", peer.recv(4, socket.MSG_WAITALL))[0]
                    return peer.recv(size, socket.MSG_WAITALL)
                message()
                peer.sendall(struct.pack(">III", 8, 1, 4))
                message()
                if round == rounds - 1:
                    listener.close()
                peer.close()
            """
        let script = directory + "/stand-in.py"
        try writeFile(script, Array(standIn.utf8))
        shell("python3 \(script) \(path) \(rounds) >/dev/null 2>&1 &")
        #expect(try await waitUntil { access(path + ".ready", F_OK) == 0 }, "the stand-in listens")

        var options = RunOptions()
        options.collectOutput = true
        let results = try await ParallelSSH(options: options, ssh: ssh).run(["echo reached"], on: ["h1"])
        #expect(results.map(\.outcome) == [.exited(0)], "stderr: \(results.map { text($0.stderr) })")
        #expect(results.map { text($0.stdout) } == ["reached\n"])
    }
}

/// Two runs that start the master of the same hosts at once (two `passh --persist` on a fresh
/// fleet): the `ssh -N` that finds the other's socket used to stay up for ever as a plain connection,
/// and its run with it.
@Suite(.enabled(if: TestCluster.isAvailable, "no OpenSSH server for scripts/testcluster: install openssh-server"))
struct MasterRaceTests {
    @Test func runsStartingTheSameMastersAtOnceBothEnd() async throws {
        let directory = temporaryPath("mux-race")
        mkdir(directory, 0o700)
        var ssh = OpenSSHOptions()
        ssh.configFile = FilePath(TestCluster.config)
        ssh.multiplexing = Multiplexing(directory: FilePath(directory), seconds: 2)
        let hosts = ["h1", "h2"]
        defer {
            for host in hosts {
                let path = ssh.controlPath(for: try! Host(host))!
                shell("ssh -F \(TestCluster.config) -o ControlPath=\(path) -O exit \(host) >/dev/null 2>&1")
            }
            shell("rm -rf \(directory)")
        }
        var options = RunOptions()
        options.collectOutput = true
        options.commandTimeout = .seconds(20)  // a hang is a failure, not a stuck suite
        let passh = ParallelSSH(options: options, ssh: ssh)
        async let first = passh.run(["echo one"], on: hosts)
        async let second = passh.run(["echo two"], on: hosts)
        let (one, two) = try await (first, second)
        #expect(one.map(\.outcome) == [.exited(0), .exited(0)])
        #expect(two.map(\.outcome) == [.exited(0), .exited(0)])
        #expect(one.map { text($0.stdout) } == ["one\n", "one\n"])
        #expect(two.map { text($0.stdout) } == ["two\n", "two\n"])
        #expect((one + two).allSatisfy { text($0.stderr).isEmpty })
    }
}
