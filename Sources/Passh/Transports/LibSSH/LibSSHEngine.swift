#if LIBSSH
import CLibSSH
import CPasshShims
import DequeModule
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The threads that drive the libssh transport's sessions: a small fixed pool (2), each running its
/// own `epoll` loop over its sessions' sockets, every session non-blocking.
///
/// Not libssh's `ssh_event`: after `ssh_event_add_session`, every non-blocking call on one session
/// polls every socket of the event — O(N²) per round (3.7× the system CPU, as measured). Here each
/// session's socket is armed for what `ssh_get_poll_flags` says libssh wants (POLLOUT only when
/// libssh has output queued), and only the sessions whose socket is ready, that were woken (their
/// consumer caught up, a stop), or whose deadline passed are stepped — plus every session once a
/// second, as a safety net (with that tick at 5 s, 100 and 1000 hosts, 4 M lines and 10 MB of stdin
/// ran as fast: nothing waits for it).
///
/// Hosts are dealt to the threads in turn. Each thread lets at most its share of
/// ``LibSSHOptions/maximumHandshakes`` sessions connect, exchange keys and log in at once; the
/// rest wait in order.
///
/// Some libssh calls block even on a non-blocking session, and stall every session of their thread
/// while they do: name resolution (`getaddrinfo` in `ssh_connect`), the agent's I/O (libssh waits
/// for the agent without a timeout: an agent that asks for confirmation freezes the thread),
/// reading and decrypting a key file (once per transport, see ``LibSSHKeyStore``), and a
/// ProxyCommand's fork.
///
/// The threads start with the first host and end when the transport that made them is released:
/// its release waits for them (a join), so that no thread of it is still ending — running
/// OpenSSL's thread-local destructors — when the program exits: `exit` frees OpenSSL's locks
/// (`OPENSSL_cleanup`, at exit), and a thread ending beside it crashed passh (a segmentation fault
/// after its last line, once in ~120 runs on a loaded machine). By then the threads have no session
/// left (a host's run ends once its session has), so the join waits for a wake-up, not for hosts.
final class LibSSHEngine: Sendable {
    static let threadCount = 2

    private let threads: Mutex<[(thread: LibSSHEngineThread, handle: LibraryThreadHandle)]?> = Mutex(nil)
    private let next = Atomic<Int>(0)
    private let handshakesPerThread: Int

    init(maximumHandshakes: Int) {
        handshakesPerThread = max(1, maximumHandshakes / Self.threadCount)
    }

    deinit {
        let threads = threads.withLock { $0 } ?? []
        for (thread, _) in threads { thread.quit() }
        for (_, handle) in threads { joinLibraryThread(handle) }
    }

    /// The thread that will drive the next host, and the session's number on it.
    func assign() -> (LibSSHEngineThread, Int) {
        let threads = threads.withLock { threads in
            if let threads { return threads.map(\.thread) }
            let made = (0..<Self.threadCount).map { _ in LibSSHEngineThread(handshakeLimit: handshakesPerThread) }
            threads = made.map { thread in
                (thread, startLibraryThread(named: "passh-libssh", joinable: true) { thread.run() }!)
            }
            return made
        }
        let number = next.add(1, ordering: .relaxed).oldValue
        return (threads[number % threads.count], number)
    }

    /// How many rounds the threads' loops made and how many ticks they saw, summed (for tests: an
    /// idle engine makes about one round a tick).
    var activity: (rounds: Int, ticks: Int) {
        (threads.withLock { $0 } ?? []).reduce((0, 0)) { sum, entry in
            (sum.0 + entry.thread.rounds.load(ordering: .relaxed), sum.1 + entry.thread.ticks.load(ordering: .relaxed))
        }
    }

    /// The kernel's ids of the engine's threads that have started (for tests: a thread ended is gone
    /// from `/proc/self/task`).
    var kernelThreadIDs: [Int32] {
        (threads.withLock { $0 } ?? []).map { $0.thread.kernelID.load(ordering: .acquiring) }.filter { $0 != 0 }
    }
}

/// One engine thread: its inbox (new sessions, wake-ups), shared with the hosts' `run` calls, and
/// its loop. The sessions themselves live only in the loop.
final class LibSSHEngineThread: Sendable {
    private struct Inbox {
        var new: [LibSSHJob] = []
        var attention: Set<Int> = []
        var release: [Int] = []
        var released: [@Sendable () -> Void] = []
        var quit = false
    }

    private let inbox = Mutex(Inbox())
    /// Wakes the loop from `poll`: written by ``wake()``, drained by the loop; closed once nothing
    /// can write to it (never while a late wake-up could write to a reused descriptor).
    private let wakePipe = WakePipe()
    private let handshakeLimit: Int
    /// The thread's id in the kernel once it runs (0 before).
    let kernelID = Atomic<Int32>(0)
    /// Rounds of the loop, and ticks, so far (``LibSSHEngine/activity``).
    let rounds = Atomic<Int>(0)
    let ticks = Atomic<Int>(0)
    static let tick: Duration = .seconds(1)

    init(handshakeLimit: Int) {
        self.handshakeLimit = handshakeLimit
    }

    deinit { wakePipe.close() }

    /// Adds a session to the thread.
    func submit(_ job: LibSSHJob) {
        inbox.withLock { $0.new.append(job) }
        wake()
    }

    /// Has session `id` stepped soon (its consumer caught up, or it was asked to stop).
    func attention(_ id: Int) {
        inbox.withLock { _ = $0.attention.insert(id) }
        wake()
    }

    /// Closes the kept connections `ids` (at once when idle, else when their command ends), then
    /// calls `done`.
    func release(_ ids: [Int], done: @escaping @Sendable () -> Void) {
        inbox.withLock {
            $0.release += ids
            $0.released.append(done)
        }
        wake()
    }

    /// Ends the loop once it has no sessions.
    func quit() {
        inbox.withLock { $0.quit = true }
        wake()
    }

    private func wake() { wakePipe.wake() }

    /// The loop: runs until ``quit()`` with no session left.
    ///
    /// A round steps only the sessions with something to do — their socket is ready (epoll, see
    /// ``LibSSHReadiness``), they were woken, their deadline passed, or their last step left data
    /// to read — and re-arms each after its step; every session is stepped once a second as well.
    /// So a round on 500 kept connections costs what is ready, not what is open.
    func run() {
        kernelID.store(passh_thread_id(), ordering: .releasing)
        // libssh forks a ProxyCommand (and a ProxyJump's `ssh -W`) from this thread, which blocks
        // almost every signal: the command would ignore the SIGTERM libssh sends it when the session
        // closes, and libssh would wait for it for ever. Its children start with none blocked; the
        // forks of the program's other threads are left alone.
        passh_unblock_signals_in_forks_of_this_thread()
        var readiness = LibSSHReadiness(wake: wakePipe.descriptor)
        var sessions: [Int: LibSSHSession] = [:]
        /// Kept connections between commands, by their connection's number.
        var kept: [Int: LibSSHSession] = [:]
        var waiting = Deque<LibSSHSession>()
        var deadlines = LibSSHDeadlines()
        /// Sessions whose last step stopped with data left: stepped again without waiting.
        var again: [Int] = []
        let clock = ContinuousClock()
        var nextTick = clock.now + Self.tick

        /// After a step: the session's socket re-armed for what it now wants, its deadline noted,
        /// and — when it ended or went idle — moved.
        func stepped(_ session: LibSSHSession) {
            settle(session, &sessions, &kept)
            let id = session.job.id
            switch session.phase {
            case .queued:
                break
            case .done:
                readiness.forget(id)
                deadlines.forget(id)
            case .idle:
                readiness.arm(id, socket: session.socket, for: session.idlePollEvents())
                deadlines.forget(id)
            default:
                readiness.arm(id, socket: session.socket, for: session.pollEvents())
                deadlines.note(id, session.deadline)
                if session.wantsStep { again.append(id) }
            }
        }

        while true {
            let (new, attention, release, released, quit) = inbox.withLock { inbox in
                defer {
                    inbox.new = []
                    inbox.attention = []
                    inbox.release = []
                    inbox.released = []
                }
                return (inbox.new, inbox.attention, inbox.release, inbox.released, inbox.quit)
            }
            var now = clock.now
            var due: [LibSSHSession] = []
            for job in new {
                if let session = kept.removeValue(forKey: job.id) {
                    sessions[job.id] = session
                    session.reuse(job, now: now)
                    stepped(session)
                    continue
                }
                let session = LibSSHSession(job)
                sessions[job.id] = session
                waiting.append(session)
            }
            for id in release {
                if let session = kept.removeValue(forKey: id) {
                    readiness.forget(id)
                    session.closeConnection(reason: nil)
                }
                sessions[id]?.releasing = true
            }
            for done in released { done() }
            if quit && new.isEmpty && sessions.isEmpty {
                for (id, session) in kept {
                    readiness.forget(id)
                    session.closeConnection(reason: nil)
                }
                break
            }
            for id in attention { if let session = sessions[id] { due.append(session) } }
            if !waiting.isEmpty {
                var handshaking = sessions.values.reduce(0) { $0 + ($1.isHandshaking ? 1 : 0) }
                while handshaking < handshakeLimit, let session = waiting.popFirst() {
                    session.start(now: now)
                    if session.isHandshaking { handshaking += 1 }
                    stepped(session)
                }
            }

            let immediate = !due.isEmpty || !again.isEmpty
            let earliest = min(nextTick, deadlines.earliest ?? nextTick)
            let wait = immediate ? 0 : max(0, milliseconds(earliest - now))
            var ready: [Int] = []
            rounds.add(1, ordering: .relaxed)
            if readiness.wait(timeout: Int32(clamping: wait), { ready.append($0) }) { wakePipe.drain() }
            now = clock.now
            for id in ready {
                if let session = sessions[id] {
                    due.append(session)
                } else if let session = kept[id], !session.stepIdle() {
                    kept[id] = nil
                    readiness.forget(id)
                } else if let session = kept[id] {
                    readiness.arm(id, socket: session.socket, for: session.idlePollEvents())
                }
            }
            for id in again { if let session = sessions[id] { due.append(session) } }
            again.removeAll(keepingCapacity: true)
            deadlines.due(now) { id in if let session = sessions[id] { due.append(session) } }
            let ticked = now >= nextTick
            if ticked {
                ticks.add(1, ordering: .relaxed)
                nextTick = now + Self.tick
                due.append(contentsOf: sessions.values)
            }
            if ticked || !attention.isEmpty {
                for session in waiting where session.job.bridge.stopRequest != .none { due.append(session) }
            }
            for session in due where session.phase != .done && session.phase != .idle {
                session.step(now: now)
                stepped(session)
            }
            if waiting.contains(where: { $0.phase == .done }) { waiting.removeAll { $0.phase == .done } }
        }
    }

    /// Moves a session that ended its command: a kept one that went idle to `kept`, a closed one
    /// out.
    private func settle(
        _ session: LibSSHSession, _ sessions: inout [Int: LibSSHSession], _ kept: inout [Int: LibSSHSession]
    ) {
        switch session.phase {
        case .done:
            sessions[session.job.id] = nil
        case .idle:
            sessions[session.job.id] = nil
            if session.releasing {
                session.closeConnection(reason: nil)
            } else {
                kept[session.job.id] = session
            }
        default:
            break
        }
    }

    private func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}
#endif
