/// The reader-writer lock behind ``ExclusivityTrait``: shared by `.timed` tests, held alone by an
/// `.alone` test. Waiters suspend (no thread blocks); an exclusive waiter is served before shared
/// waiters that came after it.
actor TestLock {
    static let shared = TestLock()

    /// Whether the current task holds the lock already (a suite's trait and its test's).
    @TaskLocal static var isHeld = false

    private var sharedHolders = 0
    private var exclusiveHeld = false
    private var waiters: [(exclusive: Bool, continuation: CheckedContinuation<Void, Never>)] = []

    func acquire(exclusive: Bool) async {
        if waiters.isEmpty && canTake(exclusive: exclusive) {
            take(exclusive: exclusive)
            return
        }
        await withCheckedContinuation { waiters.append((exclusive, $0)) }
    }

    func release(exclusive: Bool) {
        if exclusive { exclusiveHeld = false } else { sharedHolders -= 1 }
        // Wake waiters in order while they fit: a run of shared ones, or one exclusive one.
        while let first = waiters.first, canTake(exclusive: first.exclusive) {
            waiters.removeFirst()
            take(exclusive: first.exclusive)
            first.continuation.resume()
        }
    }

    private func canTake(exclusive: Bool) -> Bool {
        exclusive ? !exclusiveHeld && sharedHolders == 0 : !exclusiveHeld
    }

    private func take(exclusive: Bool) {
        if exclusive { exclusiveHeld = true } else { sharedHolders += 1 }
    }
}
