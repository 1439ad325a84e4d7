#if LIBSSH
import CPasshShims
import ExtrasBase64
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What libssh's sessions see as the ssh-agent: one socket per session, answered by a thread of
/// the transport's own, which lists the real agent's keys in the order OpenSSH offers them — the
/// keys of the host's identity files first, then (unless IdentitiesOnly) the others, each group in
/// the agent's order — and passes signature requests on to the agent.
///
/// libssh 0.10 offers every key of the agent in the agent's order (`ssh_userauth_agent`), and has
/// no IdentitiesOnly: OpenSSH offers the agent's keys that match an IdentityFile first, and with
/// IdentitiesOnly no other. This filter makes libssh offer what OpenSSH offers, without a process. Listing the agent's keys is asked of the
/// agent at most once a second per agent; signatures go through one connection per agent, one at
/// a time (an agent that asks for confirmation holds the others back).
final class LibSSHAgentFilter: Sendable {
    typealias Identity = AgentProtocol.Identity

    private let loop = Loop()
    private let started = Mutex(false)

    deinit { loop.quit() }

    /// The agent's keys (at most a second old), or `nil` when the agent cannot be reached.
    func identities(agent path: String) -> [Identity]? {
        loop.identities(agent: path)
    }

    /// A socket for libssh (`ssh_set_agent_socket`, which closes it with the session) that acts as
    /// the agent at `path`, listing the keys in `preferred` (Base64 blobs) first, then — unless
    /// `only` — the others; `nil` when the agent cannot be reached.
    func socket(agent path: String, preferred: Set<String>, only: Bool) -> Int32? {
        guard loop.identities(agent: path) != nil else { return nil }
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            return nil
        }
        started.withLock { started in
            if !started {
                startLibraryThread(named: "passh-agent") { [loop] in loop.run() }
                started = true
            }
        }
        loop.add(Client(fd: fds[1], agent: path, preferred: preferred, only: only))
        return fds[0]
    }

    /// One session's socket, as the filter thread reads it.
    private struct Client: Sendable {
        let fd: Int32
        let agent: String
        let preferred: Set<String>
        let only: Bool

        /// The agent's keys as this session sees them.
        func shown(_ keys: [Identity]) -> [Identity] {
            let first = keys.filter { preferred.contains($0.base64) }
            return only ? first : first + keys.filter { !preferred.contains($0.base64) }
        }
    }

    /// The filter's thread: its inbox and its loop over the sessions' sockets.
    private final class Loop: Sendable {
        private struct Inbox {
            var new: [Client] = []
            var quit = false
        }
        private let inbox = Mutex(Inbox())
        private let cache = Mutex<[String: (at: ContinuousClock.Instant, keys: [Identity])]>([:])
        private let wakePipe = WakePipe()

        func add(_ client: Client) {
            inbox.withLock { $0.new.append(client) }
            wakePipe.wake()
        }

        func quit() {
            inbox.withLock { $0.quit = true }
            wakePipe.wake()
        }

        /// The agent's keys, asked again when the last answer is over a second old.
        func identities(agent path: String) -> [Identity]? {
            let now = ContinuousClock.now
            if let cached = cache.withLock({ $0[path] }), now - cached.at < .seconds(1) { return cached.keys }
            let fd = passh_unix_connect(path)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            guard let reply = AgentProtocol.exchange(fd, [AgentProtocol.requestIdentities]),
                let keys = AgentProtocol.identities(reply)
            else { return nil }
            cache.withLock { $0[path] = (now, keys) }
            return keys
        }

        func run() {
            var clients: [Int32: (client: Client, buffer: [UInt8])] = [:]
            var agents: [String: Int32] = [:]
            var fds: [pollfd] = []
            while true {
                let (new, quit) = inbox.withLock { inbox in
                    defer { inbox.new = [] }
                    return (inbox.new, inbox.quit)
                }
                for client in new { clients[client.fd] = (client, []) }
                if quit && clients.isEmpty { break }
                fds.removeAll(keepingCapacity: true)
                fds.append(pollfd(fd: wakePipe.descriptor, events: Int16(POLLIN), revents: 0))
                for fd in clients.keys { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
                // With quit asked, the sessions left are waited for a second at most each round.
                guard poll(&fds, nfds_t(fds.count), quit ? 1000 : -1) >= 0 || errno == EINTR else { break }
                if fds[0].revents != 0 { wakePipe.drain() }
                for entry in fds.dropFirst() where entry.revents != 0 {
                    guard var state = clients[entry.fd] else { continue }
                    var chunk = [UInt8](repeating: 0, count: 16 << 10)
                    let count = read(entry.fd, &chunk, chunk.count)
                    if count <= 0 {
                        close(entry.fd)
                        clients[entry.fd] = nil
                        continue
                    }
                    state.buffer += chunk[..<count]
                    while let message = AgentProtocol.takeMessage(&state.buffer) {
                        let reply = answer(message, for: state.client, agents: &agents)
                        if !AgentProtocol.writeAll(entry.fd, AgentProtocol.frame(reply)) { break }
                    }
                    clients[entry.fd] = state
                }
                if quit && clients.isEmpty { break }
            }
            for fd in clients.keys { close(fd) }
            for fd in agents.values { close(fd) }
        }

        deinit { wakePipe.close() }

        /// The reply to one request of a session: the filtered key list, the agent's signature,
        /// or a failure for anything else.
        private func answer(_ message: [UInt8], for client: Client, agents: inout [String: Int32]) -> [UInt8] {
            switch message.first {
            case AgentProtocol.requestIdentities:
                guard let keys = identities(agent: client.agent) else { return [AgentProtocol.failure] }
                return AgentProtocol.identitiesAnswer(client.shown(keys))
            case AgentProtocol.signRequest:
                guard let blob = AgentProtocol.signedKey(message),
                    !client.only || client.preferred.contains(Base64.encodeToString(bytes: blob))
                else { return [AgentProtocol.failure] }
                for attempt in 0..<2 {
                    if agents[client.agent] == nil {
                        let fd = passh_unix_connect(client.agent)
                        if fd < 0 { return [AgentProtocol.failure] }
                        agents[client.agent] = fd
                    }
                    if let reply = AgentProtocol.exchange(agents[client.agent]!, message) { return reply }
                    close(agents[client.agent]!)
                    agents[client.agent] = nil
                    if attempt == 1 { break }
                }
                return [AgentProtocol.failure]
            default:
                return [AgentProtocol.failure]
            }
        }
    }
}
#endif
