public import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Connection reuse with OpenSSH multiplexing: the first run to a host leaves a master connection
/// behind for ``seconds``; later runs go through its socket and skip the handshake.
public struct Multiplexing: Sendable, Hashable {
    /// Where the control sockets live: a private directory (mode 0700, owned by this user).
    public var directory: FilePath
    /// How long an idle master stays (`ControlPersist`).
    public var seconds: Int

    /// Multiplexing with sockets in `directory`.
    public init(directory: FilePath, seconds: Int = 60) {
        self.directory = directory
        self.seconds = seconds
    }

    /// The control socket of the master connection for one host, named by a hash of everything
    /// that shapes the connection (`key`: ssh's arguments before the host, and the host), so that
    /// passh finds it again without asking ssh.
    func controlPath(key: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a, 64 bits: a file name, not a secret
        for word in key {
            for byte in word.utf8 + [0] {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
        }
        let hex = String(hash, radix: 16)
        return directory.string + "/" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The ssh options that make `ssh` use (or become) the master at `controlPath`.
    func sshOptions(controlPath: String) -> [String] {
        let escaped = controlPath.replacing("%", with: "%%")  // ssh expands % tokens in ControlPath
        return ["-o", "ControlMaster=auto", "-o", "ControlPersist=\(seconds)", "-o", "ControlPath=\(escaped)"]
    }

    /// The per-user runtime directory for control sockets, created (0700) when missing:
    /// `$XDG_RUNTIME_DIR/passh` when that is set, else `/tmp/passh-UID`.
    ///
    /// - Throws: ``PasshError`` when the directory cannot be made, or exists but is not private
    ///   (not owned by this user, or open to others): a socket there could be hijacked.
    public static func privateDirectory() throws(PasshError) -> FilePath {
        let base: String
        if let runtime = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), runtime.hasPrefix("/") {
            base = runtime + "/passh"
        } else {
            base = "/tmp/passh-\(getuid())"
        }
        if mkdir(base, 0o700) != 0 && errno != EEXIST {
            throw PasshError(.unreadableFile, "Cannot create directory: \(base): \(Errno(rawValue: errno))")
        }
        var info = stat()
        guard lstat(base, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw PasshError(.unreadableFile, "Not a directory: \(base)")
        }
        guard info.st_uid == getuid(), info.st_mode & 0o077 == 0 else {
            throw PasshError(.unreadableFile, "Not private: \(base) must be owned by you with mode 0700")
        }
        return FilePath(base)
    }
}
