import Passh
import PasshTestSupport
import Testing

/// The event stream stops its run when its consumer goes, even while hosts stream output.
@Suite("ParallelSSH.events with hosts streaming output", .timed)
struct EventStreamTests {
    /// How long the hosts' processes may take to go once the consumer has left, before the test
    /// calls them left behind. It asserts that nothing is left, not how fast: at 5 s, twice in about
    /// thirty full runs a host's shell was still there (the pool's two threads shared with a loaded
    /// suite), and a process truly left behind here (`seq` blocked on a full pipe) never ends.
    static let leftoverWindow: Duration = .seconds(20)

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
        try await expectNothingLeft(matching: marker, within: Self.leftoverWindow)
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
        try await expectNothingLeft(matching: marker, within: Self.leftoverWindow)
    }

    @Test func withEventsStopsEveryHostBeforeItReturns() async throws {
        let marker = uniqueMarker("with-events-break")
        let first = try await localPassh({ $0.collectOutput = false }).withEvents(
            ["seq 1 100000000; echo \(marker)"], on: ["h1", "h2", "h3", "h4", "h5"]
        ) { events in
            var seen: [String] = []
            for try await event in events {
                if case .line(let line) = event {
                    seen.append(line.text)
                    if seen.count == 3 { break }
                }
            }
            return seen
        }
        #expect(first.count == 3)
        #expect(try await processesLeft(matching: marker, within: .zero).isEmpty)
    }

    struct Stop: Error {}

    @Test func withEventsStopsEveryHostWhenItsBodyThrows() async throws {
        let marker = uniqueMarker("with-events-throw")
        await #expect(throws: Stop.self) {
            try await localPassh().withEvents(["seq 1 100000000; echo \(marker)"], on: ["h1", "h2"]) { events in
                for try await event in events {
                    if case .line = event { throw Stop() }
                }
            }
        }
        #expect(try await processesLeft(matching: marker, within: .zero).isEmpty)
    }

    @Test func withEventsGivesEveryEventOfARunInOrder() async throws {
        let events = try await localPassh().withEvents(["printf 'a\\nb\\nc'"], on: ["h1"]) { events in
            var all: [String] = []
            for try await event in events {
                switch event {
                case .started(let host): all.append("started \(host)")
                case .line(let line): all.append("\(line.host) \(line.text) \(line.hadNewline)")
                case .finished(let result): all.append("finished \(result.host) \(result.outcome.status.rawValue)")
                }
            }
            return all
        }
        #expect(events == ["started h1", "h1 a true", "h1 b true", "h1 c false", "finished h1 ok"])
    }

    @Test func misuseIsThrownBeforeAnyHostStarts() async throws {
        await #expect(throws: PasshError.self) {
            try await localPassh().withEvents([], on: ["h1"]) { _ in Issue.record("the body ran") }
        }
        await #expect(throws: PasshError.self) {
            try await localPassh().withEvents(["true"], on: ["bad host"]) { _ in Issue.record("the body ran") }
        }
        var iterator = localPassh().events(["true"], on: ["bad host"]).makeAsyncIterator()
        await #expect(throws: PasshError.self) { _ = try await iterator.next() }
    }

}
