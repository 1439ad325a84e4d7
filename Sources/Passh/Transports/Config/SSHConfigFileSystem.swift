#if canImport(Glibc)
import Glibc
#endif

/// What reading an ssh configuration needs from the file system: the files' bytes (and owner and
/// mode, which OpenSSH checks on `~/.ssh/config` and on included files) and Include's globs.
///
/// Injected, so that reading a configuration is a pure function of these answers (the tests give
/// files from memory).
protocol SSHConfigFileSystem: Sendable {
    /// The home directory: `~` in paths, `~/.ssh/config`.
    var home: String { get }
    /// The user's id, for the ownership check.
    var userID: UInt32 { get }
    /// A file's contents, or why there are none.
    func read(_ path: String) -> SSHConfigFileRead
    /// The paths `pattern` matches, sorted (`glob(3)` with `~` expanded); `[]` when none match,
    /// `nil` when the pattern cannot be expanded.
    func glob(_ pattern: String) -> [String]?
}

/// A configuration file as read.
enum SSHConfigFileRead: Sendable, Equatable {
    case contents([UInt8], owner: UInt32, mode: UInt32)
    case missing
    case unreadable(String)
}

/// The real file system, the user's home (`$HOME`, else the password database's) and id.
struct SystemConfigFileSystem: SSHConfigFileSystem {
    let home: String
    let userID: UInt32

    init() {
        userID = getuid()
        var home = getenv("HOME").map { String(cString: $0) } ?? ""
        if home.isEmpty, let entry = getpwuid(userID), let directory = entry.pointee.pw_dir {
            home = String(cString: directory)
        }
        self.home = home
    }

    /// Files larger than this are refused (no ssh configuration comes near).
    static let maximumSize = 16 << 20

    func read(_ path: String) -> SSHConfigFileRead {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            return errno == ENOENT ? .missing : .unreadable(String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .unreadable(String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .unreadable("not a regular file") }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return .unreadable(String(cString: strerror(errno))) }
            if count == 0 { break }
            bytes += buffer[..<count]
            if bytes.count > Self.maximumSize { return .unreadable("larger than 16 MiB") }
        }
        return .contents(bytes, owner: info.st_uid, mode: info.st_mode)
    }

    func glob(_ pattern: String) -> [String]? {
        var result = glob_t()
        defer { globfree(&result) }
        switch Glibc.glob(pattern, GLOB_TILDE, nil, &result) {
        case 0: break
        case GLOB_NOMATCH: return []
        default: return nil
        }
        return (0..<Int(result.gl_pathc)).compactMap { index in
            result.gl_pathv[index].map { String(cString: $0) }
        }
    }
}
