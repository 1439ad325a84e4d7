#if LIBSSH
import HeapModule

/// An engine thread's sessions' deadlines (connect, handshake, a stop's grace), soonest first: the
/// loop notes a session's deadline after each step and steps it when the deadline passes, without
/// looking at every session each round.
///
/// A session's deadline is noted again only when it changed; an entry whose session since noted
/// another deadline (or ended) is dropped when it comes up.
struct LibSSHDeadlines {
    private struct Entry: Comparable {
        let instant: ContinuousClock.Instant
        let id: Int
        static func < (a: Entry, b: Entry) -> Bool { a.instant < b.instant }
    }

    private var heap = Heap<Entry>()
    /// The deadline last noted for each session.
    private var noted: [Int: ContinuousClock.Instant] = [:]

    /// The soonest deadline (perhaps of a session that since noted a later one: the loop then
    /// wakes early, once).
    var earliest: ContinuousClock.Instant? { heap.min?.instant }

    /// Session `id`'s deadline now (`nil`: none).
    mutating func note(_ id: Int, _ deadline: ContinuousClock.Instant?) {
        guard let deadline else {
            noted[id] = nil
            return
        }
        guard noted.updateValue(deadline, forKey: id) != deadline else { return }
        heap.insert(Entry(instant: deadline, id: id))
    }

    /// Session `id` has no deadline any more (it ended or went idle).
    mutating func forget(_ id: Int) { noted[id] = nil }

    /// Calls `passed` with each session whose deadline is `now` or earlier, and forgets it (a
    /// session still past it after its step is noted again).
    mutating func due(_ now: ContinuousClock.Instant, _ passed: (Int) -> Void) {
        while let first = heap.min, first.instant <= now {
            _ = heap.removeMin()
            guard noted[first.id] == first.instant else { continue }
            noted[first.id] = nil
            passed(first.id)
        }
    }
}
#endif
