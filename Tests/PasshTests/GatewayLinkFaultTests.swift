import PasshTestSupport
import SystemPackage
import Testing

@testable import Passh

/// A root's link to a gateway that misbehaves: a fake gateway (a shell script on
/// ``LocalTransport``) answers the hello, then sends garbage, stops mid-line, or floods. Its host
/// fails with a message naming the gateway, and what the link holds stays bounded.
@Suite("Gateway link faults")
struct GatewayLinkFaultTests {
    /// The gateway's hello, as a shell word.
    static let hello =
        "printf '%s\\n' '" + String(decoding: GatewayHello.current.eventLine().dropLast(), as: UTF8.self)
        + "'"

    /// Runs `h1` through a gateway running `script` (it reads the hello, the setup and the run
    /// request first when it says `head -n 3`); the host's termination and the link.
    func run(
        _ script: String, maximumLineLength: Int = 1024,
        helloTimeout: Duration = GatewayLink.helloTimeout(connectTimeout: OpenSSHOptions().connectTimeout)
    ) async throws -> (Termination, GatewayLink) {
        let link = GatewayLink(
            gateway: try Host("gw1"), transport: LocalTransport(), command: [script], setup: GatewaySetup(),
            grace: .seconds(1), maximumLineLength: maximumLineLength, emergencyStop: nil, helloTimeout: helloTimeout)
        return (try await run(through: link), link)
    }

    /// Runs `h1` through `link` while it serves, then finishes the link; `stop`, when given, stops
    /// the host once it returns. The host's termination.
    func run(
        through link: GatewayLink, stoppingTheHostAfter stop: (@Sendable () async -> Void)? = nil
    ) async throws -> Termination {
        let host = try Host("h1")
        let termination = await withTaskGroup(of: Termination?.self) { group in
            group.addTask {
                await link.serve()
                return nil
            }
            group.addTask {
                let termination = await withTaskGroup(of: Termination?.self) { hostRun in
                    hostRun.addTask { await link.run(["true"], on: host, options: SessionOptions()) { _ in } }
                    if let stop {
                        hostRun.addTask {
                            await stop()
                            return nil
                        }
                    }
                    var result: Termination?
                    while let next = await hostRun.next() {
                        hostRun.cancelAll()
                        if let next { result = next }
                    }
                    return result
                }
                link.finish()
                return termination
            }
            var result: Termination?
            for await next in group { if let next { result = next } }
            return result
        }
        return try #require(termination)
    }

    func message(_ termination: Termination) -> String? {
        guard case .failed(let failure) = termination, failure.kind == .gatewayLost else { return nil }
        return failure.message
    }

    /// A gateway that holds the connection open and never answers (a wrapper whose passh did not
    /// start) is lost at the hello's deadline; before, its hosts waited for ever (the time limit).
    @Test(.timeLimit(.minutes(1))) func aGatewayThatNeverSaysHelloIsLostAtTheDeadline() async throws {
        let (termination, _) = try await run("cat >/dev/null", helloTimeout: .seconds(1))
        #expect(message(termination) == "gateway gw1 lost: its passh did not answer within 1 s")
    }

    /// A `--push-passh` copy that never ends (a wedged gateway) is stopped once the run is done with
    /// the gateway, its host stopped (`--timeout`, fail-fast); before, the run waited for the copy.
    @Test(.timeLimit(.minutes(1))) func aCopyThatHangsIsStoppedWhenTheRunIsDoneWithTheGateway() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 300)
        let binary = temporaryPath("push-binary")
        defer { shell("rm -f \(binary)") }
        try writeFile(binary, Array("not passh".utf8))
        let push = GatewayPush(binary: FilePath(binary), sha256: String(repeating: "0", count: 64))
        // No passh there, none cached: the copy is next, and it hangs.
        let transport = ScriptedTransport { $0 == push.installCommand ? sleep : "exit 127" }
        let link = GatewayLink(
            gateway: try Host("gw1"), transport: transport, command: ["passh", "--gateway-serve"],
            setup: GatewaySetup(), grace: .seconds(1), maximumLineLength: 1024, emergencyStop: nil, push: push)
        // The host is stopped once the copy runs.
        let termination = try await run(through: link) {
            _ = try? await waitUntil(within: .seconds(30)) { !processes(matching: marker).isEmpty }
        }
        #expect(termination == .cancelled)
        #expect(try await processesLeft(matching: marker).isEmpty)
    }

    @Test func garbageFailsItsHosts() async throws {
        let (termination, _) = try await run("\(Self.hello); head -n 3 >/dev/null; echo 'not json'; cat >/dev/null")
        #expect(message(termination)?.hasPrefix("gateway gw1 lost: it sent what cannot be read: ") == true)
    }

    @Test func aLineCutShortFailsItsHosts() async throws {
        let (termination, _) = try await run(
            "\(Self.hello); head -n 3 >/dev/null; printf '{\"event\":\"line\",\"host\":\"h1\"'")
        #expect(message(termination) == "gateway gw1 lost: it stopped in the middle of a line")
    }

    /// 20 MB without a newline: cut at the longest event line (6 × 1 KiB + 64 KiB), never held whole.
    @Test func anEndlessLineFailsItsHostsAtTheBound() async throws {
        let (termination, _) = try await run(
            "\(Self.hello); head -n 3 >/dev/null; head -c 20000000 /dev/zero | tr '\\0' a; cat >/dev/null")
        #expect(message(termination) == "gateway gw1 lost: it sent a line longer than 71680 bytes")
    }

    /// 100,000 lines on stderr and 100,000 hosts named: the link keeps the last 4 lines, 500 bytes
    /// each at most, and no host name.
    @Test func floodsHoldBoundedMemory() async throws {
        let started = #"{"event":"started","host":"x&","transport":"libssh"}"#
        let (termination, link) = try await run(
            """
            \(Self.hello); head -n 3 >/dev/null
            echo '{"event":"start","version":2,"tool":"passh"}'
            seq 1 100000 | sed 's/.*/\(started)/'
            seq 1 100000 | sed 's/^/said /' >&2
            exit 3
            """)
        #expect(message(termination) == "gateway gw1 lost: the gateway's passh exited with status 3: said 100000")
        #expect(link.heldErrorBytes <= 4 * 500)
        #expect(link.heldHostNames == 0)
    }
}

/// Runs a gateway's commands on this machine, each replaced by the script `script` gives for it.
struct ScriptedTransport: Transport {
    let script: @Sendable ([String]) -> String
    private let local = LocalTransport()

    init(_ script: @escaping @Sendable ([String]) -> String) {
        self.script = script
    }

    func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        await local.run([script(command)], on: host, options: options, output: output)
    }

    func descriptorsPerHost(sendingStdin: Bool) -> Int { local.descriptorsPerHost(sendingStdin: sendingStdin) }
}
