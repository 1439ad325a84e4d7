#if canImport(Glibc)
import Glibc
#endif

/// A file a command waits for, and what must appear on the terminal before the test creates it:
/// a command in a test that must run until something is shown (a progress line) waits for the
/// file instead of sleeping.
public struct Release: Sendable {
    /// The file: `waitCommand` waits for it.
    public let path: String
    /// What the terminal shows first.
    public let shown: String

    public init(when shown: String) {
        self.path = temporaryPath("release")
        self.shown = shown
    }

    /// A shell command that waits (at most 20 s) for the file.
    public var waitCommand: String {
        "i=0; while [ ! -e \(path) ] && [ $i -lt 800 ]; do sleep 0.025; i=$((i+1)); done"
    }
}

/// Runs the bash command line `command` on a pseudo-terminal (under `script`), and returns
/// everything written to the terminal. With `release`, creates its file once the terminal shows
/// its text.
public func onTerminal(_ command: String, release: Release? = nil) async throws -> String {
    let script = temporaryPath("terminal") + ".sh"
    let transcript = script + ".typescript"
    try writeFile(script, Array((command + "\n").utf8))
    defer { shell("rm -f \(script) \(transcript) \(release?.path ?? "")") }
    let run = Task { try await bashScript("script -qefc 'bash \(script)' \(transcript) </dev/null").text }
    if let release {
        let shown = try await waitUntil(within: .seconds(20)) {
            readText(transcript)?.contains(release.shown) == true
        }
        if !shown { run.cancel() }
        shell("touch \(release.path)")
    }
    return try await run.value
}
