import DequeModule
import Dispatch
import Synchronization

/// A thread of its own for blocking file work — unpacking a gathered archive, writing `--outdir`
/// files — so that no task of the cooperative pool ever waits for a disk: on two cores, two slow
/// disks would otherwise stall every host's reads.
///
/// Jobs run one at a time, in the order given; ``run(_:)`` suspends until its job is done, which is
/// the backpressure from the disk to the host. The thread starts with the first job and ends when
/// the thread's owner releases it (after the jobs already given), like ``OutputWriter``'s.
final class FileThread: Sendable {
    private let core: Core

    /// A thread named `name` (as `ps -L` shows it) once it starts.
    init(name: String = "passh-files") {
        core = Core(name: name)
    }

    deinit {
        core.close()
    }

    /// Runs `job` on the thread and returns its result.
    func run<Result: Sendable>(_ job: @escaping @Sendable () -> Result) async -> Result {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result, Never>) in
            core.submit { continuation.resume(returning: job()) }
        }
    }

    /// The jobs and the thread, apart from ``FileThread`` so that the thread does not keep its
    /// owner alive.
    private final class Core: Sendable {
        private struct State {
            var jobs = Deque<@Sendable () -> Void>()
            var started = false
            var closed = false
        }

        private let name: String
        private let state = Mutex(State())
        private let wakeup = DispatchSemaphore(value: 0)

        init(name: String) {
            self.name = name
        }

        func submit(_ job: @escaping @Sendable () -> Void) {
            let start = state.withLock { state -> Bool in
                state.jobs.append(job)
                defer { state.started = true }
                return !state.started
            }
            if start { startLibraryThread(named: name) { [self] in loop() } }
            wakeup.signal()
        }

        func close() {
            let started = state.withLock { state -> Bool in
                state.closed = true
                return state.started
            }
            if started { wakeup.signal() }
        }

        private func loop() {
            while true {
                wakeup.wait()
                while true {
                    let (job, end) = state.withLock { state in (state.jobs.popFirst(), state.closed) }
                    if let job {
                        job()
                        continue
                    }
                    if end { return }
                    break
                }
            }
        }
    }
}
