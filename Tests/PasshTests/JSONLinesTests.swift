import SystemPackage
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// What a runner tells a sink, one call each.
enum SinkCall {
    case started(Host)
    case chunk(OutputChunk)
    case finished(HostResult)
}

/// Writes `calls` through a `JSONLinesSink` into a temporary file and reads back the bytes.
func jsonLines(_ calls: [SinkCall]) async throws -> [UInt8] {
    let path = "/tmp/passh-json-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    defer { unlink(path) }
    let fd = try FileDescriptor.open(
        FilePath(path), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
    defer { try? fd.close() }
    let writer = OutputWriter(stdout: fd, stderr: fd)
    let sink = JSONLinesSink(writer: writer)
    var results: [HostResult] = []
    for call in calls {
        switch call {
        case .started(let host): await sink.hostStarted(host)
        case .chunk(let chunk): await sink.output(chunk)
        case .finished(let result):
            await sink.hostFinished(result)
            results.append(result)
        }
    }
    await sink.runFinished(results)
    await writer.flush()
    let size = try fd.seek(offset: 0, from: .end)
    _ = try fd.seek(offset: 0, from: .start)
    var bytes = [UInt8](repeating: 0, count: Int(size))
    let read = try bytes.withUnsafeMutableBytes { try fd.read(into: $0) }
    #expect(read == Int(size))
    return bytes
}

/// The events a run gives for `calls`: each chunk's lines, as ``ParallelSSH/events(_:on:)`` gives them.
func events(_ calls: [SinkCall]) -> [RunEvent] {
    calls.flatMap { call -> [RunEvent] in
        switch call {
        case .started(let host): return [.started(host)]
        case .finished(let result): return [.finished(result)]
        case .chunk(let chunk):
            var remaining = chunk.lineCount
            return chunk.lines.map { line in
                remaining -= 1
                return .line(
                    OutputLine(
                        host: chunk.host, stream: chunk.stream, bytes: line,
                        hadNewline: remaining > 0 || chunk.endsWithNewline))
            }
        }
    }
}

@Suite("JSON Lines: the sink's schema and the decoder's round trip")
struct JSONLinesTests {
    let h1 = try! Host("h1")
    let web = try! Host("admin@wéb\"1\\:2222")
    let v6 = try! Host("[2001:db8::1]:2222")

    func chunk(_ host: Host, _ bytes: [UInt8], stream: OutputStreamKind = .stdout, newline: Bool = true) -> SinkCall {
        .chunk(OutputChunk(host: host, stream: stream, bytes: bytes[...], endsWithNewline: newline))
    }

    /// Every output mode's awkward data: every byte value, CRLF, invalid UTF-8, a 1 MiB line, a
    /// piece of an over-long line, a last line without its newline, empty lines.
    var awkwardOutput: [SinkCall] {
        let everyByte = (0...255).map(UInt8.init).filter { $0 != 0x0A }
        let eachByte: [UInt8] = everyByte.flatMap { byte -> [UInt8] in [byte, 0x0A] }
        let invalid: [[UInt8]] = [
            [0xFF, 0xFE], [0xE2, 0x82], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0x61, 0x80, 0x62],
        ]
        return [
            chunk(h1, everyByte + [0x0A]),
            chunk(h1, eachByte),
            chunk(h1, Array("crlf\r\n\r\n\n".utf8), stream: .stderr),
            chunk(h1, invalid.flatMap { $0 + [0x0A] }),
            chunk(h1, Array("héllo 😀 \"q\" \\ \u{7F} \u{2028}\n".utf8)),
            chunk(h1, Array(repeating: UInt8(ascii: "y"), count: 1 << 20) + [0x0A]),
            chunk(h1, Array(repeating: 0xFF, count: 1 << 16), newline: false),  // a piece of an over-long line
            chunk(h1, Array("rest of it\n".utf8)),
            chunk(h1, Array("oops\nlast".utf8), stream: .stderr, newline: false),
        ]
    }

    /// A host's output and result, with or without the output collected.
    func run(_ host: Host, outcome: HostOutcome, output: [SinkCall], collect: Bool, errorMessage: String? = nil)
        -> [SinkCall]
    {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        for case .chunk(let chunk) in output {
            if chunk.stream == .stdout { stdout += chunk.bytes } else { stderr += chunk.bytes }
        }
        let result = HostResult(
            host: host, outcome: outcome, duration: .nanoseconds(1_234_567_891),
            stdout: collect ? stdout : nil, stderr: collect ? stderr : nil, errorMessage: errorMessage)
        return [.started(host)] + output + [.finished(result)]
    }

    static let outcomes: [HostOutcome] =
        [
            .exited(0), .exited(7), .exited(255),
            .signaled(Signal(number: 15)), .signaled(Signal(number: 99)), .signaled(Signal(name: "TERM")),
            .signaled(Signal(name: "FOO")), .signaled(Signal(name: "weird one")),
            .timedOut, .cancelled,
        ]
        + HostFailure.Kind.allCases.map { kind in
            .failed(
                HostFailure(
                    kind, "ssh: \(kind.rawValue) \"went\" wrong ✗", program: kind == .cannotStart ? "/usr/bin/ssh" : nil
                ))
        }

    func roundTrip(_ calls: [SinkCall], collect: Bool) async throws {
        let bytes = try await jsonLines(calls)
        // Every line is valid UTF-8 JSON with the event first.
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        #expect(lines.last == [])
        for line in lines.dropLast() {
            #expect(String(validating: line, as: UTF8.self) != nil)
            #expect(line.starts(with: Array(#"{"event":""#.utf8)))
        }
        #expect(lines.first.map { Array($0) } == Array(#"{"event":"start","version":2,"tool":"passh"}"#.utf8))
        let decoded = try JSONLinesDecoder.decode(bytes, collectOutput: collect)
        let expected = events(calls)
        #expect(decoded.events.count == expected.count)
        for (got, want) in zip(decoded.events, expected) where got != want {
            Issue.record("decoded \(got), expected \(want)")
            break
        }
        let results = calls.compactMap { call -> HostResult? in if case .finished(let r) = call { r } else { nil } }
        #expect(decoded.results == results)
        #expect(decoded.tool == "passh")
        #expect(decoded.summary?.hosts == results.count)
        #expect(
            decoded.summary?.failedHosts == results.filter { !$0.isSuccess && $0.outcome != .notStarted }.map(\.host))
    }

    @Test(.alone, arguments: [false, true])
    func everyOutputRoundTrips(collect: Bool) async throws {
        try await roundTrip(
            run(h1, outcome: .exited(3), output: awkwardOutput, collect: collect, errorMessage: "last")
                + run(web, outcome: .exited(0), output: [chunk(web, Array("fine\n".utf8))], collect: collect)
                + run(v6, outcome: .exited(0), output: [], collect: collect),
            collect: collect)
    }

    @Test(arguments: [false, true])
    func everyOutcomeRoundTrips(collect: Bool) async throws {
        var calls: [SinkCall] = []
        for (index, outcome) in Self.outcomes.enumerated() {
            let host = try Host("host\(index)")
            let message: String? =
                switch outcome {
                case .exited(0), .timedOut, .cancelled: nil
                case .failed(let failure): failure.message
                default: "error line \(index)"
                }
            calls += run(
                host, outcome: outcome, output: [chunk(host, Array("x\n".utf8), stream: .stderr)], collect: collect,
                errorMessage: message)
        }
        calls.append(.finished(.unstarted(try Host("never"))))
        calls.append(.finished(.unstarted(try Host("skipped"), outcome: .notStarted)))
        calls.append(
            .finished(
                HostResult(
                    host: try Host("flapping"),
                    outcome: .failed(
                        HostFailure(.connectionLost, "kex_exchange_identification: reset", commandMayHaveRun: false)),
                    stdout: collect ? [] : nil, stderr: collect ? [] : nil,
                    errorMessage: "kex_exchange_identification: reset", attempts: 3)))
        calls.append(
            .finished(
                HostResult(
                    host: try Host("odd"), outcome: .timedOut, duration: .milliseconds(5), stdout: collect ? [] : nil,
                    stderr: collect ? [] : nil, errorMessage: "its own")))
        try await roundTrip(calls, collect: collect)
    }

    @Test func theSchemaOfEachObject() async throws {
        let bytes = try await jsonLines([
            .started(h1),
            chunk(h1, Array("hi\n\u{FF}".utf8) + [0xFF, 0x0A, 0x61], newline: false),
            .finished(
                HostResult(
                    host: h1, outcome: .signaled(Signal(number: 15)), duration: .nanoseconds(412_345_678),
                    errorMessage: "Killed")),
            .finished(
                HostResult(
                    host: v6,
                    outcome: .failed(HostFailure(.cannotStart, "cannot run ssh: No such file", program: "ssh")))),
            .finished(.unstarted(web)),
        ])
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 9)
        #expect(
            Array(lines.prefix(8)) == [
                #"{"event":"start","version":2,"tool":"passh"}"#,
                #"{"event":"started","host":"h1"}"#,
                #"{"event":"line","host":"h1","stream":"stdout","line":"hi"}"#,
                #"{"event":"line","host":"h1","stream":"stdout","line_base64":"w7//"}"#,
                #"{"event":"line","host":"h1","stream":"stdout","line":"a","newline":false}"#,
                #"{"event":"finished","host":"h1","status":"failed","exit_code":null,"signal":"SIGTERM","signal_number":15,"error":"Killed","failure":null,"started":true,"attempts":1,"duration_ms":412,"duration_ns":412345678}"#,
                #"{"event":"finished","host":"[2001:db8::1]:2222","status":"failed","exit_code":null,"signal":null,"signal_number":null,"error":null,"failure":{"kind":"cannot_start","message":"cannot run ssh: No such file","program":"ssh","command_may_have_run":false},"started":true,"attempts":1,"duration_ms":0,"duration_ns":0}"#,
                #"{"event":"finished","host":"admin@wéb\"1\\:2222","status":"cancelled","exit_code":null,"signal":null,"signal_number":null,"error":"cancelled","failure":null,"started":false,"attempts":0,"duration_ms":0,"duration_ns":0}"#,
            ])
        #expect(
            lines[8].hasPrefix(
                #"{"event":"summary","summary":{"hosts":3,"ok":0,"failed":2,"timeout":0,"cancelled":1,"not_started":0,"failed_hosts":["h1","[2001:db8::1]:2222","admin@wéb\"1\\:2222"],"duration_ms":"#
            ))
    }

    /// `started` names the transport when the runner knows it; the decoder gives it back.
    @Test func theStartedObjectNamesTheTransport() async throws {
        let path = "/tmp/passh-json-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(path) }
        let fd = try FileDescriptor.open(
            FilePath(path), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        let writer = OutputWriter(stdout: fd, stderr: fd)
        let sink = JSONLinesSink(writer: writer)
        await sink.hostStarted(h1, transport: "libssh")
        await sink.hostStarted(web, transport: nil)
        await writer.flush()
        let size = try fd.seek(offset: 0, from: .end)
        _ = try fd.seek(offset: 0, from: .start)
        var bytes = [UInt8](repeating: 0, count: Int(size))
        _ = try bytes.withUnsafeMutableBytes { try fd.read(into: $0) }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.dropFirst().first == #"{"event":"started","host":"h1","transport":"libssh"}"#)
        let decoded = try JSONLinesDecoder.decode(bytes)
        #expect(decoded.events == [.started(h1), .started(web)])
        #expect(decoded.transports == [h1: "libssh"])
    }

    @Test func theStartObjectComesFirstWhoeverWritesFirst() async throws {
        let path = "/tmp/passh-json-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(path) }
        let fd = try FileDescriptor.open(
            FilePath(path), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        let writer = OutputWriter(stdout: fd, stderr: fd)
        let sink = JSONLinesSink(writer: writer, tool: "mytool")
        let hosts = try (0..<50).map { try Host("h\($0)") }
        await withTaskGroup(of: Void.self) { group in
            for host in hosts {
                group.addTask {
                    await sink.output(
                        OutputChunk(host: host, stream: .stdout, bytes: Array("x\n".utf8)[...], endsWithNewline: true))
                }
            }
        }
        await writer.flush()
        let size = try fd.seek(offset: 0, from: .end)
        _ = try fd.seek(offset: 0, from: .start)
        var bytes = [UInt8](repeating: 0, count: Int(size))
        _ = try bytes.withUnsafeMutableBytes { try fd.read(into: $0) }
        let decoded = try JSONLinesDecoder.decode(bytes)
        #expect(decoded.tool == "mytool")
        #expect(decoded.events.count == 50)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"event":"start","version":2,"tool":"mytool"}"#))
        #expect(text.ranges(of: #""event":"start""#).count == 1)
    }

    @Test func unknownMembersAndEventsAreIgnored() throws {
        let stream = """
            {"event":"start","version":2,"tool":"passh","minor":1,"future":[1,{"a":null,"b":[true,false]}],"x":-2.5e+3}

            {"host":"h1","event":"started","extra":"\\u00e9\\ud83d\\ude00"}
            {"event":"hiccup","host":"h1","stream":"stdout"}
            {"event":"line","host":"h1","stream":"stdout","line":"a\\/b\\u0000","newline":true,"color":"red"}\r
            {"event":"finished","host":"h1","status":"ok","exit_code":0,"duration_ms":3,"more":{}}
            """
        let decoded = try JSONLinesDecoder.decode(Array(stream.utf8))
        let result = HostResult(host: h1, outcome: .exited(0), duration: .milliseconds(3))
        #expect(
            decoded.events == [
                .started(h1), .line(OutputLine(host: h1, stream: .stdout, bytes: Array("a/b\u{0}".utf8)[...])),
                .finished(result),
            ])
        #expect(decoded.results == [result])
        #expect(decoded.summary == nil)
    }

    @Test(arguments: [
        (
            #"{"event":"start","version":2}"# + "\n" + #"{"event":"line","host":"h1""#,
            "JSON Lines line 2: unexpected end of line, expected ',' or '}' at column 28"
        ),
        (
            #"{"event":"start","version":3,"tool":"passh"}"#,
            "JSON Lines line 1: schema version 3 is not supported (this decoder reads version 2)"
        ),
        (
            #"{"host":"h1","stream":"stdout","line":"old"}"#,
            "JSON Lines line 1: no \"event\""
        ),
        (
            #"{"event":"started","host":"h1"}"#,
            "JSON Lines line 1: the stream does not begin with a \"start\" object"
        ),
        (
            #"{"event":"start","version":2}"# + "\n\n"
                + #"{"event":"line","host":"h1","stream":"stdout","line":"a"} x"#,
            "JSON Lines line 3: unexpected 'x' after the value at column 59"
        ),
        (
            #"{"event":"start","version":2}"# + "\n"
                + #"{"event":"line","host":"h1","stream":"stdout","line_base64":"!!"}"#,
            "JSON Lines line 2: \"line_base64\" is not valid Base64"
        ),
        (
            #"{"event":"start","version":2}"# + "\n"
                + #"{"event":"line","host":"-oProxyCommand=x","stream":"stdout","line":""}"#,
            "JSON Lines line 2: invalid host \"-oProxyCommand=x\": a host must not begin with '-'"
        ),
        (
            #"{"event":"start","version":2}"# + "\n" + #"{"event":"finished","host":"h1","status":"failed"}"#,
            "JSON Lines line 2: a failed host has no \"exit_code\", \"signal\" or \"failure\""
        ),
        (
            #"{"event":"start","version":2}"# + "\n"
                + #"{"event":"finished","host":"h1","status":"failed","failure":{"kind":"gremlins"}}"#,
            "JSON Lines line 2: unknown failure kind \"gremlins\""
        ),
        (
            #"{"event":"start","version":2}"# + "\n" + #"{"event":"started","host":"h\ud800"}"#,
            "JSON Lines line 2: a lone UTF-16 surrogate in a \\u escape at column 29"
        ),
        (
            #"{"event":"start","version":2}"# + "\n" + "{\"event\":\"started\",\"host\":\"h\u{1}\"}",
            "JSON Lines line 2: unescaped control character byte 0x1 in a string at column 29"
        ),
        ("[1,2]", "JSON Lines line 1: not a JSON object"),
    ])
    func malformedInputIsNamedByLine(input: String, message: String) {
        #expect(throws: PasshError(.invalidInput, message)) { try JSONLinesDecoder.decode(Array(input.utf8)) }
    }

    @Test func invalidUTF8InAStringIsRefused() {
        let input = Array(#"{"event":"start","version":2,"tool":""#.utf8) + [0xFF] + Array(#""}"#.utf8)
        #expect(throws: PasshError(.invalidInput, "JSON Lines line 1: a string that is not valid UTF-8 at column 37")) {
            try JSONLinesDecoder.decode(input)
        }
    }

    @Test func linesOneByOneAndAsAnAsyncSequence() async throws {
        let calls = run(
            h1, outcome: .exited(7), output: [chunk(h1, Array("a\nb".utf8), newline: false)], collect: true,
            errorMessage: "e")
        let bytes = try await jsonLines(calls)
        let lines = bytes.split(separator: 0x0A).map { Array($0) }
        var decoder = JSONLinesDecoder(collectOutput: true)
        var decodedEvents: [RunEvent] = []
        for line in lines { if let event = try decoder.decode(line: line) { decodedEvents.append(event) } }
        #expect(decodedEvents == events(calls))
        #expect(decoder.version == 2 && decoder.lineNumber == lines.count)
        let stream = AsyncStream { continuation in
            for line in lines { continuation.yield(line) }
            continuation.finish()
        }
        let decoded = try await JSONLinesDecoder.decode(lines: stream, collectOutput: true)
        #expect(decoded.events == events(calls))
        #expect(decoded.results.first?.stdout == Array("a\nb".utf8))
    }
}
