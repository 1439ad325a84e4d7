// A plain, non-async program using passh: `runBlocking` needs no async context and can be called
// any number of times in one process.
//
//     passh-blocking-example [--local] [-F CONFIG] HOST,HOST,... COMMAND [ARG...]
//
// It runs the command twice on the hosts, collecting each host's output, and prints it per host.
import Passh
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

var arguments = Array(CommandLine.arguments.dropFirst())
var ssh = OpenSSHOptions()
var local = false
while let first = arguments.first, first.hasPrefix("-") {
    arguments.removeFirst()
    if first == "--local" { local = true }
    if first == "-F", !arguments.isEmpty { ssh.configFile = FilePath(arguments.removeFirst()) }
}
guard arguments.count >= 2 else {
    print("usage: passh-blocking-example [--local] [-F CONFIG] HOSTS COMMAND [ARG...]")
    exit(64)
}

var options = RunOptions()
options.collectOutput = true
let passh =
    local
    ? ParallelSSH(options: options, transport: LocalTransport())
    : ParallelSSH(options: options, ssh: ssh)

do {
    let hosts = try ParallelSSH.hosts(arguments[0].split(separator: ",").map(String.init))
    for round in 1...2 {
        for result in try passh.runBlocking(Array(arguments.dropFirst()), on: hosts) {
            let output = String(decoding: result.stdout ?? [], as: UTF8.self)
            print(
                "round \(round) \(result.host): \(result.outcome.status.rawValue) \(output.split(separator: "\n").joined(separator: "|"))"
            )
        }
    }
} catch {
    print("error: \(error)")
    exit(1)
}
