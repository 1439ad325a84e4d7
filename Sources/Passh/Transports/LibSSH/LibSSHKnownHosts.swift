#if LIBSSH
import CLibSSH
import ExtrasBase64

#if canImport(Glibc)
import Glibc
#endif

/// The host-key policy of the libssh transport: as strict as `ssh -o BatchMode=yes` — a key that
/// known_hosts does not hold, or holds differently, or marks `@revoked`, fails the host; nothing is
/// ever added.
///
/// known_hosts is read by passh (``KnownHosts``), not by libssh 0.10, which ignores the
/// `@revoked` and `@cert-authority` markers and gives up on a whole file at its first malformed
/// line. The files are the session's, as libssh resolved them from ssh_config: `UserKnownHostsFile`
/// (its first file) and `GlobalKnownHostsFile` (defaults `~/.ssh/known_hosts` and
/// `/etc/ssh/ssh_known_hosts`). libssh gives no message for these failures, so they are worded here.
enum LibSSHKnownHosts {
    /// `nil` when the server's key is one known_hosts holds for the host `host` names.
    static func check(_ session: OpaquePointer, host: Host) -> HostFailure? {
        let name = host.hostname
        guard let key = serverKey(session) else {
            let message = libSSHError(session)
            return HostFailure(
                .other,
                "Host key verification failed: \(message.isEmpty ? "cannot read the host key of \(name)" : message)",
                commandMayHaveRun: false)
        }
        var port: UInt32 = 22
        _ = ssh_options_get_port(session, &port)
        let files = [option(session, SSH_OPTIONS_KNOWNHOSTS), option(session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS)]
            .compactMap { $0 }.map(contents(of:))
        let connected = option(session, SSH_OPTIONS_HOST) ?? name
        switch KnownHosts.verdict(key: key, host: connected, port: Int(port), files: files) {
        case .known:
            return nil
        case .changed(sameType: true):
            return HostFailure(
                .hostKeyChanged,
                "Host key verification failed: the host key of \(name) has changed (known_hosts holds another key: the host may be an impostor)"
            )
        case .changed(sameType: false):
            return HostFailure(
                .hostKeyChanged,
                "Host key verification failed: the host key of \(name) is of another type than the one known_hosts holds (the host may be an impostor)"
            )
        case .revoked:
            return HostFailure(
                .other, "Host key verification failed: the host key of \(name) is marked @revoked in known_hosts",
                commandMayHaveRun: false)
        case .certificateAuthorityOnly:
            return HostFailure(
                .other,
                "Host key verification failed: known_hosts vouches for \(name) through a @cert-authority line only, "
                    + "and the libssh transport does not check host certificates (the OpenSSH transport does)",
                commandMayHaveRun: false)
        case .unknown:
            return HostFailure(.hostKeyUnknown, "Host key verification failed: the host key of \(name) is not known")
        }
    }

    /// The server's public key as its RFC 4253 blob.
    private static func serverKey(_ session: OpaquePointer) -> [UInt8]? {
        var key: OpaquePointer?
        guard ssh_get_server_publickey(session, &key) == SSH_OK, let key else { return nil }
        defer { ssh_key_free(key) }
        var base64: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_pubkey_base64(key, &base64) == SSH_OK, let base64 else { return nil }
        defer { ssh_string_free_char(base64) }
        return try? Base64.decode(string: String(cString: base64))
    }

    private static func option(_ session: OpaquePointer, _ option: ssh_options_e) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard ssh_options_get(session, option, &value) == SSH_OK, let value else { return nil }
        defer { ssh_string_free_char(value) }
        return String(cString: value)
    }

    /// A known_hosts file's bytes; nothing for one that is missing, unreadable or not a regular
    /// file (`/dev/null`), as OpenSSH treats them. At most 64 MiB are read.
    static func contents(of path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return [] }
        let size = Swift.min(Int(info.st_size), 64 << 20)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let got = read(fd, buffer.baseAddress! + count, size - count)
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { break }
                count += got
            }
        }
    }
}
#endif
