/// How far a session has been asked to stop: the one scale shared by whoever asks (a cancellation,
/// an emergency stop) and the ``StopLadder`` that carries it out.
enum StopLevel: Int, Comparable, Sendable {
    /// Not asked to stop.
    case none
    /// Asked to end: `TERM`, then after the grace `KILL`.
    case terminate
    /// Asked to end at once: `KILL`.
    case kill

    static func < (a: StopLevel, b: StopLevel) -> Bool { a.rawValue < b.rawValue }
}
