import Synchronization

#if LIBSSH
/// A fleet's libssh connections, per host: the kept ones, each running one command at a time.
/// A command takes an idle open connection of its host, or a new one (the first command, a lost
/// connection, or a second command running at the same time on that host).
final class FleetConnections: Sendable {
    private struct Slot {
        let connection: LibSSHKeptConnection
        var busy: Bool
    }

    private struct State {
        var slots: [Host: [Slot]] = [:]
        /// Why each host's last connection closed, when it was lost.
        var lost: [Host: String] = [:]
    }

    private let state = Mutex(State())

    /// An idle connection of `host` (taken: busy until ``put(_:of:)``), or a new one from `make`;
    /// whether it was open already.
    func take(_ host: Host, make: () -> LibSSHKeptConnection) -> (LibSSHKeptConnection, reused: Bool) {
        state.withLock { state in
            var slots = state.slots[host] ?? []
            slots.removeAll { slot in
                guard !slot.busy, case .closed(let reason) = slot.connection.current else { return false }
                if let reason { state.lost[host] = reason }
                return true
            }
            if let index = slots.firstIndex(where: { !$0.busy }) {
                slots[index].busy = true
                state.slots[host] = slots
                return (slots[index].connection, slots[index].connection.current == .open)
            }
            let connection = make()
            slots.append(Slot(connection: connection, busy: true))
            state.slots[host] = slots
            return (connection, false)
        }
    }

    /// Gives back a connection taken with ``take(_:make:)``.
    func put(_ connection: LibSSHKeptConnection, of host: Host) {
        state.withLock { state in
            guard var slots = state.slots[host], let index = slots.firstIndex(where: { $0.connection === connection })
            else { return }
            if case .closed(let reason) = connection.current {
                slots.remove(at: index)
                if let reason { state.lost[host] = reason }
            } else {
                slots[index].busy = false
                state.lost[host] = nil
            }
            state.slots[host] = slots.isEmpty ? nil : slots
        }
    }

    /// Forgets `host`'s connections; returns them, to be released.
    func remove(_ host: Host) -> [LibSSHKeptConnection] {
        state.withLock { state in
            state.lost[host] = nil
            return state.slots.removeValue(forKey: host)?.map(\.connection) ?? []
        }
    }

    /// Forgets every connection; returns them, to be released.
    func removeAll() -> [LibSSHKeptConnection] {
        state.withLock { state in
            defer { state = State() }
            return state.slots.values.flatMap { $0.map(\.connection) }
        }
    }

    /// How `host` is connected.
    func state(of host: Host) -> Fleet.ConnectionState {
        state.withLock { state in
            let connections = (state.slots[host] ?? []).map(\.connection.current)
            if connections.contains(.open) { return .connected }
            for case .closed(let reason?) in connections { return .disconnected(reason: reason) }
            if let reason = state.lost[host] { return .disconnected(reason: reason) }
            return .notConnected
        }
    }
}
#endif
