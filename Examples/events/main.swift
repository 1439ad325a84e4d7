// Top-level code reading a run's events, as a script would: `withEvents` ends the run when its body
// returns, where a bare `for try await` loop that breaks would leave the run going (Swift never
// releases a top-level loop's iterator).
//
//     passh-events-example MARKER
//
// Runs an endless stream of lines on five local hosts, takes the first line, and prints it once
// every host has stopped.
import Passh

#if canImport(Glibc)
import Glibc
#endif

guard CommandLine.arguments.count == 2 else {
    print("usage: passh-events-example MARKER")
    exit(64)
}
let marker = CommandLine.arguments[1]
let passh = ParallelSSH(transport: LocalTransport())
do {
    let first = try await passh.withEvents(["seq 1 100000000; echo \(marker)"], on: ["h1", "h2", "h3", "h4", "h5"]) {
        events in
        for try await event in events {
            if case .line(let line) = event { return line.text }
        }
        return "none"
    }
    print("first line: \(first)")
} catch {
    print("error: \(error)")
    exit(1)
}
