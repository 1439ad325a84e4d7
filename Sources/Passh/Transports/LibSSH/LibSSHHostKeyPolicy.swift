#if LIBSSH
import CLibSSH
#if canImport(Glibc)
import Glibc
#endif

/// StrictHostKeyChecking on the libssh transport, each value as OpenSSH would have it (BatchMode):
/// `yes` and `ask` — the key must be in known_hosts —, `accept-new` — an unknown key is added (see
/// ``LibSSHKnownHostsWriter``), a changed one refused —, and `no` with known_hosts `/dev/null`
/// (`--insecure`) — nothing checked. (`no` with a real known_hosts sends the host to OpenSSH.)
enum LibSSHHostKeyPolicy {
    /// `nil` when the server's key may be used; else why not.
    static func verify(_ session: OpaquePointer, job: LibSSHJob) -> HostFailure? {
        let policy = job.hostSettings?.hostKeyPolicy ?? .strict
        if job.ssh.insecure || policy == .none { return nil }
        guard let failure = LibSSHKnownHosts.check(session, host: job.host) else { return nil }
        guard policy == .acceptNew, failure.kind == .hostKeyUnknown, let settings = job.hostSettings,
            let writer = job.knownHosts
        else { return failure }
        var key: OpaquePointer?
        guard ssh_get_server_publickey(session, &key) == SSH_OK, let key else { return failure }
        defer { ssh_key_free(key) }
        guard let type = ssh_key_type_to_char(ssh_key_type(key)).map({ String(cString: $0) }),
            let blob = LibSSHKeyStore.base64(key)
        else { return failure }
        let home = getenv("HOME").map { String(cString: $0) } ?? ""
        if let problem = writer.add(
            name: LibSSHKnownHostsWriter.name(hostname: settings.hostname, port: settings.port), keyType: type,
            key: blob, to: settings.knownHostsFile, hashed: settings.hashKnownHosts, home: home)
        {
            return HostFailure(
                .hostKeyUnknown,
                "Host key verification failed: cannot add the host key of \(job.host.hostname): \(problem)")
        }
        return nil
    }
}
#endif
