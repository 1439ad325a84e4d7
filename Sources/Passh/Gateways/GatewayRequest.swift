import ExtrasBase64

/// One line the root writes on a gateway's stdin: a JSON object whose `op` says what it is.
///
/// - `{"op":"hello","protocol":2,"passh":"2.1.0"}` — first, once;
/// - `{"op":"setup","transport":"auto","ssh_options":[…],"user":null,"connect_timeout":6,"insecure":false}`
///   — second, once (``GatewaySetup``);
/// - `{"op":"file","id":1,"size":N}` followed by exactly N bytes — a stdin file the hosts' runs
///   name by its id, sent once whatever the number of hosts;
/// - `{"op":"run","host":"web1","command":["uptime"],"stdin":1,"grace_ms":500,"max_line":16777216,"binary":false}`
///   — run a host (`stdin` absent: an empty stdin); its events follow on the gateway's stdout;
///   `"terminal":true` asks the host for a terminal, `"preamble":"…"` (Base64) is what its stdin
///   starts with, ahead of the file: a sudo password, which thus travels only inside the ssh
///   session's stdin, never in an argument list, the environment or a file;
/// - `{"op":"stop","host":"web1"}` — stop that host's run (the gateway still reports it finished).
///
/// A gateway runs one run of a host name at a time: a run for a name still stopping starts after it.
enum GatewayRequest: Sendable, Equatable {
    case hello(GatewayHello)
    case setup(GatewaySetup)
    case file(id: Int, size: Int64)
    case run(GatewayJob)
    case stop(host: String)

    /// The request as one line, newline included.
    func line() -> [UInt8] {
        var object = JSONObject()
        switch self {
        case .hello(let hello):
            object.add("op", "hello")
            object.add("protocol", hello.protocolVersion)
            object.add("passh", hello.passhVersion)
        case .setup(let setup):
            object.add("op", "setup")
            object.add("transport", setup.transport)
            object.add("ssh_options", strings: setup.sshOptions)
            object.add("user", setup.user)
            object.add("connect_timeout", setup.connectTimeout)
            object.add("insecure", setup.insecure)
            object.add("max_handshakes", setup.maximumHandshakes)
        case .file(let id, let size):
            object.add("op", "file")
            object.add("id", id)
            object.add("size", Int(size))
        case .run(let job):
            object.add("op", "run")
            object.add("host", job.host)
            object.add("command", strings: job.command)
            object.add("stdin", job.stdinFile)
            object.add("grace_ms", job.graceMilliseconds)
            object.add("max_line", job.maximumLineLength)
            object.add("binary", job.binaryStdout)
            if job.terminal { object.add("terminal", true) }
            if !job.stdinPreamble.isEmpty { object.add("preamble", Base64.encodeToString(bytes: job.stdinPreamble)) }
        case .stop(let host):
            object.add("op", "stop")
            object.add("host", host)
        }
        return object.closed() + [0x0A]
    }

    /// Reads one request line.
    static func parse(_ line: some Collection<UInt8>) throws(JSONProblem) -> GatewayRequest {
        var parser = JSONParser(bytes: Array(line))
        guard case .object(let members)? = try parser.parseLine() else { throw JSONProblem("not a JSON object") }
        func string(_ name: String) throws(JSONProblem) -> String? {
            switch members[name] {
            case .string(let bytes)?: return String(decoding: bytes, as: UTF8.self)
            case .null?, nil: return nil
            default: throw JSONProblem("\"\(name)\" is not a string")
            }
        }
        func integer(_ name: String) throws(JSONProblem) -> Int? {
            switch members[name] {
            case .number(let text)?:
                guard let value = Int(text) else { throw JSONProblem("\"\(name)\" is not an integer") }
                return value
            case .null?, nil: return nil
            default: throw JSONProblem("\"\(name)\" is not a number")
            }
        }
        func strings(_ name: String) throws(JSONProblem) -> [String] {
            switch members[name] {
            case .array(let values)?:
                var out: [String] = []
                for value in values {
                    guard case .string(let bytes) = value else { throw JSONProblem("\"\(name)\" holds a non-string") }
                    out.append(String(decoding: bytes, as: UTF8.self))
                }
                return out
            case .null?, nil: return []
            default: throw JSONProblem("\"\(name)\" is not an array")
            }
        }
        func bool(_ name: String) throws(JSONProblem) -> Bool {
            switch members[name] {
            case .bool(let value)?: return value
            case .null?, nil: return false
            default: throw JSONProblem("\"\(name)\" is not true or false")
            }
        }
        switch try string("op") {
        case "hello":
            guard let hello = GatewayHello.from(members) else { throw JSONProblem("a hello without its versions") }
            return .hello(hello)
        case "setup":
            var setup = GatewaySetup()
            setup.transport = try string("transport")
            setup.sshOptions = try strings("ssh_options")
            setup.user = try string("user")
            setup.connectTimeout = try integer("connect_timeout")
            setup.insecure = try bool("insecure")
            setup.maximumHandshakes = try integer("max_handshakes")
            return .setup(setup)
        case "file":
            guard let id = try integer("id"), let size = try integer("size"), size >= 0 else {
                throw JSONProblem("a file without its id and size")
            }
            return .file(id: id, size: Int64(size))
        case "run":
            guard let host = try string("host") else { throw JSONProblem("a run without its host") }
            let command = try strings("command")
            guard !command.isEmpty else { throw JSONProblem("a run without its command") }
            var job = GatewayJob(host: host, command: command)
            job.stdinFile = try integer("stdin")
            job.graceMilliseconds = try integer("grace_ms") ?? job.graceMilliseconds
            job.maximumLineLength = try integer("max_line") ?? job.maximumLineLength
            job.binaryStdout = try bool("binary")
            job.terminal = try bool("terminal")
            if let preamble = try string("preamble") {
                do { job.stdinPreamble = try Base64.decode(string: preamble) } catch {
                    throw JSONProblem("\"preamble\" is not valid Base64")
                }
            }
            guard job.graceMilliseconds >= 0, job.maximumLineLength > 0 else {
                throw JSONProblem("a run with a negative grace or line length")
            }
            return .run(job)
        case "stop":
            guard let host = try string("host") else { throw JSONProblem("a stop without its host") }
            return .stop(host: host)
        case let other?:
            throw JSONProblem("unknown op \"\(other.prefix(40))\"")
        case nil:
            throw JSONProblem("no \"op\"")
        }
    }
}

/// One host's run, as the root asks a gateway for it: the session options that matter there.
struct GatewayJob: Sendable, Equatable {
    var host: String
    var command: [String]
    /// The id of a file sent before (`nil`: an empty stdin).
    var stdinFile: Int?
    var graceMilliseconds = 500
    var maximumLineLength = 16 << 20
    var binaryStdout = false
    /// The host is asked for a terminal.
    var terminal = false
    /// What the host's stdin starts with (a sudo password): see ``SessionOptions/stdinPreamble``.
    var stdinPreamble: [UInt8] = []

    init(host: String, command: [String]) {
        self.host = host
        self.command = command
    }

    /// The job of a session with `options`.
    init(host: Host, command: [String], options: SessionOptions, stdinFile: Int?) {
        self.host = host.name
        self.command = command
        self.stdinFile = stdinFile
        self.graceMilliseconds = Int(options.terminationGrace / .milliseconds(1))
        self.maximumLineLength = options.maximumLineLength
        self.binaryStdout = options.binaryStdout
        self.terminal = options.terminal
        self.stdinPreamble = options.stdinPreamble
    }
}
