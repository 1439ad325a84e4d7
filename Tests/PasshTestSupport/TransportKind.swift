public import Passh
public import SystemPackage
public import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The ways the tests reach hosts — every transport, and each mode of the OpenSSH transport —
/// for the library (``passh(_:)``) and for the CLI (``flags``). The one list: a test over "every
/// transport" takes `TransportKind.allCases`, or a filter of it.
public enum TransportKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    /// `LocalTransport` (`--local`): a local shell per host.
    case local
    /// `OpenSSHTransport`: an `ssh` process per host, which cannot stop the remote command.
    case openSSH
    /// `OpenSSHTransport` with ``OpenSSHOptions/multiplexing`` (`--persist`): sessions in proxy mode
    /// through lasting master connections, made beforehand by ``prepare(_:)``.
    case openSSHMultiplexed
    /// `OpenSSHTransport` with ``OpenSSHOptions/stopRemoteCommands`` (`--stop-remote`): a master per host
    /// session, spoken to in proxy mode and closed after it.
    case openSSHPrivateMasters
    #if LIBSSH
    /// `LibSSHTransport` (`--transport libssh`): libssh sessions inside the process.
    case libSSH
    /// `AutoTransport` (`--transport auto`, the default): libssh for the cluster's hosts (their
    /// configuration asks nothing libssh does otherwise), OpenSSH for the others.
    case auto
    #endif

    public var testDescription: String { rawValue }

    /// The kinds that stop a stopped host's remote command (a signal through the session).
    public static var stoppingRemoteCommands: [TransportKind] {
        allCases.filter { $0 != .local && $0 != .openSSH }
    }

    /// The kinds that reach hosts over SSH.
    public static var overSSH: [TransportKind] { allCases.filter { $0 != .local } }

    /// The transports proper (`--transport` values), one kind each (`auto` is a choice among them).
    public static var transports: [TransportKind] {
        allCases.filter {
            $0 != .local && $0 != .openSSHMultiplexed && $0 != .openSSHPrivateMasters && $0.rawValue != "auto"
        }
    }

    /// The CLI flags that choose this kind.
    public var flags: [String] {
        switch self {
        case .local: ["--local"]
        case .openSSH: ["--transport", "openssh"]
        case .openSSHMultiplexed: ["--persist", "--persist-seconds", "5"]
        case .openSSHPrivateMasters: ["--stop-remote"]
        #if LIBSSH
        case .libSSH: ["--transport", "libssh"]
        case .auto: ["--transport", "auto"]
        #endif
        }
    }

    /// Whether the local process that stands for a host carries the command in its arguments
    /// (a plain `ssh`): else the processes found by a marker are the commands themselves (locally,
    /// or on the test sshd, which runs here too).
    public var runsCommandInLocalProcess: Bool { self == .openSSH }

    /// The name of the local process that carries a host's command (`ssh`), or `nil`: look for the
    /// commands themselves (the remote ones: stopping the session must end them).
    public var processName: String? { runsCommandInLocalProcess ? "ssh" : nil }

    /// The master connections of ``openSSHMultiplexed`` live here, idle for 20 s at most: the
    /// test's own directory under ``Trait/ownMasterConnections`` (which the suites that use this
    /// kind carry), else one directory per test process.
    public static var controlDirectory: FilePath {
        FilePath(MasterConnectionsTrait.directory ?? processControlDirectory)
    }

    private static let processControlDirectory: String = {
        let path = "/tmp/passh-test-mux-\(getpid())"
        mkdir(path, 0o700)
        return path
    }()

    /// The OpenSSH options of this kind, on the test cluster.
    public var ssh: OpenSSHOptions {
        var ssh = OpenSSHOptions()
        ssh.configFile = FilePath(TestCluster.config)
        if self == .openSSHMultiplexed {
            ssh.multiplexing = Multiplexing(directory: Self.controlDirectory, seconds: 20)
        }
        ssh.stopRemoteCommands = self == .openSSHPrivateMasters
        return ssh
    }

    /// A `ParallelSSH` of this kind that collects output, with `configure`'s options.
    public func passh(_ configure: (inout RunOptions) -> Void = { _ in }) -> ParallelSSH {
        var options = RunOptions()
        options.collectOutput = true
        configure(&options)
        switch self {
        case .local:
            return ParallelSSH(options: options, transport: LocalTransport())
        case .openSSH, .openSSHMultiplexed, .openSSHPrivateMasters:
            return ParallelSSH(options: options, ssh: ssh)
        #if LIBSSH
        case .libSSH:
            return ParallelSSH(options: options, transport: try! LibSSHTransport(options: Self.libSSHOptions))
        case .auto:
            return ParallelSSH(options: options, transport: try! AutoTransport(ssh: ssh))
        #endif
        }
    }

    #if LIBSSH
    /// The libssh transport's options for the test cluster.
    public static var libSSHOptions: LibSSHOptions {
        var options = LibSSHOptions()
        options.configFile = FilePath(TestCluster.config)
        return options
    }
    #endif

    /// Makes sure `hosts` are reached the way this kind says: for ``openSSHMultiplexed``, starts
    /// their master connections.
    public func prepare(_ hosts: [String]) async throws {
        guard self == .openSSHMultiplexed else { return }
        let results = try await passh().run(["true"], on: hosts)
        let allUp = results.allSatisfy { $0.isSuccess }
        #expect(allUp)
        for host in try ParallelSSH.hosts(hosts) {
            #expect(ssh.controlPath(for: host).map { access($0, F_OK) == 0 } == true, "a master for \(host)")
        }
    }
}
