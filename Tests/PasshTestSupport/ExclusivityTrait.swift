public import Testing

/// What a test may run beside, when the tests run in parallel (`swift test`, `scripts/test`).
///
/// Most tests run beside any other: they assert outputs and statuses, not times. Two kinds do not:
///
/// - ``Trait/alone``: a test that loads the machine — CPU (a thousand ssh handshakes, four hosts
///   printing 1 GiB through a slow reader, 4 million lines), memory, or descriptors — runs with no
///   other `.alone` or `.timed` test beside it. On two cores, such a test beside a timed one would
///   starve it (and its own memory and time bounds would count the other's work). So does a test
///   that computes for a second or more without suspending (fuzzing, 100,000 hosts): it holds one
///   of the cooperative pool's two threads, and two such tests at once stall every async test in
///   the process (a 0.5 s timeout then measured 5.2 s).
/// - ``Trait/timed``: a test that asserts a time bound (teardown within 1.5 s, a timeout that fires
///   in time, a progress line after a second) runs beside other timed tests and ordinary ones, never
///   beside an `.alone` test.
///
/// Cheap tests need neither: a parser test beside a timed one costs it nothing. The lock is one per
/// test process (a reader-writer lock: `.timed` tests share it, an `.alone` test holds it alone, and
/// an `.alone` test waiting keeps new `.timed` tests from starting, so it never waits forever). A
/// test given both (say `.timed` on its suite, `.alone` on itself) takes the lock once, alone.
public struct ExclusivityTrait: TestTrait, SuiteTrait, TestScoping {
    /// How the test takes the lock.
    public enum Mode: Sendable {
        /// Beside ordinary tests and other timed tests.
        case timed
        /// Beside ordinary tests only.
        case alone
    }

    public let mode: Mode

    /// Applied to a suite, the trait reaches each of its tests (and each case of a parameterized
    /// test), which take the lock one by one.
    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        if TestLock.isHeld {
            try await function()
            return
        }
        // The strongest of the test's own and its suites' exclusivity traits, taken once here, at
        // the outermost of them.
        let exclusive = test.traits.contains { ($0 as? ExclusivityTrait)?.mode == .alone }
        await TestLock.shared.acquire(exclusive: exclusive)
        do {
            try await TestLock.$isHeld.withValue(true) { try await function() }
        } catch {
            await TestLock.shared.release(exclusive: exclusive)
            throw error
        }
        await TestLock.shared.release(exclusive: exclusive)
    }
}

extension Trait where Self == ExclusivityTrait {
    /// Runs with no other `.alone` or `.timed` test beside it: the test loads the machine.
    public static var alone: Self { ExclusivityTrait(mode: .alone) }

    /// Never runs beside an `.alone` test: the test asserts a time bound.
    public static var timed: Self { ExclusivityTrait(mode: .timed) }
}
