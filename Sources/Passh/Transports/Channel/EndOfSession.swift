/// What is known of how a session channel ended, and the one rule that says when it is over and
/// how it ended, for every transport.
///
/// Over: when the host closed the channel; when the channel cannot go on (it was refused, the
/// connection was lost, or a stopped command outlived its `KILL`); or — for a transport that cannot
/// count on seeing the close (libssh's pumps stop at the end of the output and at the exit status)
/// — when the output has ended and the exit is known. The exit status and the end of the output
/// arrive in either order (`cmd & exit 0`), so neither alone ends the session.
///
/// How it ended, in order: a session that could not go on failed (cancelled, if it was stopped); a
/// stopped command that did not exit 0 was cancelled; else its signal, its exit status, or — with
/// neither — the host closed the session without saying.
struct EndOfSession: Sendable {
    /// Whether only the host's close ends the session (``isOver``).
    let waitsForClose: Bool
    /// The host's output ended (EOF).
    var outputEnded = false
    var exitStatus: Int32?
    var exitSignal: String?
    /// The host closed the channel.
    var closed = false
    /// Why the session cannot go on.
    var failure: HostFailure?
    /// The command was stopped and did not end after its `KILL`.
    var gaveUp = false

    init(waitsForClose: Bool) {
        self.waitsForClose = waitsForClose
    }

    var exitKnown: Bool { exitStatus != nil || exitSignal != nil }

    var isOver: Bool {
        failure != nil || gaveUp || closed || (!waitsForClose && outputEnded && exitKnown)
    }

    /// The connection went away: a failure, unless the host had already said all it had to.
    mutating func connectionLost(_ failure: HostFailure) {
        if outputEnded && exitKnown {
            closed = true
        } else if self.failure == nil {
            self.failure = failure
        }
    }

    /// How the session ended (once ``isOver``); `stopped`: it was asked to stop.
    func termination(stopped: Bool) -> Termination {
        if let failure { return stopped ? .cancelled : .failed(failure) }
        if gaveUp || (stopped && exitStatus != 0) { return .cancelled }
        if let exitSignal { return .signaled(Signal(name: exitSignal)) }
        if let exitStatus { return .exited(exitStatus) }
        return .failed(HostFailure(.connectionLost, "the host closed the session without an exit status"))
    }
}
