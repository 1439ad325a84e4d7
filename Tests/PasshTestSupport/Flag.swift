import Synchronization

/// A flag one task sets and another reads: "the run has returned", for a test that waits for an
/// event or for the run's end, whichever comes first.
public final class Flag: Sendable {
    private let value = Mutex(false)

    public init() {}

    public func set() { value.withLock { $0 = true } }

    public var isSet: Bool { value.withLock { $0 } }
}
