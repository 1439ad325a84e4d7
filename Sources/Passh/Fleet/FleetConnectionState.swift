extension Fleet {
    /// How a host of a ``Fleet`` is connected, as far as the fleet knows without asking the host.
    public enum ConnectionState: Sendable, Hashable {
        /// No connection yet: the next command connects.
        case notConnected
        /// A connection is open (libssh: a logged-in session; OpenSSH: a master's socket).
        case connected
        /// The connection was lost or could not be made, with why when known; the next command
        /// connects again.
        case disconnected(reason: String?)
    }
}
