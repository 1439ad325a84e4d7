#if LIBSSH
import CLibSSH

extension SSHHostSettings {
    /// Sets a libssh session's options to these settings, in place of libssh's own reading of
    /// the ssh configuration; `nil`, or what libssh refused.
    func apply(to session: OpaquePointer) -> HostFailure? {
        // libssh expands `%` tokens (and a leading `~`) in these: the values come expanded.
        func escaped(_ text: String) -> String { text.replacing("%", with: "%%") }
        var failed: String?
        func set(_ option: ssh_options_e, _ value: String, _ name: String) {
            if failed == nil, ssh_options_set(session, option, value) < 0 { failed = "\(name) \(value)" }
        }
        set(SSH_OPTIONS_HOST, hostname, "HostName")
        var number = Int32(port)
        if ssh_options_set(session, SSH_OPTIONS_PORT, &number) < 0 { failed = failed ?? "Port \(port)" }
        set(SSH_OPTIONS_USER, user, "User")
        if let proxyCommand { set(SSH_OPTIONS_PROXYCOMMAND, escaped(proxyCommand), "ProxyCommand") }
        set(SSH_OPTIONS_KNOWNHOSTS, escaped(knownHostsFile), "UserKnownHostsFile")
        set(SSH_OPTIONS_GLOBAL_KNOWNHOSTS, escaped(globalKnownHostsFile), "GlobalKnownHostsFile")
        for (keyword, value) in algorithms.sorted(by: { $0.key < $1.key }) {
            for option in LibSSHAlgorithms.options(for: keyword) {
                set(option, value, Reason.camelCase[keyword] ?? keyword)
            }
        }
        set(SSH_OPTIONS_COMPRESSION, compression ? "yes" : "no", "Compression")
        if let bindAddress { set(SSH_OPTIONS_BINDADDR, bindAddress, "BindAddress") }
        if case .socket(let path) = agent { set(SSH_OPTIONS_IDENTITY_AGENT, escaped(path), "IdentityAgent") }
        guard let failed else { return nil }
        let reason = libSSHError(session)
        return HostFailure(.other, "libssh cannot use \(failed)\(reason.isEmpty ? "" : ": " + reason)")
    }
}
#endif
