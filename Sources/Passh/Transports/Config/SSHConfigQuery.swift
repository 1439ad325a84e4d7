#if canImport(Glibc)
import Glibc
#endif

/// What ssh is asked for, besides its configuration files: the host as written, the user and
/// port given on the command line, the `-o` options, and the local facts Match and `%` tokens use.
struct SSHConfigQuery: Sendable, Hashable {
    /// The host as given to ssh (an alias, before HostName).
    var host: String
    /// `-l USER` (or `user@host`).
    var user: String?
    /// `-p PORT` (or `host:port`).
    var port: Int?
    /// `-o` options, in the order given; they come before every file (first value wins).
    var options: [String] = []
    /// The local user's name (`Match localuser`, `%u`, the default remote user).
    var localUser: String
    /// This machine's host name (`%l`).
    var localHostName: String
    /// The local user's id (`%i`).
    var userID: UInt32

    /// A query for `host` with this process's local facts.
    init(host: String, user: String? = nil, port: Int? = nil, options: [String] = []) {
        self.host = host
        self.user = user
        self.port = port
        self.options = options
        self.localUser = Self.processUser
        self.localHostName = Self.processHostName
        self.userID = getuid()
    }

    /// A query with every fact given (for tests).
    init(
        host: String, user: String?, port: Int?, options: [String], localUser: String, localHostName: String,
        userID: UInt32
    ) {
        self.host = host
        self.user = user
        self.port = port
        self.options = options
        self.localUser = localUser
        self.localHostName = localHostName
        self.userID = userID
    }

    /// The user this process runs as, from the password database (as ssh's `pw_name`).
    static var processUser: String {
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return getenv("USER").map { String(cString: $0) } ?? ""
    }

    /// `gethostname`.
    static var processHostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
