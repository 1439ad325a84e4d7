// The DocC articles' snippets, each verbatim (indented once) in a function of its own, compiled with
// `import Passh` alone under MemberImportVisibility. `ArticleSnippetTests` checks that every
// ```swift block of the articles is here. They are compiled, not run: they name hosts that do not
// exist.
import Passh

// Passh.md
func overviewSnippet() async throws {
    let passh = ParallelSSH()
    let results = try await passh.run(["uptime"], on: ["web1", "web2"], sink: PrefixedSink())
    let failed = results.filter { !$0.isSuccess }.map(\.host.name)
    _ = failed
}

// RunningCommands.md
func runSnippet() async throws {
    var options = RunOptions()
    options.fanout = 20
    options.collectOutput = true
    let passh = ParallelSSH(options: options)
    let results = try await passh.run(["cat", "/etc/hostname"], on: ["web1", "web2"])
    for result in results where result.isSuccess {
        print(result.host, String(decoding: result.stdout ?? [], as: UTF8.self))
    }
}

func withEventsSnippet() async throws {
    let passh = ParallelSSH()
    let firstError = try await passh.withEvents(["journalctl", "-f"], on: ["web1", "web2"]) { events -> String? in
        for try await event in events {
            if case .line(let line) = event, line.text.contains("error") { return line.text }
        }
        return nil
    }
    _ = firstError
}

func blockingSnippet() throws {
    // main.swift of a plain command-line program
    let results = try ParallelSSH().runBlocking(["uptime"], on: ["web1"])
    print(results[0].outcome)
}

// Rollouts.md
func rolloutSnippet() async throws {
    var options = RunOptions()
    options.rollout = Rollout(canaries: 1, batch: .percent(25), maxFailures: .hosts(2), retries: 2)
    let passh = ParallelSSH(options: options)
    let results = try await passh.run(["systemctl", "restart", "app"], on: ["web1", "web2", "web3"])
    let skipped = results.filter { $0.outcome == .notStarted }.map(\.host.name)
    _ = skipped
}

// JSONLines.md
func jsonLinesSnippet() async throws {
    let buffer = OutputBuffer()
    let passh = ParallelSSH()
    _ = try await passh.run(["uptime"], on: ["web1", "web2"], sink: JSONLinesSink(writer: buffer.writer))
    let decoded = try JSONLinesDecoder.decode(buffer.bytes(of: .stdout))
    for result in decoded.results { print(result.host, result.outcome) }
}

// CustomTransportsAndSinks.md
actor CountingSink: OutputSink {
    var lines = 0
    func output(_ chunk: OutputChunk) async {
        lines += chunk.lineCount
    }
}

func consumerSnippet() -> PrefixedSink {
    let writer = OutputWriter { bytes, stream in
        // Send `bytes` on; a thrown error stops `stream`, as a failed write does.
        _ = (bytes, stream)
    }
    let sink = PrefixedSink(writer: writer)
    return sink
}

struct EchoStdin: Transport {
    func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        var stdin: SessionStdin
        do {
            stdin = try SessionStdin(options)
        } catch {
            return .failed(error)
        }
        var bytes: [UInt8] = []
        while let piece = stdin.next(atMost: 1 << 16) { bytes += piece }
        await output(OutputChunk(host: host, stream: .stdout, bytes: bytes[...], endsWithNewline: bytes.last == 0x0A))
        return .exited(0)
    }

    func descriptorsPerHost(sendingStdin: Bool) -> Int { sendingStdin ? 1 : 0 }
}

// StoppingRemoteCommands.md
func stopRemoteSnippet() async throws {
    var ssh = OpenSSHOptions()
    ssh.stopRemoteCommands = true
    var options = RunOptions()
    options.commandTimeout = .seconds(30)
    let passh = ParallelSSH(options: options, ssh: ssh)
    let results = try await passh.run(["./long-job"], on: ["web1", "web2"])
    _ = results
}

// CopyingFiles.md
func copySnippet(hosts: [Host]) async throws {
    let copy = try await CopyOperation(paths: ["build/app", "conf/app.toml"], destination: "/opt/app")
    let results = try await ParallelSSH().copy(copy, to: hosts, sink: PrefixedSink())
    for result in results where result.isSuccess {
        print(result.host, result.transfer!.files, result.transfer!.bytes)  // what each host received
    }
}

func gatherSnippet(hosts: [Host]) async throws {
    let gather = try GatherOperation(paths: ["/var/log/app"], destination: "logs")
    let results = try await ParallelSSH().gather(gather, from: hosts)  // logs/web1/app/…, logs/web2/app/…
    _ = results
}
