#if canImport(Glibc)
import Glibc
#endif

/// A Unix-domain socket that takes connections and never says a word: a master connection that is
/// wedged or stopped, or a stale control socket a live process still holds. Its clients' connections
/// wait in its backlog, never accepted, never answered.
public struct SilentUnixListener: Sendable {
    private let fd: Int32
    /// Where it listens.
    public let path: String

    /// Listens at `path` (which must not exist).
    public init(path: String) {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes + [0])
        }
        let fd = self.fd
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        _ = listen(fd, 16)
    }

    /// Waits, at most `within`, until a client has connected; whether one did. It never blocks a
    /// thread of the tests' pool (the run that connects may need it).
    public func waitForClient(within: Duration) async throws -> Bool {
        let fd = self.fd
        return try await waitUntil(within: within) {
            var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            return poll(&waiting, 1, 0) == 1
        }
    }

    /// Stops listening and removes the socket.
    public func close() {
        _ = Glibc.close(fd)
        unlink(path)
    }
}
