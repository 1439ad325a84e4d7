#if LIBSSH
import CLibSSH
import ExtrasBase64

/// known_hosts, read as OpenSSH 9 reads it: what the files say of the key a host presented.
///
/// libssh 0.10 reads known_hosts its own way: it skips the `@revoked` and `@cert-authority` markers
/// (so a revoked key on a line of its own was accepted wherever another line also held it), and one
/// malformed or unsupported line for a host made it give up on the whole file ("not known"). This
/// reader is OpenSSH's (`hostfile.c`, `match.c`), as a pure function of the files' bytes, the host
/// and its port, and the key:
///
/// - a line is `[MARKER] HOSTS KEYTYPE BASE64 [COMMENT]`; blank lines and `#` comments are skipped,
///   and so is a line that cannot be read (an unknown marker, a bad hash, a key that does not
///   parse, a key type OpenSSH does not know): it never hides another line;
/// - HOSTS is a comma-separated list of patterns (`*`, `?`, a leading `!` to exclude), matched
///   against the lowercased host — `[host]:port` when the port is not 22 — or a hashed name,
///   `|1|SALT|HMAC-SHA1(SALT, name)` in base64;
/// - among the lines naming the host: a `@revoked` line holding the key refuses it; else a plain
///   line holding it accepts it; else any other plain line means the key changed; else, if only
///   `@cert-authority` lines name the host, the host expects a certificate;
/// - a host on a port other than 22 that no line names as `[host]:port` is also accepted when a
///   plain line holds its key under the bare host name (OpenSSH's "checking without port
///   identifier"): only an acceptance counts there, never a change or a revocation.
enum KnownHosts {
    /// What known_hosts says of a key.
    enum Verdict: Sendable, Hashable {
        /// A line naming the host holds the key.
        case known
        /// No line names the host (with a key that could be read).
        case unknown
        /// Lines naming the host hold other keys only; `sameType`: one of them is of the key's type.
        case changed(sameType: Bool)
        /// A `@revoked` line naming the host holds the key.
        case revoked
        /// Only `@cert-authority` lines name the host: it is vouched for by a certificate authority,
        /// whose signature on a host certificate is what would be checked.
        case certificateAuthorityOnly
    }

    /// The key types OpenSSH 9.2 reads in known_hosts (plain keys).
    static let keyTypes: Set<String> = [
        "ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519@openssh.com",
    ]

    /// The name known_hosts lists the host under: the lowercased host, as `[host]:port` when the
    /// port is not 22.
    static func name(host: String, port: Int) -> String {
        let host = host.lowercased()
        return port == 22 || port == 0 ? host : "[\(host)]:\(port)"
    }

    /// What `files` (user files first, then global ones; their order does not matter) say of the
    /// key whose public blob (RFC 4253 encoding) is `key`, presented by `host` on `port`.
    static func verdict(key: [UInt8], host: String, port: Int, files: [[UInt8]]) -> Verdict {
        let verdict = Self.verdict(key: key, name: Self.name(host: host, port: port), files: files)
        switch verdict {
        case .unknown, .certificateAuthorityOnly:
            if port != 22 && port != 0,
                Self.verdict(key: key, name: Self.name(host: host, port: 22), files: files) == .known
            {
                return .known
            }
            return verdict
        default:
            return verdict
        }
    }

    /// What `files` say of `key` for the name `name`, as it is written in them.
    private static func verdict(key: [UInt8], name: String, files: [[UInt8]]) -> Verdict {
        let keyType = blobType(key)
        var plain = false
        var sameType = false
        var known = false
        var authority = false
        for file in files {
            for line in lines(of: file) {
                guard let entry = entry(line), entry.matches(name) else { continue }
                switch entry.marker {
                case .revoked where entry.key == key:
                    return .revoked
                case .revoked:
                    break
                case .certificateAuthority:
                    authority = true
                case .none:
                    plain = true
                    if entry.key == key { known = true }
                    if blobType(entry.key) == keyType { sameType = true }
                }
            }
        }
        if known { return .known }
        if plain { return .changed(sameType: sameType) }
        return authority ? .certificateAuthorityOnly : .unknown
    }

    private enum Marker {
        case none, certificateAuthority, revoked
    }

    private struct Entry {
        let marker: Marker
        let hosts: ArraySlice<UInt8>
        let key: [UInt8]

        /// Whether the line names `name` (lowercased), as OpenSSH's `match_maybe_hashed`.
        func matches(_ name: String) -> Bool {
            if hosts.first == UInt8(ascii: "|") { return KnownHosts.hashMatches(hosts, name: name) }
            return KnownHosts.patternListMatches(Array(name.utf8), hosts)
        }
    }

    /// A file's lines, without their newlines.
    private static func lines(of file: [UInt8]) -> [ArraySlice<UInt8>] {
        file.split(separator: 0x0A, omittingEmptySubsequences: true)
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// The line's entry, or `nil` for a comment, a blank line or a line that cannot be read.
    private static func entry(_ line: ArraySlice<UInt8>) -> Entry? {
        var rest = line.drop(while: isBlank)
        guard let first = rest.first, first != UInt8(ascii: "#"), first != 0x0D else { return nil }
        var marker = Marker.none
        if first == UInt8(ascii: "@") {
            guard let end = rest.firstIndex(where: isBlank) else { return nil }
            switch String(decoding: rest[..<end], as: UTF8.self) {
            case "@cert-authority": marker = .certificateAuthority
            case "@revoked": marker = .revoked
            default: return nil
            }
            rest = rest[end...].drop(while: isBlank)
            if rest.first == UInt8(ascii: "@") { return nil }  // one marker at most
        }
        let hostsEnd = rest.firstIndex(where: isBlank) ?? rest.endIndex
        let hosts = rest[..<hostsEnd]
        guard !hosts.isEmpty else { return nil }
        rest = rest[hostsEnd...].drop(while: isBlank)
        guard !rest.isEmpty, rest.first != UInt8(ascii: "#") else { return nil }
        let typeEnd = rest.firstIndex(where: isBlank) ?? rest.endIndex
        let type = String(decoding: rest[..<typeEnd], as: UTF8.self)
        guard keyTypes.contains(type) else { return nil }
        rest = rest[typeEnd...].drop(while: isBlank)
        // The base64 blob ends at the next blank; like OpenSSH's decoder, other white space in it
        // (a CR before the newline) is skipped.
        let blobText = rest.prefix { !isBlank($0) }.filter { !(0x09...0x0D).contains($0) }
        // Nothing but padding after the first `=`: OpenSSH's decoder refuses `…AQ=F`, which
        // ExtrasBase64 reads as `…AQ=` (found by FuzzKnownHosts).
        let padding = blobText.firstIndex(of: UInt8(ascii: "=")) ?? blobText.endIndex
        guard !blobText.isEmpty, blobText[padding...].allSatisfy({ $0 == UInt8(ascii: "=") }),
            let key = try? Base64.decode(bytes: blobText), blobType(key) == type
        else {
            return nil
        }
        return Entry(marker: marker, hosts: hosts, key: key)
    }

    /// The key type a public-key blob names (its first string), if it has one.
    static func blobType(_ blob: [UInt8]) -> String? {
        guard blob.count >= 4 else { return nil }
        let length = blob[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard length > 0, length <= blob.count - 4 else { return nil }
        return String(decoding: blob[4..<(4 + length)], as: UTF8.self)
    }

    /// A hashed name, `|1|SALT|HASH`: OpenSSH hashes `name` with the salt (20 bytes) and compares
    /// the result, written out the same way, with the field; any other form names nothing.
    private static func hashMatches(_ field: ArraySlice<UInt8>, name: String) -> Bool {
        let magic = Array("|1|".utf8)
        guard field.starts(with: magic) else { return false }
        let body = field.dropFirst(magic.count)
        guard let bar = body.firstIndex(of: UInt8(ascii: "|")), bar > body.startIndex, bar - body.startIndex <= 1024
        else { return false }
        guard let salt = try? Base64.decode(bytes: body[..<bar]), salt.count == 20 else {
            return false
        }
        let code = hmacSHA1(key: salt, message: Array(name.utf8))
        let written = "|1|" + Base64.encodeToString(bytes: salt) + "|" + Base64.encodeToString(bytes: Array(code))
        return Array(written.utf8)[...] == field
    }

    /// HMAC-SHA1 through OpenSSL's libcrypto, which libssh already links (swift-crypto would build a
    /// second copy of BoringSSL into every build for these 20 bytes).
    private static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var code = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = HMAC(EVP_sha1(), key, Int32(key.count), message, message.count, &code, &length)
        return Array(code.prefix(Int(length)))
    }

    /// OpenSSH's `match_pattern_list(name, patterns, 1)`: some pattern matches and no `!pattern`
    /// does; patterns are lowercased before matching.
    static func patternListMatches(_ name: [UInt8], _ patterns: ArraySlice<UInt8>) -> Bool {
        var matched = false
        for pattern in patterns.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let negated = pattern.first == UInt8(ascii: "!")
            let body = Array((negated ? pattern.dropFirst() : pattern).map { lowercased($0) })
            if patternMatches(name[...], body[...]) {
                if negated { return false }
                matched = true
            }
        }
        return matched
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
    }

    /// `*` matches any run of bytes, `?` any one byte, anything else itself. Iterative, with one
    /// backtracking point (the last `*`), so no input makes it recurse or take exponential time.
    static func patternMatches(_ name: ArraySlice<UInt8>, _ pattern: ArraySlice<UInt8>) -> Bool {
        var n = name.startIndex
        var p = pattern.startIndex
        var star: (pattern: Int, name: Int)?
        while n < name.endIndex {
            // A `*` in the pattern is a wildcard even where the name holds a `*` too.
            if p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") {
                star = (p, n)
                p += 1
            } else if p < pattern.endIndex && (pattern[p] == UInt8(ascii: "?") || pattern[p] == name[n]) {
                n += 1
                p += 1
            } else if let last = star {
                p = last.pattern + 1
                n = last.name + 1
                star = (last.pattern, last.name + 1)
            } else {
                return false
            }
        }
        while p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }
}
#endif
