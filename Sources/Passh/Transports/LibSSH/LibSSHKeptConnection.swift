#if LIBSSH
import Synchronization

/// One host's libssh connection kept open between commands (a ``Fleet``'s): the engine thread that
/// holds its session and the session's number there, and whether it is open. Each command is a
/// job with this connection: a new channel on the open session, or — the first time, or after the
/// session closed — a new session.
final class LibSSHKeptConnection: Sendable {
    let thread: LibSSHEngineThread
    let id: Int

    enum State: Sendable, Equatable {
        /// Not connected yet.
        case new
        /// Logged in, between commands or running one.
        case open
        /// Closed: released, or lost (with why).
        case closed(String?)
    }

    private let state = Mutex(State.new)

    init(thread: LibSSHEngineThread, id: Int) {
        self.thread = thread
        self.id = id
    }

    var current: State { state.withLock { $0 } }

    /// Called by the engine thread: the session logged in and stays open.
    func opened() { state.withLock { $0 = .open } }

    /// Called by the engine thread: the session is closed.
    func closed(reason: String?) { state.withLock { $0 = .closed(reason) } }
}
#endif
