import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Master connections (`multiplexing`) that are not what they seem when passh reaches them.
@Suite(.needsTestCluster, .timed)  // the master idles out after 2 s
struct MasterConnectionTests {
    /// A master at the end of its `ControlPersist` answers passh's hello and then goes away, leaving
    /// its socket behind. Here a stand-in does just that (python3: answers the hello, reads the proxy
    /// request, stops listening, closes; as a master that has exited, it listens no more by the
    /// time passh sees it gone). The host's command still runs: passh starts a master again.
    @Test func aMasterThatGoesAwayAsItIsReachedIsStartedAgain() async throws {
        let directory = temporaryPath("mux-gone")
        mkdir(directory, 0o700)
        var ssh = OpenSSHOptions()
        ssh.configFile = FilePath(TestCluster.config)
        ssh.multiplexing = Multiplexing(directory: FilePath(directory), seconds: 2)
        let path = try #require(ssh.controlPath(for: try Host("h1")))
        defer {
            shell("ssh -F \(TestCluster.config) -o ControlPath=\(path) -O exit h1 >/dev/null 2>&1; rm -rf \(directory)")
        }
        let standIn = """
            import socket, struct, sys
            path = sys.argv[1]
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(path)
            listener.listen(1)
            open(path + ".ready", "w").close()
            peer, _ = listener.accept()
            def message():
                size = struct.unpack(">I", peer.recv(4, socket.MSG_WAITALL))[0]
                return peer.recv(size, socket.MSG_WAITALL)
            message()
            peer.sendall(struct.pack(">III", 8, 1, 4))
            message()
            listener.close()
            peer.close()
            """
        let script = directory + "/stand-in.py"
        try writeFile(script, Array(standIn.utf8))
        shell("python3 \(script) \(path) >/dev/null 2>&1 &")
        #expect(try await waitUntil { access(path + ".ready", F_OK) == 0 }, "the stand-in listens")

        var options = RunOptions()
        options.collectOutput = true
        let results = try await ParallelSSH(options: options, ssh: ssh).run(["echo reached"], on: ["h1"])
        #expect(results.map(\.outcome) == [.exited(0)])
        #expect(results.map { text($0.stdout) } == ["reached\n"])
    }
}
