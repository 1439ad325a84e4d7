import ExtrasBase64
import Synchronization

/// JSON Lines on stdout, one object per event:
///
/// - a line: `{"host":"web1","stream":"stdout","line":"text"}` — or `"line_base64"` instead of
///   `"line"` when the line is not valid UTF-8;
/// - a host done: `{"host":"web1","status":"ok","exit_code":0,"signal":null,"error":null,"duration_ms":412}`,
///   `status` one of `ok`, `failed`, `timeout`, `cancelled`; `signal` a name such as `"SIGKILL"`;
/// - at the end: `{"summary":{"hosts":3,"ok":2,"failed":1,"timeout":0,"cancelled":0,"failed_hosts":["web2"],"duration_ms":530}}`.
///
/// Lines carry no newline; a last line without one is reported like any other.
public final class JSONLinesSink: OutputSink {
    private let writer: OutputWriter
    private let started = ContinuousClock.now

    /// A sink writing through `writer` (everything goes to its stdout).
    public init(writer: OutputWriter = .standard) {
        self.writer = writer
    }

    /// One `{"host","stream","line"}` object per line.
    public func output(_ chunk: OutputChunk) async {
        var head = JSONObject()
        head.add("host", chunk.host.name)
        head.add("stream", chunk.stream.rawValue)
        head.bytes.append(UInt8(ascii: ","))
        var out: [UInt8] = []
        out.reserveCapacity(chunk.bytes.count + chunk.lineCount * (head.bytes.count + 16))
        for line in chunk.lines {
            out.append(contentsOf: head.bytes)
            if isValidUTF8(line) {
                out.append(contentsOf: Array("\"line\":".utf8))
                appendJSONString(line, to: &out)
            } else {
                out.append(contentsOf: Array("\"line_base64\":\"".utf8))
                out.append(contentsOf: Base64.encodeToBytes(bytes: line))
                out.append(UInt8(ascii: "\""))
            }
            out.append(contentsOf: Array("}\n".utf8))
        }
        await writer.write(out, to: .stdout)
    }

    /// The host's `{"host","status",…}` object.
    public func hostFinished(_ result: HostResult) async {
        var exitCode: Int?
        var signal: String?
        if case .exited(let code) = result.outcome { exitCode = Int(code) }
        if case .signaled(let number) = result.outcome { signal = number.name }
        var error: String?
        if !result.isSuccess {
            error = result.errorMessage ?? (result.outcome == .timedOut ? "timed out" : result.outcome == .cancelled ? "cancelled" : nil)
        }
        var object = JSONObject()
        object.add("host", result.host.name)
        object.add("status", result.outcome.status.rawValue)
        object.add("exit_code", exitCode)
        object.add("signal", signal)
        object.add("error", error)
        object.add("duration_ms", Int(result.duration / .milliseconds(1)))
        await writer.write(object.closed() + [0x0A], to: .stdout)
    }

    /// The `{"summary":…}` object.
    public func runFinished(_ results: [HostResult]) async {
        var summary = JSONObject()
        summary.add("hosts", results.count)
        for status in HostStatus.allCases {
            summary.add(status.rawValue, results.filter { $0.outcome.status == status }.count)
        }
        summary.add("failed_hosts", strings: results.filter { !$0.isSuccess }.map(\.host.name))
        summary.add("duration_ms", Int((ContinuousClock.now - started) / .milliseconds(1)))
        var object = JSONObject()
        object.add("summary", object: summary)
        await writer.write(object.closed() + [0x0A], to: .stdout)
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
            out += [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
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
