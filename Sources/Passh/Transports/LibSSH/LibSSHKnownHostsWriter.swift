#if LIBSSH
import CLibSSH
import ExtrasBase64
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Adds host keys to known_hosts for `StrictHostKeyChecking accept-new`, as OpenSSH would — one
/// line `NAME KEYTYPE KEY` (NAME `host`, or `[host]:port` off port 22; hashed, `|1|SALT|HASH`, with
/// HashKnownHosts) — safely when many hosts are accepted at once:
///
/// - one line is one `write(2)` to a file opened `O_APPEND`, under an exclusive `flock(2)` (other
///   passh processes take it too): no line is torn, none is lost to a race, and a line written is
///   in the file even if passh is killed the next moment;
/// - under the lock, the lines added since this transport last looked are read first, and a key
///   already there for that name is not added again: a thousand aliases of one server add one line.
///
/// A symbolic link at the file is followed only when it belongs to the user; `~/.ssh` is made
/// (0700) when the file is in it and it is missing, as ssh does.
final class LibSSHKnownHostsWriter: Sendable {
    /// What this transport knows of one file: how far it has read, and the entries seen.
    private struct FileState {
        var device: UInt64 = 0
        var inode: UInt64 = 0
        var offset: Int = 0
        /// `name keytype key` of plain entries (one per host name of the line).
        var plain: Set<String> = []
        /// Hashed entries: salt, hash, `keytype key`.
        var hashed: [(salt: [UInt8], hash: [UInt8], key: String)] = []
    }

    private let files = Mutex<[String: FileState]>([:])

    /// The name OpenSSH records for `hostname` and `port`.
    static func name(hostname: String, port: Int) -> String {
        port == 22 ? hostname : "[\(hostname)]:\(port)"
    }

    /// Adds `keyType key` for `name` to `path` unless the file holds it already; the reason when it
    /// cannot.
    func add(name: String, keyType: String, key: String, to path: String, hashed: Bool, home: String) -> String? {
        files.withLock { files in
            var state = files[path] ?? FileState()
            defer { files[path] = state }
            if path.hasPrefix(home + "/.ssh/") && access(home + "/.ssh", F_OK) != 0 {
                _ = mkdir(home + "/.ssh", 0o700)
            }
            var link = stat()
            if lstat(path, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK, link.st_uid != getuid() {
                return "\(path) is a symbolic link of another user"
            }
            let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0o644)
            guard fd >= 0 else { return "\(path): \(String(cString: strerror(errno)))" }
            defer { close(fd) }
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR { return "\(path): cannot lock it: \(String(cString: strerror(errno)))" }
            }
            defer { flock(fd, LOCK_UN) }
            var info = stat()
            guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                return "\(path) is not a regular file"
            }
            if UInt64(info.st_dev) != state.device || UInt64(info.st_ino) != state.inode || info.st_size < state.offset
            {
                state = FileState(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            }
            let size = Int(info.st_size)
            var endsWithNewline = true
            if size > state.offset {
                var bytes = [UInt8](repeating: 0, count: size - state.offset)
                let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(state.offset)) }
                guard count == bytes.count else { return "\(path): cannot read it" }
                endsWithNewline = bytes.last == 0x0A
                // A last line without its newline is read again next time, whole.
                let complete = endsWithNewline ? bytes[...] : bytes[..<(bytes.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0)]
                read(complete, into: &state)
                state.offset += complete.count
            }
            if state.plain.contains("\(name) \(keyType) \(key)")
                || state.hashed.contains(where: {
                    $0.key == "\(keyType) \(key)" && Self.hmac(salt: $0.salt, name) == $0.hash
                })
            {
                return nil
            }
            var host = name
            var salt: [UInt8] = []
            if hashed {
                salt = [UInt8](repeating: 0, count: 20)
                guard RAND_bytes(&salt, 20) == 1 else { return "cannot make a salt to hash \(name)" }
                host =
                    "|1|\(Base64.encodeToString(bytes: salt))|\(Base64.encodeToString(bytes: Self.hmac(salt: salt, name)))"
            }
            let line = Array(((endsWithNewline ? "" : "\n") + "\(host) \(keyType) \(key)\n").utf8)
            let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == line.count else {
                return "\(path): \(written < 0 ? String(cString: strerror(errno)) : "short write")"
            }
            if hashed {
                state.hashed.append((salt, Self.hmac(salt: salt, name), "\(keyType) \(key)"))
            } else {
                state.plain.insert("\(name) \(keyType) \(key)")
            }
            return nil
        }
    }

    /// Takes in known_hosts lines: plain names and hashed ones (markers and comments left out).
    private func read(_ bytes: ArraySlice<UInt8>, into state: inout FileState) {
        for line in bytes.split(separator: 0x0A) {
            let fields = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map {
                String(decoding: $0, as: UTF8.self)
            }
            guard fields.count >= 3, !fields[0].hasPrefix("#"), !fields[0].hasPrefix("@") else { continue }
            let key = "\(fields[1]) \(fields[2])"
            if fields[0].hasPrefix("|1|") {
                let parts = fields[0].split(separator: "|", omittingEmptySubsequences: false)
                guard parts.count == 4, let salt = try? Base64.decode(string: String(parts[2])),
                    let hash = try? Base64.decode(string: String(parts[3]))
                else { continue }
                state.hashed.append((salt, hash, key))
            } else {
                for name in fields[0].split(separator: ",") { state.plain.insert("\(name) \(key)") }
            }
        }
    }

    /// HMAC-SHA1 of `name` keyed with `salt`: OpenSSH's hashed known_hosts name.
    static func hmac(salt: [UInt8], _ name: String) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let bytes = Array(name.utf8)
        _ = HMAC(EVP_sha1(), salt, Int32(salt.count), bytes, bytes.count, &digest, &length)
        return Array(digest.prefix(Int(length)))
    }
}
#endif
