import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The shell's history file, `$XDG_STATE_HOME/passh/history` (`~/.local/state/passh/history` when
/// that is unset or not absolute, as the XDG spec says): each line typed at a terminal appended,
/// mode 0600; its last lines are what ↑ recalls first. Never a symbolic link, nor a file or a `passh` directory of another user: then no
/// history is kept (and the shell says so once).
struct ShellHistory {
    let path: String
    private let descriptor: Int32

    /// The history file, opened for reading and appending; `nil` with why when it cannot be.
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
        let fd = Glibc.open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return (nil, "no history: cannot open \(path): \(Errno(rawValue: errno))") }
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == getuid() else {
            Glibc.close(fd)
            return (nil, "no history: \(path) is not a file of yours")
        }
        if info.st_mode & 0o077 != 0 { fchmod(fd, 0o600) }
        return (ShellHistory(path: path, descriptor: fd), nil)
    }

    /// The file's last `count` lines (read from its last MiB at most), oldest first.
    func recent(_ count: Int) -> [String] {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return [] }
        let start = max(0, Int(info.st_size) - (1 << 20))
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) - start)
        var filled = 0
        while filled < bytes.count {
            let got = bytes.withUnsafeMutableBytes {
                pread(descriptor, $0.baseAddress! + filled, $0.count - filled, off_t(start + filled))
            }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { break }
            filled += got
        }
        var lines = bytes[..<filled].split(separator: 0x0A, omittingEmptySubsequences: true)
        if start > 0, !lines.isEmpty { lines.removeFirst() }  // a line cut by where the reading began
        return lines.suffix(count).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Appends `line` (one write: lines of two shells do not interleave).
    func append(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    func close() { Glibc.close(descriptor) }
}
