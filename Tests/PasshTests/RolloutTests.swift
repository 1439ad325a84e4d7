import Passh
import PasshTestSupport
import Synchronization
import Testing

/// Canaries, waves, the failure budget and retries, run with the local transport (no ssh).
@Suite struct RolloutTests {
    /// A sink that records wave starts and host starts, in order.
    final class OrderSink: OutputSink {
        let events = Mutex<[String]>([])
        func hostStarted(_ host: Host) async { events.withLock { $0.append("start \(host.name)") } }
        func output(_ chunk: OutputChunk) async {}
        func hostFinished(_ result: HostResult) async { events.withLock { $0.append("end \(result.host.name)") } }
        func waveStarted(_ number: Int, of total: Int) async {
            events.withLock { $0.append("wave \(number)/\(total)") }
        }
    }

    private func run(_ rollout: Rollout, hosts: [String], command: String, sink: OrderSink? = nil) async throws
        -> [HostResult]
    {
        var options = RunOptions()
        options.rollout = rollout
        options.fanout = 0
        return try await ParallelSSH(options: options, transport: LocalTransport()).run(
            [command], on: hosts, sink: sink)
    }

    @Test func hostCountsParse() {
        #expect(HostCount(parsing: "12") == .hosts(12))
        #expect(HostCount(parsing: "0") == .hosts(0))
        #expect(HostCount(parsing: "25%") == .percent(25))
        #expect(HostCount(parsing: "0%") == nil)
        #expect(HostCount(parsing: "101%") == nil)
        #expect(HostCount(parsing: "-1") == nil)
        #expect(HostCount(parsing: "x") == nil)
        #expect(HostCount.percent(10).of(15) == 2)  // rounded up
        #expect(HostCount.percent(100).of(7) == 7)
    }

    /// Issue 22, item 11: `--canary 1 --batch 9223372036854775807` trapped (exit 132).
    @Test func noCountOverflows() async throws {
        #expect(HostCount.percent(100).of(Int.max) == Int.max)
        #expect(HostCount.percent(50).of(Int.max) == Int.max / 2 + 1)
        #expect(HostCount.percent(1).of(Int.max) == Int.max / 100 + 1)
        #expect(HostCount.percent(1000).of(10) == 10)
        #expect(HostCount.percent(-5).of(10) == 0)
        var rollout = Rollout()
        rollout.canaries = 1
        rollout.batch = .hosts(Int.max)
        let results = try await run(rollout, hosts: ["a", "b", "c"], command: "true")
        #expect(results.map(\.outcome) == [.exited(0), .exited(0), .exited(0)])
        rollout.canaries = Int.max
        rollout.batch = .hosts(Int.max - 1)
        #expect(try await run(rollout, hosts: ["a", "b"], command: "true").map(\.outcome) == [.exited(0), .exited(0)])
    }

    @Test func aFailedCanaryStopsTheRun() async throws {
        var rollout = Rollout()
        rollout.canaries = 2
        let results = try await run(rollout, hosts: ["a", "b", "c", "d"], command: #"test "$PASSH_HOST" != b"#)
        #expect(results.map(\.outcome) == [.exited(0), .exited(1), .notStarted, .notStarted])
        #expect(results.map(\.started) == [true, true, false, false])
        #expect(results.map(\.attempts) == [1, 1, 0, 0])
    }

    @Test func canariesThatSucceedLetTheRestRunAfterThem() async throws {
        var rollout = Rollout()
        rollout.canaries = 1
        let sink = OrderSink()
        let results = try await run(rollout, hosts: ["a", "b", "c"], command: "true", sink: sink)
        #expect(results.allSatisfy { $0.isSuccess })
        let events = sink.events.withLock { $0 }
        #expect(Array(events.prefix(3)) == ["wave 1/2", "start a", "end a"])
        #expect(events[3] == "wave 2/2")
        #expect(Set(events.dropFirst(4)) == ["start b", "start c", "end b", "end c"])
    }

    @Test func wavesRunOneAfterAnother() async throws {
        var rollout = Rollout()
        rollout.batch = .percent(40)  // 2 of 5 hosts: waves of 2, 2, 1
        let sink = OrderSink()
        let results = try await run(rollout, hosts: ["a", "b", "c", "d", "e"], command: "sleep 0.05", sink: sink)
        #expect(results.allSatisfy { $0.isSuccess })
        let events = sink.events.withLock { $0 }
        #expect(events.count == 3 + 10)
        // Each wave's hosts all end before the next wave starts.
        let waves = events.split(whereSeparator: { $0.hasPrefix("wave") }).map { Set($0) }
        #expect(
            waves == [
                ["start a", "start b", "end a", "end b"], ["start c", "start d", "end c", "end d"],
                ["start e", "end e"],
            ])
        #expect(events.filter { $0.hasPrefix("wave") } == ["wave 1/3", "wave 2/3", "wave 3/3"])
    }

    @Test func theFailureBudgetStopsStartingHosts() async throws {
        var rollout = Rollout()
        rollout.batch = .hosts(2)
        rollout.maxFailures = .hosts(1)
        let results = try await run(
            rollout, hosts: ["a", "b", "c", "d", "e", "f"], command: #"case $PASSH_HOST in b|c) exit 4;; esac"#)
        // a b: one failure, within the budget; c d: the second failure spends it, d still runs.
        #expect(results.map(\.outcome) == [.exited(0), .exited(4), .exited(4), .exited(0), .notStarted, .notStarted])
    }

    @Test func aCancelledRolloutReportsCancelledNotNotStarted() async throws {
        var rollout = Rollout()
        rollout.batch = .hosts(1)
        var options = RunOptions()
        options.rollout = rollout
        options.failFast = true
        let results = try await ParallelSSH(options: options, transport: LocalTransport())
            .run(["exit 1"], on: ["a", "b"])
        #expect(results.map(\.outcome) == [.exited(1), .cancelled])
    }
}
