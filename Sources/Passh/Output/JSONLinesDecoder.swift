import ExtrasBase64

/// Reads what ``JSONLinesSink`` wrote back into the events and results the library saw.
///
/// Feed it the stream one line at a time with ``decode(line:)``, or a whole stream at once with
/// ``decode(_:collectOutput:)`` or ``decode(lines:collectOutput:)``:
///
/// ```swift
/// let run = try JSONLinesDecoder.decode(bytes)          // bytes: what `passh --json` wrote
/// for result in run.results where !result.isSuccess { print(result.host, result.outcome) }
/// ```
///
/// - The first object must be the `start` object; a schema version other than
///   ``JSONLinesSink/schemaVersion`` is refused (a different major version may mean anything).
/// - Members it does not know are ignored, and so are objects whose `event` it does not know:
///   a later minor revision of the schema may add both.
/// - Blank lines are skipped.
/// - The `start` and `summary` objects give no event: they are kept in ``tool``, ``version``
///   and ``summary``.
/// - A `finished` object's `stdout` and `stderr` are not in the stream: with
///   ``collectOutput`` the decoder rebuilds them from the host's `line` objects (each line's
///   bytes, then its newline unless it had none), as ``RunOptions/collectOutput`` would have
///   collected them; without it they are `nil`.
///
/// Errors are ``PasshError``s with code ``PasshError/Code/invalidInput`` and a one-line message
/// naming the line: `JSON Lines line 3: unexpected end of line, expected ',' or '}' at column 28`.
public struct JSONLinesDecoder: Sendable {
    /// A whole stream, decoded.
    public struct Decoded: Sendable {
        /// Every event, in the order of the stream.
        public var events: [RunEvent] = []
        /// The hosts' results, in the order they finished (the order of the `finished` objects).
        public var results: [HostResult] = []
        /// The `summary` object, when the stream has one.
        public var summary: Summary?
        /// The tool that wrote the stream (`passh`).
        public var tool: String?
        /// The transport each host started on, for the `started` objects that name one.
        public var transports: [Host: String] = [:]
    }

    /// The `summary` object at the end of a run.
    public struct Summary: Sendable, Hashable {
        /// The number of hosts.
        public var hosts: Int
        /// How many hosts ended with each status.
        public var counts: [HostStatus: Int]
        /// The hosts that did not succeed, in the order they were given.
        public var failedHosts: [Host]
        /// The run's duration, to the millisecond.
        public var duration: Duration
        /// For a copy or a gather: the files and bytes every host moved, together.
        public var transfer: TransferTotals? = nil
    }

    /// Whether to rebuild each result's `stdout` and `stderr` from the line events.
    public var collectOutput: Bool
    /// The number of lines decoded so far.
    public private(set) var lineNumber = 0
    /// The schema version the `start` object gave; `nil` before it.
    public private(set) var version: Int?
    /// The tool the `start` object named.
    public private(set) var tool: String?
    /// The last `summary` object.
    public private(set) var summary: Summary?
    /// The transport each host started on, from the `started` objects that name one (`openssh`,
    /// `libssh`, `local`).
    public private(set) var transports: [Host: String] = [:]

    private var collected: [Host: (stdout: [UInt8], stderr: [UInt8])] = [:]
    /// Whether ``transports`` is kept: not by a reader of an endless stream (a gateway's), where
    /// it would grow with every host named.
    var keepsTransports = true

    /// A decoder at the start of a stream.
    public init(collectOutput: Bool = false) {
        self.collectOutput = collectOutput
    }

    /// Decodes the next line of the stream (with or without its newline).
    ///
    /// - Returns: The event the line carries; `nil` for a blank line, the `start` and `summary`
    ///   objects, and an object with an `event` this decoder does not know.
    /// - Throws: ``PasshError`` (``PasshError/Code/invalidInput``) naming the line and the problem.
    public mutating func decode(line: some Collection<UInt8>) throws(PasshError) -> RunEvent? {
        lineNumber += 1
        let bytes = line.withContiguousStorageIfAvailable { Array($0) } ?? Array(line)
        do throws(JSONProblem) {
            var parser = JSONParser(bytes: bytes)
            guard let value = try parser.parseLine() else { return nil }
            guard case .object(let object) = value else { throw JSONProblem("not a JSON object") }
            return try event(from: Members(object))
        } catch {
            throw PasshError(.invalidInput, "JSON Lines line \(lineNumber): \(error.text)")
        }
    }

    /// Decodes a whole stream: JSON objects separated by newlines.
    public static func decode(_ bytes: some Collection<UInt8>, collectOutput: Bool = false) throws(PasshError)
        -> Decoded
    {
        var decoder = JSONLinesDecoder(collectOutput: collectOutput)
        var decoded = Decoded()
        let all = bytes.withContiguousStorageIfAvailable { Array($0) } ?? Array(bytes)
        var start = 0
        while start < all.count {
            let end = all[start...].firstIndex(of: 0x0A) ?? all.count
            Self.take(try decoder.decode(line: all[start..<end]), into: &decoded)
            start = end + 1
        }
        decoded.summary = decoder.summary
        decoded.tool = decoder.tool
        decoded.transports = decoder.transports
        return decoded
    }

    /// Decodes a whole stream given line by line (e.g. a file's lines).
    public static func decode<Lines: AsyncSequence>(
        lines: Lines, collectOutput: Bool = false
    ) async throws -> Decoded where Lines.Element: Collection<UInt8> {
        var decoder = JSONLinesDecoder(collectOutput: collectOutput)
        var decoded = Decoded()
        for try await line in lines {
            Self.take(try decoder.decode(line: line), into: &decoded)
        }
        decoded.summary = decoder.summary
        decoded.tool = decoder.tool
        decoded.transports = decoder.transports
        return decoded
    }

    /// Static: a method of the decoder called as `decoder.take(decoder.decode(…))` would hold a copy
    /// of the decoder while `decode` changes it, and each line would copy the output collected so far.
    private static func take(_ event: RunEvent?, into decoded: inout Decoded) {
        guard let event else { return }
        decoded.events.append(event)
        if case .finished(let result) = event { decoded.results.append(result) }
    }

    // MARK: Objects to events

    private mutating func event(from object: Members) throws(JSONProblem) -> RunEvent? {
        let event = try object.string("event", required: true)!
        if event == "start" {
            guard let version = try object.integer("version") else {
                throw JSONProblem("the start object has no \"version\"")
            }
            guard version == JSONLinesSink.schemaVersion else {
                throw JSONProblem(
                    "schema version \(version) is not supported (this decoder reads version \(JSONLinesSink.schemaVersion))"
                )
            }
            self.version = Int(version)
            tool = try object.string("tool")
            return nil
        }
        guard version != nil else { throw JSONProblem("the stream does not begin with a \"start\" object") }
        switch event {
        case "started":
            let host = try object.host()
            if keepsTransports, let transport = try object.string("transport") { transports[host] = transport }
            return .started(host)
        case "line":
            return .line(try line(from: object))
        case "finished":
            return .finished(try result(from: object))
        case "summary":
            summary = try Self.summary(from: object)
            return nil
        default:
            return nil
        }
    }

    private mutating func line(from object: Members) throws(JSONProblem) -> OutputLine {
        let host = try object.host()
        let stream: OutputStreamKind
        switch try object.string("stream", required: true) {
        case "stdout": stream = .stdout
        case "stderr": stream = .stderr
        case let other?: throw JSONProblem("unknown stream \(quotedForMessage(other))")
        case nil: throw JSONProblem("no \"stream\"")
        }
        let bytes: [UInt8]
        if let text = try object.stringBytes("line") {
            bytes = text
        } else if let base64 = try object.string("line_base64") {
            do { bytes = try Base64.decode(string: base64) } catch {
                throw JSONProblem("\"line_base64\" is not valid Base64")
            }
        } else {
            throw JSONProblem("a line object has neither \"line\" nor \"line_base64\"")
        }
        let hadNewline = try object.bool("newline") ?? true
        if collectOutput {
            // In place: a copy of the host's output per line would make a large output quadratic.
            switch stream {
            case .stdout:
                collected[host, default: ([], [])].stdout += bytes
                if hadNewline { collected[host, default: ([], [])].stdout.append(0x0A) }
            case .stderr:
                collected[host, default: ([], [])].stderr += bytes
                if hadNewline { collected[host, default: ([], [])].stderr.append(0x0A) }
            }
        }
        return OutputLine(host: host, stream: stream, bytes: bytes[...], hadNewline: hadNewline)
    }

    private mutating func result(from object: Members) throws(JSONProblem) -> HostResult {
        let host = try object.host()
        let outcome: HostOutcome
        let status = try object.string("status", required: true)!
        switch status {
        case "ok":
            outcome = .exited(0)
        case "failed":
            if case .object(let failure)? = object["failure"] {
                let failure = Members(failure, path: "failure.")
                let kindName = try failure.string("kind", required: true)!
                guard let kind = HostFailure.Kind(rawValue: kindName) else {
                    throw JSONProblem("unknown failure kind \(quotedForMessage(kindName))")
                }
                outcome = .failed(
                    HostFailure(
                        kind, try failure.string("message") ?? "", program: try failure.string("program"),
                        commandMayHaveRun: try failure.bool("command_may_have_run")))
            } else if let name = try object.string("signal") {
                let number = try object.integer("signal_number").map { Int32(clamping: $0) }
                outcome = .signaled(Signal(number: number, exactName: name))
            } else if let code = try object.integer("exit_code") {
                guard let code = Int32(exactly: code) else {
                    throw JSONProblem("\"exit_code\" \(code) is out of range")
                }
                outcome = .exited(code)
            } else {
                throw JSONProblem("a failed host has no \"exit_code\", \"signal\" or \"failure\"")
            }
        case "timeout":
            outcome = .timedOut
        case "cancelled":
            outcome = .cancelled
        case "not_started":
            outcome = .notStarted
        default:
            throw JSONProblem("unknown status \(quotedForMessage(status))")
        }
        var errorMessage = try object.string("error")
        if errorMessage == JSONLinesSink.defaultError(for: outcome) { errorMessage = nil }
        let started = try object.bool("started") ?? true
        let attempts = try object.integer("attempts").map { Int(clamping: $0) }
        let duration: Duration
        if let nanoseconds = try object.integer("duration_ns") {
            duration = .nanoseconds(nanoseconds)
        } else if let milliseconds = try object.integer("duration_ms") {
            duration = .milliseconds(milliseconds)
        } else {
            duration = .zero
        }
        var stdout: [UInt8]?
        var stderr: [UInt8]?
        if collectOutput && started {
            let streams = collected.removeValue(forKey: host) ?? ([], [])
            (stdout, stderr) = (streams.stdout, streams.stderr)
        }
        return HostResult(
            host: host, outcome: outcome, started: started, duration: duration,
            stdout: stdout, stderr: stderr, errorMessage: errorMessage, attempts: attempts,
            transfer: try Self.transfer(in: object))
    }

    /// The `files`, `bytes` and `skipped` members of a copy's objects, when present (`skipped` is
    /// 0 when absent, as in streams written before it).
    private static func transfer(in object: Members) throws(JSONProblem) -> TransferTotals? {
        guard let files = try object.integer("files"), let bytes = try object.integer("bytes") else { return nil }
        return TransferTotals(files: Int(files), bytes: bytes, skipped: Int(try object.integer("skipped") ?? 0))
    }

    private static func summary(from object: Members) throws(JSONProblem) -> Summary {
        guard case .object(let members)? = object["summary"] else { throw JSONProblem("no \"summary\" object") }
        let summary = Members(members, path: "summary.")
        var counts: [HostStatus: Int] = [:]
        for status in HostStatus.allCases {
            counts[status] = Int(try summary.integer(status.rawValue) ?? 0)
        }
        var failedHosts: [Host] = []
        if case .array(let names)? = summary["failed_hosts"] {
            for name in names {
                guard case .string(let bytes) = name else {
                    throw JSONProblem("\"summary.failed_hosts\" holds a non-string")
                }
                do { failedHosts.append(try Host(String(decoding: bytes, as: UTF8.self))) } catch {
                    throw JSONProblem(error.message)
                }
            }
        }
        return Summary(
            hosts: Int(try summary.integer("hosts") ?? 0), counts: counts, failedHosts: failedHosts,
            duration: .milliseconds(try summary.integer("duration_ms") ?? 0), transfer: try Self.transfer(in: summary))
    }
}

extension Signal {
    /// A signal exactly as reported: the decoder's way back from `"signal"` and `"signal_number"`.
    init(number: Int32?, exactName: String) {
        self.number = number
        self.name = exactName
    }
}

/// What is wrong with a line, in words for the decoder's message.
struct JSONProblem: Error {
    let text: String
    init(_ text: String) { self.text = text }
}

/// A value quoted for an error message, at most 40 characters of it.
private func quotedForMessage(_ text: String) -> String {
    let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
    return "\"" + shown.unicodeScalars.map { $0.escaped(asASCII: true) }.joined() + "\""
}

/// An object's members, read with the types the schema gives them.
private struct Members {
    let members: [String: JSONValue]
    var path = ""

    init(_ members: [String: JSONValue], path: String = "") {
        self.members = members
        self.path = path
    }

    subscript(name: String) -> JSONValue? { members[name] }

    func stringBytes(_ name: String, required: Bool = false) throws(JSONProblem) -> [UInt8]? {
        switch members[name] {
        case .string(let bytes)?: return bytes
        case .null?, nil:
            if required { throw JSONProblem("no \"\(path)\(name)\"") }
            return nil
        default: throw JSONProblem("\"\(path)\(name)\" is not a string")
        }
    }

    func string(_ name: String, required: Bool = false) throws(JSONProblem) -> String? {
        try stringBytes(name, required: required).map { String(decoding: $0, as: UTF8.self) }
    }

    func integer(_ name: String) throws(JSONProblem) -> Int64? {
        switch members[name] {
        case .number(let text)?:
            guard let value = Int64(text) else { throw JSONProblem("\"\(path)\(name)\" is not an integer: \(text)") }
            return value
        case .null?, nil: return nil
        default: throw JSONProblem("\"\(path)\(name)\" is not a number")
        }
    }

    func bool(_ name: String) throws(JSONProblem) -> Bool? {
        switch members[name] {
        case .bool(let value)?: return value
        case .null?, nil: return nil
        default: throw JSONProblem("\"\(path)\(name)\" is not true or false")
        }
    }

    func host() throws(JSONProblem) -> Host {
        let name = try string("host", required: true)!
        do { return try Host(name) } catch { throw JSONProblem(error.message) }
    }
}

// MARK: A small JSON parser

/// A JSON value; strings are kept as their UTF-8 bytes.
enum JSONValue: Sendable {
    case null
    case bool(Bool)
    /// The number as written.
    case number(String)
    case string([UInt8])
    case array([JSONValue])
    case object([String: JSONValue])
}

/// A strict RFC 8259 parser for one line holding one value. Small, since the decoder is not on a
/// hot path; its errors name the column (1-based, in bytes).
struct JSONParser {
    let bytes: [UInt8]
    var position = 0
    private var depth = 0
    private static let maximumDepth = 100

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// The line's value; `nil` for a blank line.
    mutating func parseLine() throws(JSONProblem) -> JSONValue? {
        skipWhitespace()
        guard position < bytes.count else { return nil }
        let value = try parseValue()
        skipWhitespace()
        guard position == bytes.count else { throw problem("unexpected \(describe(bytes[position])) after the value") }
        return value
    }

    private func problem(_ text: String) -> JSONProblem { JSONProblem("\(text) at column \(position + 1)") }

    private func describe(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte)
            ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x" + String(byte, radix: 16, uppercase: true)
    }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(JSONProblem) {
        skipWhitespace()
        guard position < bytes.count else { throw problem("unexpected end of line, expected \(what)") }
        guard bytes[position] == byte else { throw problem("expected \(what), found \(describe(bytes[position]))") }
        position += 1
    }

    private mutating func parseValue() throws(JSONProblem) -> JSONValue {
        skipWhitespace()
        guard position < bytes.count else { throw problem("unexpected end of line, expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case let byte: throw problem("expected a value, found \(describe(byte))")
        }
    }

    private mutating func literal(_ word: String) throws(JSONProblem) {
        let expected = Array(word.utf8)
        guard bytes.count - position >= expected.count, Array(bytes[position..<position + expected.count]) == expected
        else {
            throw problem("expected a value, found \(describe(bytes[position]))")
        }
        position += expected.count
    }

    private mutating func nest() throws(JSONProblem) {
        depth += 1
        if depth > Self.maximumDepth { throw problem("values nested more than \(Self.maximumDepth) deep") }
    }

    private mutating func parseObject() throws(JSONProblem) -> JSONValue {
        try nest()
        defer { depth -= 1 }
        position += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count else { throw problem("unexpected end of line, expected a member name") }
            guard bytes[position] == UInt8(ascii: "\"") else {
                throw problem("expected a member name, found \(describe(bytes[position]))")
            }
            let name = String(decoding: try parseString(), as: UTF8.self)
            try expect(UInt8(ascii: ":"), "':' after a member name")
            members[name] = try parseValue()
            skipWhitespace()
            guard position < bytes.count else { throw problem("unexpected end of line, expected ',' or '}'") }
            switch bytes[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return .object(members)
            case let byte: throw problem("expected ',' or '}' after a member, found \(describe(byte))")
            }
        }
    }

    private mutating func parseArray() throws(JSONProblem) -> JSONValue {
        try nest()
        defer { depth -= 1 }
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue())
            skipWhitespace()
            guard position < bytes.count else { throw problem("unexpected end of line, expected ',' or ']'") }
            switch bytes[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .array(elements)
            case let byte: throw problem("expected ',' or ']' after an element, found \(describe(byte))")
            }
        }
    }

    private mutating func parseNumber() throws(JSONProblem) -> String {
        let start = position
        func digits(_ parser: inout JSONParser) -> Int {
            let from = parser.position
            while parser.position < parser.bytes.count, (0x30...0x39).contains(parser.bytes[parser.position]) {
                parser.position += 1
            }
            return parser.position - from
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        let integerStart = position
        guard digits(&self) > 0 else { throw problem("expected a digit") }
        if bytes[integerStart] == UInt8(ascii: "0") && position - integerStart > 1 {
            position = integerStart
            throw problem("a number must not begin with 0")
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits(&self) > 0 else { throw problem("expected a digit after '.'") }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard digits(&self) > 0 else { throw problem("expected a digit in the exponent") }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// A string's bytes, escapes resolved; the string must be valid UTF-8.
    private mutating func parseString() throws(JSONProblem) -> [UInt8] {
        let opening = position
        position += 1
        var out: [UInt8] = []
        var ascii = true
        while true {
            // The plain run up to the next quote, backslash or control character, copied at once.
            let runStart = position
            while position < bytes.count {
                let byte = bytes[position]
                if byte == 0x22 || byte == 0x5C || byte < 0x20 { break }
                if byte >= 0x80 { ascii = false }
                position += 1
            }
            out.append(contentsOf: bytes[runStart..<position])
            guard position < bytes.count else {
                position = opening
                throw problem("unterminated string")
            }
            let byte = bytes[position]
            if byte == 0x22 {
                position += 1
                break
            }
            if byte < 0x20 { throw problem("unescaped control character \(describe(byte)) in a string") }
            // A backslash.
            position += 1
            guard position < bytes.count else { throw problem("unterminated escape") }
            let escaped = bytes[position]
            position += 1
            switch escaped {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                let escapeStart = position - 2
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard bytes.count - position >= 6, bytes[position] == 0x5C, bytes[position + 1] == UInt8(ascii: "u")
                    else {
                        position = escapeStart
                        throw problem("a lone UTF-16 surrogate in a \\u escape")
                    }
                    position += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else {
                        position = escapeStart
                        throw problem("a lone UTF-16 surrogate in a \\u escape")
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    position = escapeStart
                    throw problem("a lone UTF-16 surrogate in a \\u escape")
                }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
            default:
                position -= 2
                throw problem("invalid escape: \\ followed by \(describe(escaped))")
            }
        }
        if !ascii && String(validating: out, as: UTF8.self) == nil {
            position = opening
            throw problem("a string that is not valid UTF-8")
        }
        return out
    }

    private mutating func hex4() throws(JSONProblem) -> UInt32 {
        guard bytes.count - position >= 4 else { throw problem("expected four hex digits after \\u") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: throw problem("expected four hex digits after \\u")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
