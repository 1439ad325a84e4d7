import Passh
import PasshTestSupport
import Testing

/// The event stream stops its run when its consumer goes, even while hosts stream output.
@Suite("ParallelSSH.events with hosts streaming output", .timed)
struct EventStreamTests {
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
        #expect(try await processesLeft(matching: marker, within: .seconds(5)).isEmpty)
    }

    @Test func cancellingTheConsumerStopsEveryHost() async throws {
        let marker = uniqueMarker("events-cancel")
        let hosts = try ParallelSSH.hosts((1...5).map { "h\($0)" })
        let passh = localPassh({ $0.collectOutput = false })
        let streaming = Flag()
        let consumer = Task {
            var lines = 0
            for try await event in passh.events(["seq 1 100000000; echo \(marker)"], on: hosts) {
                if case .line = event {
                    lines += 1
                    if lines == 1000 { streaming.set() }
                }
            }
            return lines
        }
        // Every host runs, and the consumer takes lines while they stream.
        #expect(try await waitForProcesses(matching: marker, count: 5) >= 5)
        #expect(try await waitUntil { streaming.isSet })
        consumer.cancel()
        let lines = try await consumer.value
        #expect(lines > 0)
        #expect(try await processesLeft(matching: marker, within: .seconds(5)).isEmpty)
    }
}
