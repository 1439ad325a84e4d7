// The events API against a sink, one run each: `seq 1 LINES` on HOSTS hosts, every line taken.
//
//     passh-events-bench events|sink LINES HOSTS [-F CONFIG]
//
// `events` counts the lines of `withEvents`; `sink` runs with a JSON Lines sink writing to
// /dev/null (the CLI's `--json`). Without -F, the hosts run locally (LocalTransport: the library's
// cost alone); with -F, over OpenSSH with that configuration. Prints `MODE LINES_SEEN SECONDS`.
import Passh

#if canImport(Glibc)
import Glibc
#endif

var arguments = Array(CommandLine.arguments.dropFirst())
var config: String?
if let flag = arguments.firstIndex(of: "-F"), flag + 1 < arguments.count {
    config = arguments[flag + 1]
    arguments.removeSubrange(flag...(flag + 1))
}
guard arguments.count == 3, let lines = Int(arguments[1]), let hostCount = Int(arguments[2]) else {
    print("usage: passh-events-bench events|sink LINES HOSTS [-F CONFIG]")
    exit(64)
}
var options = RunOptions()
options.fanout = 0
var ssh = OpenSSHOptions()
ssh.configFile = config.map { FilePath($0) }
let passh =
    config == nil ? ParallelSSH(options: options, transport: LocalTransport()) : ParallelSSH(options: options, ssh: ssh)
let hosts = (1...hostCount).map { "h\($0)" }
let command = ["seq 1 \(lines)"]
let started = ContinuousClock.now
var seen = 0
do {
    switch arguments[0] {
    case "events":
        seen = try await passh.withEvents(command, on: hosts) { events in
            var count = 0
            for try await event in events {
                if case .line = event { count += 1 }
            }
            return count
        }
    case "sink":
        let null = try FileDescriptor.open("/dev/null", .writeOnly)
        defer { try? null.close() }
        let results = try await passh.run(
            command, on: hosts, sink: JSONLinesSink(writer: OutputWriter(stdout: null, stderr: null)))
        seen = results.filter(\.isSuccess).count * lines
    default:
        print("usage: passh-events-bench events|sink LINES HOSTS [-F CONFIG]")
        exit(64)
    }
} catch {
    print("error: \(error)")
    exit(1)
}
let elapsed = ContinuousClock.now - started
print("\(arguments[0]) \(seen) \(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)")
