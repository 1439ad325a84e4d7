import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Waits for an event: until `condition` holds, checking it every 25 ms, for at most `within`.
/// Returns whether it held. Tests wait for what a fixed sleep would stand for (a process started,
/// a line printed, a file written), never for a time. (Not finer: a condition that scans /proc
/// costs milliseconds, and the waiting tests share the pool's two threads with the library's runs.)
@discardableResult
public func waitUntil(
    within: Duration = .seconds(10), _ condition: () throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + within
    while try !condition() {
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: .milliseconds(25))
    }
    return true
}

/// Waits (at most `within`) until at least `count` processes match `marker` (see
/// ``processes(matching:named:)``); returns how many do.
@discardableResult
public func waitForProcesses(
    matching marker: String, named: String? = nil, count: Int = 1, within: Duration = .seconds(10)
) async throws -> Int {
    try await waitUntil(within: within) { processes(matching: marker, named: named).count >= count }
    return processes(matching: marker, named: named).count
}

/// Runs `script` with bash, without blocking a thread of the tests' pool (a test that waits for a
/// script must leave the pool to the others running beside it). Returns its stdout and exit
/// status; its stderr goes to the test log.
@discardableResult
public func bashScript(_ script: String) async throws -> (text: String, status: Int32) {
    let result = try await Subprocess.run(
        .path(FilePath("/bin/bash")), arguments: ["-c", script], input: .none,
        output: .bytes(limit: 256 << 20), error: .fileDescriptor(.standardError, closeAfterSpawningProcess: false))
    let status: Int32
    switch result.terminationStatus {
    case .exited(let code): status = code
    case .signaled(let signal): status = 128 + signal
    }
    return (String(decoding: result.standardOutput, as: UTF8.self), status)
}
