#if LIBSSH
import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The libssh transport accepts a host key exactly when `ssh` does, on the same known_hosts
/// (issue 22, items 3 and 19): each file below is given to both, OpenSSH's verdict is the
/// reference.
@Suite("known_hosts: the libssh transport decides as OpenSSH", .serialized, .needsTestCluster)
struct KnownHostsConformanceTests {
    /// The test cluster's directory.
    static var directory: String { String(TestCluster.config.prefix(upTo: TestCluster.config.lastIndex(of: "/")!)) }
    /// The name the cluster's hosts have in known_hosts.
    static var name: String { "[127.0.0.1]:\(readText(directory + "/port")!.split(separator: "\n")[0])" }
    /// The cluster's host key, and another one, as `TYPE BASE64`.
    static func key(_ file: String) -> String {
        (readText(directory + "/" + file) ?? "").split(separator: " ").prefix(2).joined(separator: " ")
    }
    static var realKey: String { key("host_ed25519.pub") }
    static var otherKey: String { key("other_host_ed25519.pub") }

    /// A known_hosts file for each case, and whether OpenSSH accepts the host with it.
    static var cases: [(String, String, Bool)] {
        let name = Self.name
        let pattern = name.replacing("127.0.0.1", with: "127.0.0.*")
        return [
            ("a plain line", "\(name) \(realKey)\n", true),
            ("a revoked key, also on a plain line", "@revoked \(name) \(realKey)\n\(name) \(realKey)\n", false),
            ("a revoked key, for every host", "\(name) \(realKey)\n@revoked * \(realKey)\n", false),
            ("a malformed line first", "\(name) ssh-ed25519 AAAA!!!notbase64\n\(name) \(realKey)\n", true),
            ("an unsupported key type first", "\(name) ssh-foo AAAAB3NzaC1yc2E=\n\(name) \(realKey)\n", true),
            ("a key of a type other than its line says", "\(name) ssh-rsa \(realKey.dropFirst(12))\n", false),
            ("another key", "\(name) \(otherKey)\n", false),
            ("a certificate authority only", "@cert-authority \(name) \(otherKey)\n", false),
            ("an unknown marker", "@trusted \(name) \(realKey)\n", false),
            ("a pattern", "\(pattern) \(realKey)\n", true),
            ("a pattern with the host excluded", "\(pattern),!\(name) \(realKey)\n", false),
            ("another key for the name, the key for every host", "\(name) \(otherKey)\n* \(realKey)\n", true),
            ("CRLF line ends and comments", "# hosts\r\n\(name) \(realKey) a comment\r\n", true),
            ("the name without its port", "127.0.0.1 \(realKey)\n", true),
            (
                "the name without its port, revoked with it", "@revoked \(name) \(realKey)\n127.0.0.1 \(realKey)\n",
                false
            ),
            ("another key under the name without its port", "127.0.0.1 \(otherKey)\n", false),
            ("revoked under the name without its port", "@revoked 127.0.0.1 \(realKey)\n127.0.0.1 \(realKey)\n", false),
        ]
    }

    @Test func hashedNamesAreMatched() async throws {
        let file = temporaryPath("known-hosts-hashed")
        defer { unlink(file); unlink(file + ".old") }
        try writeFile(file, Array("\(Self.name) \(Self.realKey)\n".utf8))
        #expect(shell("ssh-keygen -q -H -f \(file) >/dev/null 2>&1").status == 0)
        #expect(readText(file)?.hasPrefix("|1|") == true)
        #expect(openSSHAccepts(file) == true)
        #expect(try await libSSHAccepts(file) == nil)
    }

    @Test func eachFileIsDecidedAsOpenSSHDecidesIt() async throws {
        let file = temporaryPath("known-hosts-case")
        defer { unlink(file) }
        for (name, contents, accepted) in Self.cases {
            try writeFile(file, Array(contents.utf8))
            #expect(openSSHAccepts(file) == accepted, "OpenSSH, \(name)")
            let failure = try await libSSHAccepts(file)
            #expect((failure == nil) == accepted, "libssh, \(name): \(failure?.message ?? "accepted")")
        }
    }

    @Test func theRefusalsSayWhy() async throws {
        let file = temporaryPath("known-hosts-why")
        defer { unlink(file) }
        let name = Self.name
        try writeFile(file, Array("@revoked \(name) \(Self.realKey)\n\(name) \(Self.realKey)\n".utf8))
        #expect(
            try await libSSHAccepts(file)
                == HostFailure(
                    .other, "Host key verification failed: the host key of h01 is marked @revoked in known_hosts",
                    commandMayHaveRun: false))
        try writeFile(file, Array("@cert-authority \(name) \(Self.otherKey)\n".utf8))
        #expect(
            try await libSSHAccepts(file)
                == HostFailure(
                    .other,
                    "Host key verification failed: known_hosts vouches for h01 through a @cert-authority line only, "
                        + "and the libssh transport does not check host certificates (the OpenSSH transport does)",
                    commandMayHaveRun: false))
        // OpenSSH's own words for a revoked key are not "unknown": no ssh-keyscan advice follows.
        try writeFile(file, Array("@revoked \(name) \(Self.realKey)\n\(name) \(Self.realKey)\n".utf8))
        var ssh = TransportKind.openSSH.ssh
        ssh.options = ["UserKnownHostsFile=\(file)", "GlobalKnownHostsFile=/dev/null"]
        let results = try await ParallelSSH(ssh: ssh).run(["true"], on: ["h01"])
        #expect(
            results[0].outcome
                == .failed(
                    HostFailure(
                        .other, "Host key verification failed: the host's key is marked @revoked in known_hosts",
                        commandMayHaveRun: false)))
    }

    /// Whether `ssh` logs in to the cluster's `h01` with `file` as its only known_hosts.
    func openSSHAccepts(_ file: String) -> Bool {
        shell(
            "ssh -F \(TestCluster.config) -o UserKnownHostsFile=\(file) -o GlobalKnownHostsFile=/dev/null "
                + "-o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=QUIET h01 true </dev/null"
        ).status == 0
    }

    /// `nil` when the libssh transport runs a command on `h01` with `file` as its only known_hosts;
    /// else why not.
    func libSSHAccepts(_ file: String) async throws -> HostFailure? {
        var options = TransportKind.libSSHOptions
        options.options = ["UserKnownHostsFile=\(file)", "GlobalKnownHostsFile=/dev/null"]
        let results = try await ParallelSSH(transport: try LibSSHTransport(options: options)).run(["true"], on: ["h01"])
        switch results[0].outcome {
        case .exited(0): return nil
        case .failed(let failure): return failure
        default:
            Issue.record("h01: \(results[0].outcome)")
            return HostFailure(.other, "\(results[0].outcome)")
        }
    }
}
#endif
