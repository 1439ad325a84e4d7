import ExtrasBase64
import Synchronization

/// JSON Lines on stdout, one object per event, in the order the events happen; every object has
/// an `"event"` member first. Schema version 2 (``schemaVersion``):
///
/// - first, once: `{"event":"start","version":2,"tool":"passh"}`;
/// - a host starting: `{"event":"started","host":"web1","transport":"libssh"}` (`transport`, which
///   transport reached the host — `openssh`, `libssh`, `local` —, when the transport says);
/// - a line: `{"event":"line","host":"web1","stream":"stdout","line":"text"}` — `"line_base64"`
///   (standard Base64) instead of `"line"` when the line is not valid UTF-8; `"newline":false`
///   added when the line had no newline (a host's last line, or a piece of an over-long line);
/// - a host done: `{"event":"finished","host":"web1","status":"ok","exit_code":0,"signal":null,
///   "signal_number":null,"error":null,"failure":null,"started":true,"attempts":1,"duration_ms":412,
///   "duration_ns":412345678}`, `status` one of `ok`, `failed`, `timeout`, `cancelled`, `not_started`; `signal` a
///   name such as `"SIGKILL"` and `signal_number` its number (`null` when only the name is known);
///   `failure`, when the command could not be run,
///   `{"kind":"connection_refused","message":"…","program":null,"command_may_have_run":false}`
///   (``HostFailure/Kind`` raw values, ``HostFailure/commandMayHaveRun``); `error` the host's error
///   line, or `"timed out"` / `"cancelled"` / `"not started"` when it has none; `started` `false`
///   for a host the run stopped before it started (cancelled, or ``HostOutcome/notStarted``);
///   `attempts` how many times the host was tried (``Rollout/retries``);
/// - at the end: `{"event":"summary","summary":{"hosts":3,"ok":2,"failed":1,"timeout":0,"cancelled":0,"not_started":0,"failed_hosts":["web2"],"duration_ms":530}}`;
/// - for a copy or a gather (``HostResult/transfer``), `finished` ends with
///   `"files":12,"bytes":2097152,"skipped":0` — the regular files and their bytes the host received
///   or sent, and the members of a gather that were not created — and `summary` with their sums
///   over the hosts that have them.
///
/// Hosts are written as given (``Host/name``). The stream is lossless: ``JSONLinesDecoder``
/// reads it back into the same ``RunEvent``s and ``HostResult``s (the collected `stdout` and
/// `stderr` are not repeated in `finished`; the decoder can rebuild them from the lines).
/// Readers should ignore members and events they do not know: a minor revision may add them; a
/// change that breaks readers raises the version.
public final class JSONLinesSink: OutputSink {
    /// The schema version written in the `start` object.
    public static let schemaVersion = 2

    private let writer: OutputWriter
    private let tool: String
    private let started = ContinuousClock.now
    /// Whether the `start` object is queued: read without the lock on every call.
    private let begun = Atomic<Bool>(false)
    private let beginning = Mutex(())

    /// A sink writing through `writer` (everything goes to its stdout); `tool` is named in the
    /// `start` object.
    public init(writer: OutputWriter = OutputWriter(), tool: String = "passh") {
        self.writer = writer
        self.tool = tool
    }

    /// Queues the `start` object before anything else, once.
    @inline(__always)
    private func begin() {
        if !begun.load(ordering: .acquiring) { writeStart() }
    }

    private func writeStart() {
        beginning.withLock { _ in
            guard !begun.load(ordering: .acquiring) else { return }
            var object = JSONObject()
            object.add("event", "start")
            object.add("version", Self.schemaVersion)
            object.add("tool", tool)
            writer.enqueue(object.closed() + [0x0A], to: .stdout)
            begun.store(true, ordering: .releasing)
        }
    }

    /// The `{"event":"started","host"}` object.
    public func hostStarted(_ host: Host) async {
        await hostStarted(host, transport: nil)
    }

    /// The `{"event":"started","host","transport"}` object (`transport` when known: `openssh`,
    /// `libssh`, `local`).
    public func hostStarted(_ host: Host, transport: String?) async {
        begin()
        var object = JSONObject()
        object.add("event", "started")
        object.add("host", host.name)
        if let transport { object.add("transport", transport) }
        await writer.write(object.closed() + [0x0A], to: .stdout)
    }

    /// `{"event":"line","host":…,"stream":…,` — what every line object of `chunk` starts with.
    private static func lineHead(_ chunk: OutputChunk) -> JSONObject {
        var head = JSONObject()
        head.add("event", "line")
        head.add("host", chunk.host.name)
        head.add("stream", chunk.stream.rawValue)
        head.bytes.append(UInt8(ascii: ","))
        return head
    }

    /// One `{"event":"line","host","stream","line"}` object per line.
    public func output(_ chunk: OutputChunk) async {
        begin()
        let head = Self.lineHead(chunk)
        let lineCount = chunk.lineCount
        var out: [UInt8] = []
        out.reserveCapacity(chunk.bytes.count + lineCount * (head.bytes.count + 16) + 16)
        var remaining = lineCount
        for line in chunk.lines {
            remaining -= 1
            out.append(contentsOf: head.bytes)
            if isValidUTF8(line) {
                out.append(contentsOf: Self.lineKey)
                appendJSONString(line, to: &out)
            } else {
                out.append(contentsOf: Self.base64Key)
                out.append(contentsOf: Base64.encodeToBytes(bytes: line))
                out.append(UInt8(ascii: "\""))
            }
            if remaining == 0 && !chunk.endsWithNewline { out.append(contentsOf: Self.noNewline) }
            out.append(UInt8(ascii: "}"))
            out.append(0x0A)
        }
        await writer.write(out, to: .stdout)
    }

    /// One `{"event":"line",…,"line_base64":…,"newline":false}` object for the whole chunk, its
    /// newlines inside: how a gateway sends a piece of binary stdout (a gather's archive). Decoded,
    /// it is the chunk's bytes as they were, in one piece; the stream grows by a third, where
    /// line by line a tar header's NUL bytes would grow six-fold and every newline of a text file
    /// would cost a line object.
    func outputPiece(_ chunk: OutputChunk) async {
        begin()
        let head = Self.lineHead(chunk)
        var out = head.bytes
        out.reserveCapacity(head.bytes.count + chunk.bytes.count / 3 * 4 + 40)
        out.append(contentsOf: Self.base64Key)
        out.append(contentsOf: Base64.encodeToBytes(bytes: chunk.bytes))
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: Self.noNewline)
        out.append(UInt8(ascii: "}"))
        out.append(0x0A)
        await writer.write(out, to: .stdout)
    }

    private static let lineKey = Array(#""line":"#.utf8)
    private static let base64Key = Array(#""line_base64":""#.utf8)
    private static let noNewline = Array(#","newline":false"#.utf8)

    /// The text `error` holds for a host that has no error line of its own.
    static func defaultError(for outcome: HostOutcome) -> String? {
        switch outcome {
        case .timedOut: "timed out"
        case .cancelled: "cancelled"
        case .notStarted: "not started"
        default: nil
        }
    }

    /// The host's `{"event":"finished","host","status",…}` object.
    public func hostFinished(_ result: HostResult) async {
        begin()
        var exitCode: Int?
        var signal: Signal?
        var failure: HostFailure?
        switch result.outcome {
        case .exited(let code): exitCode = Int(code)
        case .signaled(let killer): signal = killer
        case .failed(let reason): failure = reason
        case .timedOut, .cancelled, .notStarted: break
        }
        var object = JSONObject()
        object.add("event", "finished")
        object.add("host", result.host.name)
        object.add("status", result.outcome.status.rawValue)
        object.add("exit_code", exitCode)
        object.add("signal", signal?.name)
        object.add("signal_number", signal?.number.map(Int.init))
        object.add("error", result.errorMessage ?? Self.defaultError(for: result.outcome))
        if let failure {
            var member = JSONObject()
            member.add("kind", failure.kind.rawValue)
            member.add("message", failure.message)
            member.add("program", failure.program)
            member.add("command_may_have_run", failure.commandMayHaveRun)
            object.add("failure", object: member)
        } else {
            object.add("failure", nil as String?)
        }
        object.add("started", result.started)
        object.add("attempts", result.attempts)
        object.add("duration_ms", Int(result.duration / .milliseconds(1)))
        let (seconds, attoseconds) = result.duration.components
        object.add("duration_ns", Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
        if let transfer = result.transfer {
            object.add("files", transfer.files)
            object.add("bytes", Int(transfer.bytes))
            object.add("skipped", transfer.skipped)
        }
        await writer.write(object.closed() + [0x0A], to: .stdout)
    }

    /// The `{"event":"summary","summary":…}` object.
    public func runFinished(_ results: [HostResult]) async {
        begin()
        var summary = JSONObject()
        summary.add("hosts", results.count)
        for status in HostStatus.allCases {
            summary.add(status.rawValue, results.filter { $0.outcome.status == status }.count)
        }
        summary.add(
            "failed_hosts", strings: results.filter { !$0.isSuccess && $0.outcome != .notStarted }.map(\.host.name))
        summary.add("duration_ms", Int((ContinuousClock.now - started) / .milliseconds(1)))
        let transfers = results.compactMap(\.transfer)
        if !transfers.isEmpty {
            summary.add("files", transfers.reduce(0) { $0 + $1.files })
            summary.add("bytes", Int(transfers.reduce(Int64(0)) { $0 + $1.bytes }))
            summary.add("skipped", transfers.reduce(0) { $0 + $1.skipped })
        }
        var object = JSONObject()
        object.add("event", "summary")
        object.add("summary", object: summary)
        await writer.write(object.closed() + [0x0A], to: .stdout)
    }

    /// Waits until the writer has written everything queued.
    public func flush() async {
        await writer.flush()
    }
}

/// Builds one JSON object into bytes: what the JSON Lines sink needs, no more. A general encoder
/// would build an intermediate value per line; this escapes straight into the output buffer.
struct JSONObject {
    var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var empty = true

    private mutating func key(_ name: String) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        appendJSONString(name.utf8, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func add(_ name: String, _ value: String?) {
        key(name)
        if let value { appendJSONString(value.utf8, to: &bytes) } else { bytes += Array("null".utf8) }
    }

    mutating func add(_ name: String, _ value: Int?) {
        key(name)
        bytes += Array((value.map(String.init) ?? "null").utf8)
    }

    mutating func add(_ name: String, _ value: Bool) {
        key(name)
        bytes += Array((value ? "true" : "false").utf8)
    }

    mutating func add(_ name: String, strings: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in strings.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            appendJSONString(value.utf8, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func add(_ name: String, object: JSONObject) {
        key(name)
        bytes += object.closed()
    }

    func closed() -> [UInt8] { bytes + [UInt8(ascii: "}")] }
}

/// Appends `text` (valid UTF-8) as a JSON string: quotes, backslashes and control characters
/// escaped, everything else as it is.
func appendJSONString(_ text: some Sequence<UInt8>, to out: inout [UInt8]) {
    let hex = Array("0123456789abcdef".utf8)
    out.append(UInt8(ascii: "\""))
    for byte in text {
        switch byte {
        case UInt8(ascii: "\""): out += [0x5C, 0x22]
        case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
        case 0x0A: out += [0x5C, UInt8(ascii: "n")]
        case 0x0D: out += [0x5C, UInt8(ascii: "r")]
        case 0x09: out += [0x5C, UInt8(ascii: "t")]
        case 0..<0x20, 0x7F:
            out += [
                0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)],
                hex[Int(byte & 0xF)],
            ]
        default: out.append(byte)
        }
    }
    out.append(UInt8(ascii: "\""))
}

/// Whether `bytes` are valid UTF-8 (an all-ASCII line is checked without building a string).
func isValidUTF8(_ bytes: ArraySlice<UInt8>) -> Bool {
    if bytes.allSatisfy({ $0 < 0x80 }) { return true }
    return String(validating: bytes, as: UTF8.self) != nil
}
