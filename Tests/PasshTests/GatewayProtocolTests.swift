import PasshTestSupport
import Synchronization
import SystemPackage
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// The gateway protocol in memory: requests round trip, routes split, and a gateway server over
/// pipes running hosts on ``LocalTransport``.
@Suite("Gateway protocol")
struct GatewayProtocolTests {
    @Test func requestsRoundTrip() throws {
        var setup = GatewaySetup()
        setup.transport = "openssh"
        setup.sshOptions = ["BatchMode=yes"]
        setup.user = "ops"
        setup.connectTimeout = 4
        setup.maximumHandshakes = 32
        var job = GatewayJob(host: "admin@web1:2222", command: ["echo", "a \"b\"\n"])
        job.stdinFile = 3
        for request: GatewayRequest in [
            .hello(.current), .setup(setup), .file(id: 3, size: 1 << 40), .run(job), .stop(host: "web1"),
        ] {
            let line = request.line()
            #expect(line.last == 0x0A)
            #expect(try GatewayRequest.parse(line.dropLast()) == request)
        }
    }

    /// Four gateways on one server put no more handshakes in flight than one passh (case 13 of
    /// bench/run: 4 × 128 at once overflowed the one sshd's listen queue, and hosts failed).
    @Test func gatewaysShareTheHandshakes() {
        #expect(GatewaySetup().share(among: 4).maximumHandshakes == 32)
        #expect(GatewaySetup().share(among: 1).maximumHandshakes == 128)
        #expect(GatewaySetup().share(among: 100).maximumHandshakes == 8)
        var setup = GatewaySetup()
        setup.maximumHandshakes = 40
        #expect(setup.share(among: 2).maximumHandshakes == 20)
    }

    @Test func badRequestsAreNamed() {
        #expect(throws: JSONProblem.self) { try GatewayRequest.parse(Array(#"{"op":"run","host":"h1"}"#.utf8)) }
        #expect(throws: JSONProblem.self) { try GatewayRequest.parse(Array(#"{"op":"launch"}"#.utf8)) }
        #expect(throws: JSONProblem.self) { try GatewayRequest.parse(Array("not json".utf8)) }
    }

    @Test func hostsAreSplitInContiguousBlocks() throws {
        let hosts = try ParallelSSH.hosts((1...7).map { "h\($0)" })
        let gateways = try ParallelSSH.hosts(["gw1", "gw2", "gw3"])
        let routes = GatewayRoutes.blocks(of: hosts, through: gateways)
        #expect(hosts.map { routes[$0]!.name } == ["gw1", "gw1", "gw1", "gw2", "gw2", "gw3", "gw3"])
        // A gateway in the host list is reached directly.
        let withGateway = GatewayRoutes.blocks(of: hosts + [gateways[0]], through: gateways)
        #expect(withGateway[gateways[0]] == nil)
    }

    /// Runs a server on pipes: `body` writes its requests and may read its events (returning
    /// what it read); then the requests end, and the rest of the events is read.
    func serve(_ body: (_ requests: FileDescriptor, _ events: FileDescriptor) async throws -> [UInt8]) async throws
        -> (status: Int32, events: String, errors: String)
    {
        let requests = try FileDescriptor.pipe()
        let events = try FileDescriptor.pipe()
        let errors = try FileDescriptor.pipe()
        let server = GatewayServer { _ throws(PasshError) in LocalTransport() }
        let writer = OutputWriter(stdout: events.writeEnd, stderr: errors.writeEnd)
        let input = requests.readEnd
        var read: [UInt8] = []
        let status = try await withThrowingTaskGroup(of: Int32.self) { group in
            group.addTask {
                let code = await server.serve(input: input, writer: writer)
                await writer.flush()
                return code
            }
            read = try await body(requests.writeEnd, events.readEnd)
            try requests.writeEnd.close()
            return try await group.next() ?? -1
        }
        try events.writeEnd.close()
        try errors.writeEnd.close()
        let rest = try Self.readAll(events.readEnd)
        let said = try Self.readAll(errors.readEnd)
        try requests.readEnd.close()
        return (status, String(decoding: read + rest, as: UTF8.self), String(decoding: said, as: UTF8.self))
    }

    static func readAll(_ fd: FileDescriptor) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
            if count == 0 { break }
            out += buffer[..<count]
        }
        try fd.close()
        return out
    }

    /// Reads `fd` until what was read holds `text` (at most 10 s), without blocking a thread of
    /// the pool: the server runs on it too.
    static func read(_ fd: FileDescriptor, until text: String) async throws -> [UInt8] {
        _ = fcntl(fd.rawValue, F_SETFL, fcntl(fd.rawValue, F_GETFL) | O_NONBLOCK)
        defer { _ = fcntl(fd.rawValue, F_SETFL, fcntl(fd.rawValue, F_GETFL) & ~O_NONBLOCK) }
        var seen: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        _ = try await waitUntil(within: .seconds(10)) {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) }
            if count > 0 { seen += buffer[..<count] }
            return count == 0 || String(decoding: seen, as: UTF8.self).contains(text)
        }
        return seen
    }

    static func requests(_ list: [GatewayRequest], then bytes: [UInt8] = []) -> [UInt8] {
        list.flatMap { $0.line() } + bytes
    }

    @Test func serverRunsHostsWithTheirFileAndStreamsTheirEvents() async throws {
        let run = try await serve { requests, events in
            var job = GatewayJob(host: "h1", command: ["cat; printf 'tail'; exit 4"])
            job.stdinFile = 1
            _ = try requests.writeAll(
                Self.requests(
                    [.hello(.current), .setup(GatewaySetup()), .file(id: 1, size: 4)], then: Array("abc\n".utf8))
                    + Self.requests([.run(job)]))
            return try await Self.read(events, until: "\"finished\"")
        }
        #expect(run.status == 0)
        let decoded = try JSONLinesDecoder.decode(
            Array(run.events.utf8.drop { $0 != 0x0A }.dropFirst()), collectOutput: true)
        #expect(run.events.hasPrefix(#"{"event":"gateway","protocol":2,"passh":"\#(GatewayProtocol.passhVersion)"}"#))
        #expect(decoded.results.count == 1)
        #expect(decoded.results.first?.outcome == .exited(4))
        #expect(decoded.results.first?.stdout == Array("abc\ntail".utf8))
    }

    /// A gather's stdout goes back in pieces as read, each one line object in Base64, newlines and
    /// NUL bytes inside: not one object per line of the archive.
    @Test func binaryStdoutGoesBackInPieces() async throws {
        let run = try await serve { requests, events in
            var job = GatewayJob(host: "h1", command: [#"printf 'a\nb\000c\n\n'"#])
            job.binaryStdout = true
            _ = try requests.writeAll(Self.requests([.hello(.current), .setup(GatewaySetup()), .run(job)]))
            return try await Self.read(events, until: "\"finished\"")
        }
        #expect(run.status == 0)
        let lines = run.events.split(separator: "\n").filter { $0.contains(#""event":"line""#) }
        #expect(
            lines == [#"{"event":"line","host":"h1","stream":"stdout","line_base64":"YQpiAGMKCg==","newline":false}"#])
        let decoded = try JSONLinesDecoder.decode(
            Array(run.events.utf8.drop { $0 != 0x0A }.dropFirst()), collectOutput: true)
        #expect(decoded.results.first?.stdout == Array("a\nb\u{0}c\n\n".utf8))
    }

    @Test func endOfInputStopsEveryHost() async throws {
        let marker = "\(UInt32.random(in: 100_000_000...999_999_999))"
        let run = try await serve { requests, events in
            let job = GatewayJob(host: "h1", command: ["echo started; exec sleep 30.\(marker)"])
            _ = try requests.writeAll(Self.requests([.hello(.current), .setup(GatewaySetup()), .run(job)]))
            return try await Self.read(events, until: "started")
        }
        #expect(run.status == 0)
        #expect(run.events.contains(#"{"event":"finished","host":"h1","status":"cancelled""#))
        #expect(try await processesLeft(matching: "30.\(marker)", named: "sleep").isEmpty)
    }

    @Test func stopEndsOneHost() async throws {
        let run = try await serve { requests, events in
            let long = GatewayJob(host: "h1", command: ["echo started; exec sleep 30"])
            _ = try requests.writeAll(Self.requests([.hello(.current), .setup(GatewaySetup()), .run(long)]))
            var seen = try await Self.read(events, until: "started")
            _ = try requests.writeAll(
                Self.requests([.stop(host: "h1"), .run(GatewayJob(host: "h2", command: ["true"]))]))
            seen += try await Self.read(events, until: #""host":"h2","status""#)
            return seen
        }
        #expect(run.events.contains(#"{"event":"finished","host":"h1","status":"cancelled""#))
        #expect(run.events.contains(#"{"event":"finished","host":"h2","status":"ok""#))
    }

    @Test func versionMismatchIsOneLineNamingBoth() async throws {
        let run = try await serve { requests, _ in
            _ = try requests.writeAll(
                Self.requests([.hello(GatewayHello(protocolVersion: 9, passhVersion: "9.0.0")), .setup(GatewaySetup())])
            )
            return []
        }
        #expect(run.status == 1)
        #expect(
            run.errors
                == "passh: gateway: the root runs passh 9.0.0, gateway protocol 9, this gateway passh \(GatewayProtocol.passhVersion), gateway protocol 2\n"
        )
    }

    @Test func garbageRequestEndsTheGateway() async throws {
        let run = try await serve { requests, _ in
            _ = try requests.writeAll(
                Self.requests([.hello(.current), .setup(GatewaySetup())]) + Array("{oops\n".utf8))
            return []
        }
        #expect(run.status == 1)
        #expect(run.errors.hasPrefix("passh: gateway: a request that cannot be read: "))
    }
}
