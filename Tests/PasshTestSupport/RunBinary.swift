import Subprocess
import SystemPackage

/// What a run of a binary produced.
public struct BinaryOutput: Sendable {
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// The exit status, or 128 + the signal that killed it.
    public var status: Int32

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    /// stdout's lines (split at each newline byte: a "\r\n" leaves the "\r"), sorted: for output
    /// whose interleaving between hosts is not defined.
    public var sortedStdoutLines: [String] { lines(stdout).sorted() }
    public var sortedStderrLines: [String] { lines(stderr).sorted() }
}

/// The lines of `bytes`, each without its newline byte (a last line without one is kept).
public func lines(_ bytes: [UInt8]) -> [String] {
    var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    if bytes.last == 0x0A { lines.removeLast() }
    return lines
}

/// Runs `executable` with `arguments`, stdin from `stdinPath` (or /dev/null), and collects its output.
public func runBinary(
    _ executable: String, _ arguments: [String], stdinPath: String = "/dev/null",
    environment: [String: String] = [:]
) async throws -> BinaryOutput {
    let stdin = try FileDescriptor.open(FilePath(stdinPath), .readOnly)
    var env = Environment.inherit
    if !environment.isEmpty {
        env = env.updating(
            Dictionary(
                uniqueKeysWithValues: environment.map { (Environment.Key(rawValue: $0.key)!, Optional($0.value)) }))
    }
    let result = try await Subprocess.run(
        .path(FilePath(executable)), arguments: Arguments(arguments), environment: env,
        input: .fileDescriptor(stdin, closeAfterSpawningProcess: true),
        output: .bytes(limit: 256 << 20), error: .bytes(limit: 64 << 20))
    let status: Int32
    switch result.terminationStatus {
    case .exited(let code): status = code
    case .signaled(let signal): status = 128 + signal
    }
    return BinaryOutput(stdout: result.standardOutput, stderr: result.standardError, status: status)
}

/// Runs the built `passh` with `arguments`. Under ``Trait/ownMasterConnections``, `--persist`
/// keeps its masters in the test's own directory (`XDG_RUNTIME_DIR`, unless `environment` sets it).
public func passh(_ arguments: [String], stdinPath: String = "/dev/null", environment: [String: String] = [:])
    async throws -> BinaryOutput
{
    var environment = environment
    if let directory = MasterConnectionsTrait.directory, environment["XDG_RUNTIME_DIR"] == nil {
        environment["XDG_RUNTIME_DIR"] = directory
    }
    return try await runBinary(passhPath, arguments, stdinPath: stdinPath, environment: environment)
}

/// Runs the built `passh` against the test cluster: `-F CONFIG` comes first.
public func passhOnCluster(_ arguments: [String], stdinPath: String = "/dev/null", environment: [String: String] = [:])
    async throws -> BinaryOutput
{
    try await passh(["-F", TestCluster.config] + arguments, stdinPath: stdinPath, environment: environment)
}

/// Writes `bytes` to a new file at `path` (mode 0600).
public func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = try FileDescriptor.open(
        FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
    defer { try? fd.close() }
    _ = try fd.writeAll(bytes)
}
