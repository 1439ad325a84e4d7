import Glibc

extension ProcessLauncher {
    /// Gives the session's scheduling group (Linux "autogroup": one per session) a lower weight,
    /// so that local receivers of a stdin file (an sshd on the same machine) are not crowded out
    /// by a hundred ssh senders; `bench/RESULTS.md` case 3 has the figures. Runs that only receive
    /// output keep full weight (case 2 is slower without it). Where the knob does not exist,
    /// nothing happens.
    static func yieldToReceivers(_ pid: pid_t) {
        guard let file = fopen("/proc/\(pid)/autogroup", "w") else { return }
        fputs("10", file)
        fclose(file)
    }
}
