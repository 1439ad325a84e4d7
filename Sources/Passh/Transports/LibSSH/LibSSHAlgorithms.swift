#if LIBSSH
import CLibSSH
import Synchronization

/// Whether libssh takes an algorithm list as ssh_config gives it (`KexAlgorithms`, `Ciphers`,
/// `MACs`, `HostKeyAlgorithms`, `PubkeyAcceptedAlgorithms`): a list naming an algorithm libssh
/// lacks is refused by `ssh_options_set`, where OpenSSH would connect. Asked of a scratch session,
/// once per list and transport.
final class LibSSHAlgorithms: Sendable {
    private let answers = Mutex<[String: Bool]>([:])

    /// The libssh options a keyword sets.
    static func options(for keyword: String) -> [ssh_options_e] {
        switch keyword {
        case "kexalgorithms": [SSH_OPTIONS_KEY_EXCHANGE]
        case "ciphers": [SSH_OPTIONS_CIPHERS_C_S, SSH_OPTIONS_CIPHERS_S_C]
        case "macs": [SSH_OPTIONS_HMAC_C_S, SSH_OPTIONS_HMAC_S_C]
        case "hostkeyalgorithms": [SSH_OPTIONS_HOSTKEYS]
        case "pubkeyacceptedalgorithms": [SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES]
        default: []
        }
    }

    func accepts(_ keyword: String, _ value: String) -> Bool {
        let key = keyword + "\u{0}" + value
        if let known = answers.withLock({ $0[key] }) { return known }
        var accepted = false
        if let session = ssh_new() {
            var quiet = Int32(SSH_LOG_NOLOG)
            ssh_options_set(session, SSH_OPTIONS_LOG_VERBOSITY, &quiet)
            accepted = Self.options(for: keyword).allSatisfy { ssh_options_set(session, $0, value) == SSH_OK }
            ssh_free(session)
        }
        answers.withLock { $0[key] = accepted }
        return accepted
    }
}
#endif
