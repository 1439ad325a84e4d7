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
    private enum Entry { case loaded(PrivateKey), missing, unreadable }
    private let keys = Mutex<[String: Entry]>([:])
    private let publicKeys = Mutex<[String: String?]>([:])
    /// How many key files were read (for the tests: once each per transport).
    let filesRead = Atomic<Int>(0)

    /// The keys to offer for a session: its identity files in order (`-o IdentityFile`, then the
    /// configuration's first), then the usual defaults (`~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`)
    /// — those that exist; and the files that exist but could not be read (they need a passphrase).
    func keys(identities: [String]) -> (keys: [PrivateKey], skipped: [String]) {
        let home = getenv("HOME").map { String(cString: $0) } ?? ""
        var paths: [String] = []
        for path in identities.map({ Self.expand($0, home: home) })
            + ["id_ed25519", "id_ecdsa", "id_rsa"].map({ "\(home)/.ssh/\($0)" })
        where !paths.contains(path) {
            paths.append(path)
        }
        var keys: [PrivateKey] = []
        var skipped: [String] = []
        for path in paths {
            switch key(at: path) {
            case .loaded(let key): keys.append(key)
            case .unreadable: skipped.append(path)
            case .missing: break
            }
        }
        return (keys, skipped)
    }

    /// The keys of `files` (expanded paths, in order: ``SSHHostSettings/identityFiles``) that
    /// exist — but those the agent holds (`inAgent`, Base64: the agent offered them already, as
    /// OpenSSH offers a key once) —, and those that exist but could not be read (they need a
    /// passphrase).
    func keys(files: [String], inAgent: Set<String> = []) -> (keys: [PrivateKey], skipped: [String]) {
        var keys: [PrivateKey] = []
        var skipped: [String] = []
        for path in files where inAgent.isEmpty || publicKey(of: path).map({ !inAgent.contains($0) }) ?? true {
            switch key(at: path) {
            case .loaded(let key): keys.append(key)
            case .unreadable: skipped.append(path)
            case .missing: break
            }
        }
        return (keys, skipped)
    }

    /// The public key of an identity file (Base64, as in known_hosts), from `FILE.pub` or from the
    /// private key: what the agent's keys are matched with.
    func publicKey(of path: String) -> String? {
        if let known = publicKeys.withLock({ $0[path] }) { return known }
        var found: String?
        var key: OpaquePointer?
        if ssh_pki_import_pubkey_file(path + ".pub", &key) == SSH_OK, let key {
            found = Self.base64(key)
            ssh_key_free(key)
        } else if case .loaded(let privateKey) = self.key(at: path) {
            var publicKey: OpaquePointer?
            if ssh_pki_export_privkey_to_pubkey(privateKey.key, &publicKey) == SSH_OK, let publicKey {
                found = Self.base64(publicKey)
                ssh_key_free(publicKey)
            }
        }
        publicKeys.withLock { $0[path] = .some(found) }
        return found
    }

    /// A key's public blob in Base64.
    static func base64(_ key: OpaquePointer) -> String? {
        var text: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_pubkey_base64(key, &text) == SSH_OK, let text else { return nil }
        defer { ssh_string_free_char(text) }
        return String(cString: text)
    }

    /// The agent socket a session to a host with `settings` uses — through `filter`, which lists
    /// the identity files' keys first, and under IdentitiesOnly no other — and the agent's keys
    /// (Base64); `nil` when there is no agent (IdentityAgent none, no SSH_AUTH_SOCK, an agent that
    /// does not answer).
    func agent(for settings: SSHHostSettings, filter: LibSSHAgentFilter) -> (socket: Int32, keys: Set<String>)? {
        let path: String
        switch settings.agent {
        case .none: return nil
        case .socket(let socket): path = socket
        case .environment:
            guard let socket = getenv("SSH_AUTH_SOCK").map({ String(cString: $0) }), !socket.isEmpty else {
                return nil
            }
            path = socket
        }
        let preferred = Set(settings.identityFiles.compactMap(publicKey(of:)))
        guard let keys = filter.identities(agent: path),
            let socket = filter.socket(agent: path, preferred: preferred, only: settings.identitiesOnly)
        else { return nil }
        return (socket, Set(keys.map(\.base64)))
    }

    private func key(at path: String) -> Entry {
        // Loaded under the lock: two threads asking for one key at once load it once.
        keys.withLock { keys in
            if let entry = keys[path] { return entry }
            guard access(path, R_OK) == 0 else {
                keys[path] = .missing
                return .missing
            }
            filesRead.add(1, ordering: .relaxed)
            var key: OpaquePointer?
            // A refusing auth_fn: without one, OpenSSL would ask the terminal for a PEM passphrase.
            let status = ssh_pki_import_privkey_file(path, nil, refusePassphrase, nil, &key)
            guard status == SSH_OK, let key else {
                keys[path] = .unreadable
                return .unreadable
            }
            let entry = Entry.loaded(PrivateKey(key: key, path: path))
            keys[path] = entry
            return entry
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
