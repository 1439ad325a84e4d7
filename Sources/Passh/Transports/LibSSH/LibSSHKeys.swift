#if LIBSSH
import CLibSSH
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A private key loaded by libssh, shared by every session of a transport.
///
/// `@unchecked Sendable`: an `ssh_key` is a C pointer, which Swift cannot check; it is immutable
/// once imported and libssh only reads it to sign (each signature makes its own OpenSSL context),
/// so sessions on different engine threads may use it at once. It is freed when the last session
/// and the store have let it go.
final class PrivateKey: @unchecked Sendable {
    let key: OpaquePointer
    let path: String

    init(key: OpaquePointer, path: String) {
        self.key = key
        self.path = path
    }

    deinit { ssh_key_free(key) }
}

/// The key files of one transport, each read (and decrypted) at most once per transport, not once
/// per host: libssh's `ssh_userauth_publickey_auto` re-reads them for every session (80 ms of CPU
/// per host for an encrypted key).
///
/// Reading a key blocks the engine thread that asks first (file I/O; decryption). A key that needs
/// a passphrase is skipped: passh never prompts — use an agent for such keys.
final class LibSSHKeyStore: Sendable {
    private enum Entry { case loaded(PrivateKey), unusable }
    private let keys = Mutex<[String: Entry]>([:])

    /// The keys to offer for a session whose first identity file (from its config, `-o
    /// IdentityFile`, or libssh's default) is `identity`: that one, then the usual defaults
    /// (`~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`) that exist.
    func keys(firstIdentity identity: String?) -> [PrivateKey] {
        let home = getenv("HOME").map { String(cString: $0) } ?? ""
        var paths: [String] = []
        if let identity { paths.append(Self.expand(identity, home: home)) }
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] where !paths.contains("\(home)/.ssh/\(name)") {
            paths.append("\(home)/.ssh/\(name)")
        }
        return paths.compactMap(key(at:))
    }

    private func key(at path: String) -> PrivateKey? {
        // Loaded under the lock: two threads asking for one key at once load it once.
        keys.withLock { keys in
            if let entry = keys[path] {
                if case .loaded(let key) = entry { return key }
                return nil
            }
            guard access(path, R_OK) == 0 else {
                keys[path] = .unusable
                return nil
            }
            var key: OpaquePointer?
            // A refusing auth_fn: without one, OpenSSL would ask the terminal for a PEM passphrase.
            let status = ssh_pki_import_privkey_file(path, nil, refusePassphrase, nil, &key)
            guard status == SSH_OK, let key else {
                keys[path] = .unusable
                return nil
            }
            let loaded = PrivateKey(key: key, path: path)
            keys[path] = .loaded(loaded)
            return loaded
        }
    }

    /// `%d` (the ssh directory) and a leading `~`, as libssh expands them.
    static func expand(_ path: String, home: String) -> String {
        var path = path.replacingOccurrences("%d", with: "\(home)/.ssh")
        if path == "~" || path.hasPrefix("~/") { path = home + path.dropFirst() }
        return path
    }
}

/// libssh's passphrase callback: refuses, so that nothing ever prompts.
private let refusePassphrase: ssh_auth_callback = { _, _, _, _, _, _ in -1 }

extension String {
    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
#endif
