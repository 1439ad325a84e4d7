import Passh
import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Topology files on the test cluster: `--topology FILE`, the default file, `--direct`, and what
/// `--list-hosts -v` says of each host's route.
@Suite("passh topology files", .needsTestCluster)
struct TopologyCLITests {
    /// A configuration directory holding `passh/topology` (and `passh/groups`), mode 0600.
    struct Config {
        let home = temporaryPath("topology-config")
        var environment: [String: String] { ["XDG_CONFIG_HOME": home] }
        var topology: String { home + "/passh/topology" }

        init(topology: String, groups: String? = nil) throws {
            #expect(mkdir(home, 0o700) == 0 && mkdir(home + "/passh", 0o700) == 0)
            try writeFile(home + "/passh/topology", Array(topology.utf8))
            if let groups { try writeFile(home + "/passh/groups", Array(groups.utf8)) }
        }

        func remove() { shell("rm -rf '\(home)'") }
    }

    /// A gateway passh that copies the requests it reads to `log`, then is the built passh (the
    /// gateways' account may be another: both are open to it).
    static func loggingPassh(_ log: String) throws -> String {
        let path = temporaryPath("gw-passh")
        try writeFile(path, Array("#!/bin/sh\ntee -a \(log) | \(passhPath) \"$@\"\n".utf8))
        chmod(path, 0o755)
        try writeFile(log, [])
        chmod(log, 0o666)
        return path
    }

    /// The hosts the gateways were asked to run, in `log`, sorted.
    static func hostsRun(_ log: String) -> [String] {
        (readText(log) ?? "").split(separator: "\n").compactMap { line -> String? in
            guard line.contains(#""op":"run""#), let range = line.firstRange(of: #""host":""#) else { return nil }
            return String(line[range.upperBound...].prefix { $0 != "\"" })
        }.sorted()
    }

    @Test func listHostsShowsTheRouteOfEachHost() async throws {
        let config = try Config(
            topology: "[routes]\n# the head nodes\ngw[1-2]: h[1-4]\ngw3: h[3-6],@extra\n", groups: "extra: web1\n")
        defer { config.remove() }
        let hosts = "h[1-6],web1,h9,gw1"
        let run = try await passh(
            ["--transport", "openssh", "--list-hosts", "-v", hosts], environment: config.environment)
        #expect(run.status == 0)
        #expect(
            run.stdoutText == """
                h1    via gw1
                h2    via gw1
                h3    via gw2
                h4    via gw2
                h5    via gw3
                h6    via gw3
                web1  via gw3
                h9    direct  openssh
                gw1   direct  openssh

                """)
        // --direct ignores the file; --gateway replaces it.
        let direct = try await passh(
            ["--direct", "--transport", "openssh", "--list-hosts", "-v", "h1,h9"], environment: config.environment)
        #expect(direct.stdoutText == "h1  openssh\nh9  openssh\n")
        let gateway = try await passh(
            ["--gateway", "gw9", "--list-hosts", "-v", "h1,h9"], environment: config.environment)
        #expect(gateway.stdoutText == "h1  via gw9\nh9  via gw9\n")
    }

    @Test func hostsRunThroughTheGatewaysOfTheTopology() async throws {
        let file = temporaryPath("topology")
        try writeFile(file, Array("gw1: h1,h2\n".utf8))
        let log = temporaryPath("gw-log")
        let wrapper = try Self.loggingPassh(log)
        defer { shell("rm -f \(file) \(log) \(wrapper)") }
        let run = try await passh([
            "-F", TestCluster.gatewayConfig, "--topology", file, "--gateway-passh", wrapper, "h1,h2,h3", "echo hi",
        ])
        #expect(run.status == 0)
        #expect(run.sortedStdoutLines == ["[h1] hi", "[h2] hi", "[h3] hi"])
        #expect(run.stderrText == "")
        #expect(Self.hostsRun(log) == ["h1", "h2"])
    }

    @Test func aBadFileIsOneLineNamingItAndNothingRuns() async throws {
        let marker = temporaryPath("topology-ran")
        for (text, mode, message, status) in [
            ("gw1: h1\ngw2 h2\n", 0o600, ":2: expected \"GATEWAYS: TARGETS\"", 64),
            ("gw1: h[1-\n", 0o600, ":1: invalid host pattern", 64),
            ("gw1: h1\n", 0o660, " must be owned by you and writable by no one else", 1),
        ] as [(String, mode_t, String, Int32)] {
            let config = try Config(topology: text)
            defer { config.remove() }
            chmod(config.topology, mode)
            let run = try await passh(["--local", "h1", "touch \(marker)"], environment: config.environment)
            #expect(run.status == 0)  // --local reaches no host from here: the file is not read
            unlink(marker)
            let routed = try await passh(["h1", "touch \(marker)"], environment: config.environment)
            #expect(routed.status == status)
            #expect(routed.stderrText.contains(config.topology + message))
            #expect(routed.stderrText.split(separator: "\n").count == 1)
            #expect(access(marker, F_OK) != 0)
            let explicit = try await passh(
                ["--direct", "--topology", config.topology, "h1", "true"], environment: config.environment)
            #expect(explicit.status == 64)
        }
        let missing = try await passh(["--topology", "/nonexistent/topology", "h1", "true"])
        #expect(missing.status == 1)
        #expect(missing.stderrText == "No such file: /nonexistent/topology\n")
    }

    /// The default file routes a copy as it routes a command (it was refused before copies went
    /// through gateways); `--direct` still reaches every host directly.
    @Test func theDefaultFileRoutesACopyUnlessDirect() async throws {
        let config = try Config(topology: "gw1: h1\n")
        let log = temporaryPath("gw-log")
        let wrapper = try Self.loggingPassh(log)
        let dir = temporaryPath("topology-copy")
        defer {
            config.remove()
            shell("rm -rf \(dir) \(log) \(wrapper)")
        }
        let copy = ["h1,h2", "--copy", "/etc/hostname", "--dest", dir]
        let run = try await passh(
            ["-F", TestCluster.gatewayConfig, "--gateway-passh", wrapper] + copy, environment: config.environment)
        #expect(run.status == 0)
        #expect(run.stderrText == "")
        #expect(Self.hostsRun(log) == ["h1"])
        #expect(readText(dir + "/hostname") == readText("/etc/hostname"))
        try writeFile(log, [])
        let direct = try await passh(
            ["-F", TestCluster.gatewayConfig, "--direct"] + copy, environment: config.environment)
        #expect(direct.status == 0)
        #expect(Self.hostsRun(log) == [])
    }

    @Test(arguments: [
        (
            ["--gateway", "gw1", "--topology", "/tmp/t", "h1", "true"],
            "--gateway and --topology cannot be used together"
        ),
        (["--direct", "--gateway", "gw1", "h1", "true"], "--direct cannot be used with --gateway"),
        (["--topology", "/tmp/t", "--local", "h1", "true"], "--topology cannot be used with --local"),
        (["--topology", "", "h1", "true"], "--topology needs a file."),
        (["--direct", "--gateway-passh", "/bin/passh", "h1", "true"], "--gateway-passh goes with --gateway"),
    ])
    func badTopologyFlagsAreRefusedFirst(arguments: [String], message: String) async throws {
        let run = try await passh(arguments)
        #expect(run.status == 64)
        #expect(run.stderrText.hasPrefix("passh: " + message))
    }
}
