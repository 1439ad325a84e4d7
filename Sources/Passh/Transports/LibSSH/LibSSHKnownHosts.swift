#if LIBSSH
import CLibSSH

/// The host-key policy of the libssh transport: as strict as `ssh -o BatchMode=yes` — a key that
/// known_hosts does not hold, or holds differently, fails the host; nothing is ever added.
///
/// The session's `SSH_OPTIONS_STRICTHOSTKEYCHECK` is set after the ssh_config is read: with an
/// ssh_config `StrictHostKeyChecking no`, libssh reports even a *changed* key as known. libssh
/// gives no message for these failures (`ssh_get_error` is empty), so they are worded here.
enum LibSSHKnownHosts {
    /// `nil` when the server's key is the one known_hosts holds for `host`.
    static func check(_ session: OpaquePointer, host: Host) -> HostFailure? {
        let name = host.hostname
        switch ssh_session_is_known_server(session) {
        case SSH_KNOWN_HOSTS_OK:
            return nil
        case SSH_KNOWN_HOSTS_CHANGED:
            return HostFailure(
                .hostKeyChanged,
                "Host key verification failed: the host key of \(name) has changed (known_hosts holds another key: the host may be an impostor)"
            )
        case SSH_KNOWN_HOSTS_OTHER:
            return HostFailure(
                .hostKeyChanged,
                "Host key verification failed: the host key of \(name) is of another type than the one known_hosts holds (the host may be an impostor)"
            )
        case SSH_KNOWN_HOSTS_UNKNOWN, SSH_KNOWN_HOSTS_NOT_FOUND:
            return HostFailure(.hostKeyUnknown, "Host key verification failed: the host key of \(name) is not known")
        default:
            let message = libSSHError(session)
            return HostFailure(
                .other,
                "Host key verification failed: \(message.isEmpty ? "cannot check the host key of \(name)" : message)")
        }
    }
}
#endif
