public import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Whether passh's default transport (auto) takes the test cluster's hosts to libssh: in a build with
/// the native transport (the default one), not in a build without it.
#if LIBSSH
public let nativeByDefault = true
#else
public let nativeByDefault = false
#endif

/// The repository's root directory.
public let repositoryRoot: String = {
    var path = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    path.removeLast(3)  // Tests/PasshTestSupport/TestCluster.swift
    return path.joined(separator: "/")
}()

/// The directory holding the built products (`passh`, the test bundle).
public let productsDirectory: String = {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    precondition(count > 0, "cannot read /proc/self/exe")
    let exe = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return String(exe[..<exe.lastIndex(of: "/")!])
}()

/// The built `passh` executable.
public var passhPath: String { productsDirectory + "/passh" }

/// The loopback sshd of `scripts/testcluster`, started on first use.
public enum TestCluster {
    /// The ssh_config with the cluster's host aliases (`h01`, `refused`, `unknown-key`…).
    public static let config: String = {
        precondition(isAvailable, "a test reached the test cluster without .needsTestCluster")
        let output = shell("\(repositoryRoot)/scripts/testcluster config")
        precondition(output.status == 0, "scripts/testcluster failed: \(output.text)")
        return output.text.split(separator: "\n").last.map(String.init) ?? ""
    }()

    /// The ssh_config with the gateway aliases `gw*` (whose account reaches the other aliases with
    /// its own key and configuration), then every other alias.
    public static var gatewayConfig: String {
        config.split(separator: "/").dropLast().map { "/" + $0 }.joined() + "/ssh_config_gateways"
    }

    /// Whether the test cluster can run here: an OpenSSH server is installed (or can be, as root).
    /// `PASSH_TESTS_WITHOUT_CLUSTER=1` says no, to see the tests run as they would without one
    /// (every test that needs it skipped, none failed).
    public static var isAvailable: Bool {
        if let value = getenv("PASSH_TESTS_WITHOUT_CLUSTER"), String(cString: value) == "1" { return false }
        return access("/usr/sbin/sshd", X_OK) == 0 || (getuid() == 0 && access("/usr/bin/apt-get", X_OK) == 0)
    }

    /// The account the commands run as on the cluster (`passhtest` when the tests run as root).
    public static var loginUser: String {
        getuid() == 0 ? "passhtest" : shell("id -un").text.split(separator: "\n").first.map(String.init) ?? ""
    }

    /// The password sudo asks the cluster's account for (`nopw*` hosts need none); `nil` when the
    /// cluster has no sudo rules (it was not started as root).
    public static var sudoPassword: String? {
        guard getuid() == 0 else { return nil }
        _ = config
        let path = config.split(separator: "/").dropLast().joined(separator: "/")
        let text = readText("/" + path + "/sudo_password")?.split(separator: "\n").first.map(String.init)
        return text.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The directory holding the cluster's keys and files (ssh_config, passwords).
    public static var directory: String { String(config[..<(config.lastIndex(of: "/") ?? config.endIndex)]) }

    /// The first sshd's port (the `h*` aliases).
    public static var port: String {
        readText(directory + "/port")?.split(separator: "\n").first.map(String.init) ?? ""
    }

    /// The second sshd's port (the `cert`, `ionly`, `env` aliases).
    public static var authPort: String {
        readText(directory + "/auth_port")?.split(separator: "\n").first.map(String.init) ?? ""
    }

    /// The port where nothing listens (the `refused` alias).
    public static var refusedPort: String {
        _ = config
        return shell("cat \"$(dirname \(config))/refused_port\"").text.split(separator: "\n").first.map(String.init)
            ?? ""
    }
}

/// Runs a shell command synchronously; returns its stdout (stderr goes to the test log) and status.
///
/// The shell starts with no signal blocked, whichever thread calls this: the threads of the tests'
/// pool block SIGCHLD and SIGINT (libdispatch's workers do), and a shell started by `popen` from one
/// inherited that mask: its `wait` for a child that had not exited yet then never returned.
@discardableResult
public func shell(_ command: String) -> (text: String, status: Int32) {
    var pipe: [Int32] = [-1, -1]
    guard Glibc.pipe(&pipe) == 0 else { return ("", -1) }
    for end in pipe { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var pid: pid_t = 0
    let arguments = ["/bin/sh", "-c", command]
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let spawned = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, environ)
    close(pipe[1])
    defer { close(pipe[0]) }
    guard spawned == 0 else { return ("", -1) }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(pipe[0], &buffer, buffer.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        output += buffer[..<n]
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (String(decoding: output, as: UTF8.self), (status >> 8) & 0xFF)
}

/// Processes (other than this one) whose command line contains `marker`, and whose name is
/// `named` when given (`ssh` finds the local ssh clients, not the remote commands of the test
/// cluster, which run on this machine too).
public func processes(matching marker: String, named: String? = nil) -> [Int32] {
    let me = getpid()
    return processIDs().filter { pid in
        guard pid != me, let bytes = readBytes("/proc/\(pid)/cmdline") else { return false }
        let cmdline = String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        guard cmdline.contains(marker) else { return false }
        return named == nil || readText("/proc/\(pid)/comm") == named! + "\n"
    }
}

/// The IDs of the processes running now.
public func processIDs() -> [Int32] {
    guard let dir = opendir("/proc") else { return [] }
    defer { closedir(dir) }
    var found: [Int32] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if let pid = Int32(name) { found.append(pid) }
    }
    return found
}

/// The contents of a (small) file, or `nil`.
public func readBytes(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes += buffer[..<n]
    }
    return bytes
}

/// The contents of a (small) text file, or `nil`.
public func readText(_ path: String) -> String? {
    readBytes(path).map { String(decoding: $0, as: UTF8.self) }
}

/// A string unique to this test process and call, to find a test's processes by their command line.
public func uniqueMarker(_ label: String = "passh-test") -> String {
    "\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
}

/// A `sleep` long enough never to end by itself in a test, with a duration unique to this call,
/// so that the sleeping processes (the shell and `sleep` itself) can be found by their command line.
public func uniqueSleep(seconds: Int = 30) -> (command: String, marker: String) {
    let marker = "\(seconds).\(UInt32.random(in: 100_000_000...999_999_999))"
    return ("sleep \(marker)", marker)
}

/// A path in /tmp unique to this test process and call.
public func temporaryPath(_ label: String) -> String {
    "/tmp/passh-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
}

/// A TCP socket listening on an unused loopback port: its descriptor, and `127.0.0.1:PORT` as a
/// passh host.
public func listenOnLoopback(backlog: Int32) -> (fd: Int32, host: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = listen(fd, backlog)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, "127.0.0.1:\(UInt16(bigEndian: address.sin_port))")
}

/// A TCP listener on loopback that accepts connections and never says a word: a host that is up
/// but does not speak SSH.
public struct SilentListener: Sendable {
    private let fd: Int32
    /// `127.0.0.1:PORT`, as a passh host.
    public let host: String

    public init() {
        (fd, host) = listenOnLoopback(backlog: 16)
    }

    public func close() { _ = Glibc.close(fd) }
}

/// Processes `pids` as a failure message shows them: each one's pid, state (R, S, Z…) and command
/// line, from `/proc` ("gone" when it ended since).
public func describeProcesses(_ pids: [Int32]) -> String {
    pids.map { pid in
        let stat = readText("/proc/\(pid)/stat") ?? ""
        let state = stat.split(separator: ")").last?.split(separator: " ").first.map(String.init) ?? "gone"
        let bytes = readBytes("/proc/\(pid)/cmdline") ?? []
        let line = String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        return "\(pid) \(state) \(line)"
    }.joined(separator: "; ")
}

/// Expects the processes matching `marker` to be gone within `within` (see
/// ``processesLeft(matching:named:within:)``); a failure names each one left (``describeProcesses(_:)``).
public func expectNothingLeft(
    matching marker: String, within: Duration, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let left = try await processesLeft(matching: marker, within: within)
    #expect(left.isEmpty, "left: \(describeProcesses(left))", sourceLocation: sourceLocation)
}

/// Kills (SIGKILL) the processes `processes(matching:named:)` finds: for a `defer` ending what a test
/// leaves on purpose (a plain ssh's remote command runs on).
public func killProcesses(matching marker: String, named: String? = nil) {
    for pid in processes(matching: marker, named: named) { kill(pid, SIGKILL) }
}

/// Waits, at most `within`, for the processes matching `marker` (see ``processes(matching:named:)``)
/// to be gone; returns those still there. A process killed a moment ago may still be running on a
/// busy machine.
public func processesLeft(
    matching marker: String, named: String? = nil, within: Duration = .seconds(5)
) async throws -> [Int32] {
    _ = try await waitUntil(within: within) { processes(matching: marker, named: named).isEmpty }
    return processes(matching: marker, named: named)
}
