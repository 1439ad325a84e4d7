import Passh
import PasshTestSupport
import Testing

/// The event stream stops its run when its consumer goes, even while hosts stream output.
@Suite("ParallelSSH.events with hosts streaming output", .serialized)
struct EventStreamTests {
    /// Waits up to `seconds` for the processes carrying `marker` to be gone; returns how many remain.
    func remaining(_ marker: String, within seconds: Int = 5) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !processes(matching: marker).isEmpty && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        return processes(matching: marker).count
    }

    @Test func breakingOutOfTheLoopStopsEveryHost() async throws {
        let marker = uniqueMarker("events-break")
        let hosts = try ParallelSSH.hosts((1...5).map { "h\($0)" })
        var first: String?
        for try await event in localPassh({ $0.collectOutput = false }).events(
            ["seq 1 100000000; echo \(marker)"], on: hosts)
        {
            if case .line(let line) = event {
                first = line.text
                break
            }
        }
        #expect(first == "1")
        #expect(try await remaining(marker) == 0)
    }

    @Test func cancellingTheConsumerStopsEveryHost() async throws {
        let marker = uniqueMarker("events-cancel")
        let hosts = try ParallelSSH.hosts((1...5).map { "h\($0)" })
        let passh = localPassh({ $0.collectOutput = false })
        let consumer = Task {
            var lines = 0
            for try await event in passh.events(["seq 1 100000000; echo \(marker)"], on: hosts) {
                if case .line = event { lines += 1 }
            }
            return lines
        }
        while processes(matching: marker).count < 5 { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .milliseconds(200))
        consumer.cancel()
        let lines = try await consumer.value
        #expect(lines > 0)
        #expect(try await remaining(marker) == 0)
    }
}
