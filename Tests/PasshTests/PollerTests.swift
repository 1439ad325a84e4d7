import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// Every wait on the poller ends by construction: readiness, its deadline, or the task's cancellation.
@Suite("The poller's waits")
struct PollerTests {
    /// A connected socketpair; both ends closed by `body`'s end.
    static func withPair(_ body: (Int32, Int32) async throws -> Void) async rethrows {
        var pair: [Int32] = [-1, -1]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer {
            close(pair[0])
            close(pair[1])
        }
        try await body(pair[0], pair[1])
    }

    @Test func aWaitEndsWhenTheDescriptorIsReady() async {
        let poller = Poller()
        await Self.withPair { mine, theirs in
            async let outcome = poller.wait(mine, for: .readable)
            var byte: UInt8 = 1
            _ = write(theirs, &byte, 1)
            #expect(await outcome == .ready)
            poller.forget(mine)
        }
    }

    @Test func aWaitEndsAtItsDeadline() async {
        let poller = Poller()
        await Self.withPair { mine, _ in
            let clock = ContinuousClock()
            let start = clock.now
            #expect(await poller.wait(mine, for: .readable, until: start + .milliseconds(100)) == .timedOut)
            #expect(clock.now - start >= .milliseconds(100))
            poller.forget(mine)
        }
    }

    @Test func aWaitEndsWhenItsTaskIsCancelled() async {
        let poller = Poller()
        await Self.withPair { mine, _ in
            let waiting = Task { await poller.wait(mine, for: .readable) }
            try? await Task.sleep(for: .milliseconds(50))
            waiting.cancel()
            #expect(await waiting.value == .cancelled)
            // And one cancelled before it waits ends at once.
            let late = Task { await poller.wait(mine, for: .readable) }
            late.cancel()
            #expect(await late.value == .cancelled)
            poller.forget(mine)
        }
    }

    @Test func aTeardownsWaitOutlivesTheCancellationUntilItsDeadline() async {
        let poller = Poller()
        await Self.withPair { mine, _ in
            let clock = ContinuousClock()
            let waiting = Task {
                try? await Task.sleep(for: .seconds(60))  // ends when the task is cancelled
                let start = clock.now
                let outcome = await poller.waitOut(mine, for: .readable, until: start + .milliseconds(100))
                return (outcome, clock.now - start)
            }
            waiting.cancel()
            let (outcome, waited) = await waiting.value
            #expect(outcome == .timedOut)
            #expect(waited >= .milliseconds(100))
            poller.forget(mine)
        }
    }

    @Test func aSecondWaiterIsRefusedAndTheFirstGoesOnWaiting() async {
        let poller = Poller()
        await Self.withPair { mine, theirs in
            let first = Task { await poller.wait(mine, for: .readable) }
            // Once the first wait is registered, a second one is refused (a deadline already past
            // makes an unrefused one end at once, without waiting in the first one's way).
            var second = PollOutcome.ready
            for _ in 0..<10_000 {
                second = await poller.wait(mine, for: .readable, until: .now)
                if second == .refused { break }
                await Task.yield()
            }
            #expect(second == .refused)
            var byte: UInt8 = 1
            _ = write(theirs, &byte, 1)
            #expect(await first.value == .ready)
            poller.forget(mine)
        }
    }

    @Test func aWakeEndsTheWaitOrTheNextOne() async {
        let poller = Poller()
        await Self.withPair { mine, _ in
            poller.wake(mine)
            #expect(await poller.wait(mine, for: .readable) == .ready, "woken before it waited")
            let waiting = Task { await poller.wait(mine, for: []) }
            try? await Task.sleep(for: .milliseconds(20))
            poller.wake(mine)
            #expect(await waiting.value == .ready)
            poller.forget(mine)
        }
    }
}
