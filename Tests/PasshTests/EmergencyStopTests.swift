import Synchronization
import Testing

@testable import Passh

/// The emergency stop tells every session at once, never waits in `trigger()`, and knows when the
/// kills went out.
@Suite("The emergency stop")
struct EmergencyStopTests {
    @Test func triggerTellsEverySessionAndWaitsForNone() async {
        let stop = EmergencyStop()
        let told = Mutex<[Int]>([])
        let receipts = Mutex<[EmergencyStop.Registration]>([])
        await stop.whileRegistered({ registration in
            // A session's kill may look at the stop: it runs outside the stop's lock.
            _ = stop.isTriggered
            told.withLock { $0.append(1) }
            receipts.withLock { $0.append(registration) }
        }) {
            await stop.whileRegistered({ registration in
                told.withLock { $0.append(2) }
                registration.acknowledge()
            }) {
                stop.trigger()
                #expect(told.withLock { $0.sorted() } == [1, 2])
                // Session 1 has not said its kill went out: a program about to exit waits, for a while.
                let clock = ContinuousClock()
                let start = clock.now
                #expect(await !stop.killsSent(within: .milliseconds(100)))
                #expect(clock.now - start >= .milliseconds(100))
                receipts.withLock { $0.first?.acknowledge() }
                #expect(await stop.killsSent(within: .seconds(5)))
            }
        }
    }

    @Test func aSessionThatEndsCountsAsStoppedAndIsNeverKilledAfter() async {
        let stop = EmergencyStop()
        let kills = Mutex(0)
        await stop.whileRegistered({ _ in kills.withLock { $0 += 1 } }) {}
        stop.trigger()
        #expect(kills.withLock { $0 } == 0)
        #expect(await stop.killsSent(within: .seconds(1)))
        // Registered after the trigger: killed at once.
        await stop.whileRegistered({ registration in
            kills.withLock { $0 += 1 }
            registration.acknowledge()
        }) {
            #expect(kills.withLock { $0 } == 1)
        }
    }

    @Test func eachStopWaitsItsOwnFullTime() async {
        // A transport reused across runs: each run's stop has a deadline of its own.
        let clock = ContinuousClock()
        for _ in 0..<2 {
            let stop = EmergencyStop()
            await stop.whileRegistered({ _ in }) {
                stop.trigger()
                let start = clock.now
                #expect(await !stop.killsSent(within: .milliseconds(100)))
                #expect(clock.now - start >= .milliseconds(100))
            }
        }
    }
}
