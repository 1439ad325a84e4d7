import Synchronization

/// The hosts of a fleet that went through an OpenSSH master: their masters are closed with the
/// fleet (when the fleet started them).
final class FleetMasters: Sendable {
    private let hosts = Mutex<Set<Host>>([])

    func used(_ host: Host) { _ = hosts.withLock { $0.insert(host) } }

    /// Forgets `gone` and returns those of them that had a master.
    func remove(_ gone: Set<Host>) -> [Host] {
        hosts.withLock { hosts in
            let removed = hosts.intersection(gone)
            hosts.subtract(gone)
            return Array(removed)
        }
    }

    /// Forgets every host and returns them.
    func removeAll() -> [Host] {
        hosts.withLock { hosts in
            defer { hosts = [] }
            return Array(hosts)
        }
    }
}
