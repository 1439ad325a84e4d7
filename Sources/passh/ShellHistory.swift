import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The shell's history file, `$XDG_STATE_HOME/passh/history` (`~/.local/state/passh/history` when
/// that is unset or not absolute, as the XDG spec says): each line typed at a terminal appended,
/// mode 0600. Never a symbolic link, nor a file or a `passh` directory of another user: then no
/// history is kept (and the shell says so once).
struct ShellHistory {
    let path: String
    private let descriptor: Int32

    /// The history file, opened for appending; `nil` with why when it cannot be.
    static func open() -> (ShellHistory?, String?) {
        let base: String
        if let state = environment("XDG_STATE_HOME"), state.hasPrefix("/") {
            base = state
        } else if let home = environment("HOME"), home.hasPrefix("/") {
            base = home + "/.local/state"
            mkdir(home + "/.local", 0o700)
        } else {
            return (nil, "no history: neither XDG_STATE_HOME nor HOME is set")
        }
        mkdir(base, 0o700)
        let directory = base + "/passh"
        mkdir(directory, 0o700)
        var info = stat()
        guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid() else {
            return (nil, "no history: \(directory) is not a directory of yours")
        }
        let path = directory + "/history"
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return (nil, "no history: cannot open \(path): \(Errno(rawValue: errno))") }
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == getuid() else {
            Glibc.close(fd)
            return (nil, "no history: \(path) is not a file of yours")
        }
        if info.st_mode & 0o077 != 0 { fchmod(fd, 0o600) }
        return (ShellHistory(path: path, descriptor: fd), nil)
    }

    /// Appends `line` (one write: lines of two shells do not interleave).
    func append(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    func close() { Glibc.close(descriptor) }
}
