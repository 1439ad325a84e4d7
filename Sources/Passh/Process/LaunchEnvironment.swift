#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The environment and executable a transport's processes start with, worked out once.
///
/// swift-subprocess, given `.inherit` or `.name(…)`, re-reads and re-parses this process's whole
/// environment on every spawn, and looks a bare name up by trying to spawn it in each `PATH`
/// directory in turn. At 100 hosts that was ~10% of passh's CPU (perf, `passh --local` ×1000);
/// a snapshot taken once, passed as raw `KEY=VALUE` rows with an absolute executable path, costs
/// one `strdup` per variable.
struct LaunchEnvironment: Sendable {
    /// `KEY=VALUE\0` rows (swift-subprocess `strdup`s them: the NUL is theirs to find).
    let variables: [[UInt8]]
    /// The executable, resolved against `PATH`; `nil` when not found.
    let executablePath: String?
    /// The executable as given, for messages.
    let executable: String

    /// Snapshots this process's environment, without the variables named in `removing`, and
    /// resolves `executable` like `execvp` does.
    init(executable: String, removing: Set<String> = []) {
        var rows: [[UInt8]] = []
        var path: String?
        do {
            var cursor: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = environ
            while let entry = cursor.pointee {
                let row = Array(UnsafeRawBufferPointer(start: entry, count: strlen(entry) + 1))
                let name = row.firstIndex(of: UInt8(ascii: "=")).map { String(decoding: row[..<$0], as: UTF8.self) }
                if let name, removing.contains(name) {
                    cursor += 1
                    continue
                }
                if name == "PATH" { path = String(decoding: row.dropFirst(5).dropLast(), as: UTF8.self) }
                rows.append(row)
                cursor += 1
            }
        }
        self.variables = rows
        self.executable = executable
        self.executablePath = Self.resolve(executable, path: path ?? "/usr/local/bin:/usr/bin:/bin")
    }

    /// The variables as names and values, in order.
    var pairs: [(name: String, value: String)] {
        variables.compactMap { row in
            guard let equals = row.firstIndex(of: UInt8(ascii: "=")) else { return nil }
            return (
                String(decoding: row[..<equals], as: UTF8.self),
                String(decoding: row[(equals + 1)...].dropLast(), as: UTF8.self)
            )
        }
    }

    /// `name` when it contains a `/`; otherwise the first executable file called `name` in `path`.
    static func resolve(_ name: String, path: String) -> String? {
        if name.isEmpty { return nil }
        if name.contains("/") { return name }
        for directory in path.split(separator: ":", omittingEmptySubsequences: true) where directory.hasPrefix("/") {
            let candidate = directory.hasSuffix("/") ? "\(directory)\(name)" : "\(directory)/\(name)"
            var info = stat()
            if access(candidate, X_OK) == 0, stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
                return candidate
            }
        }
        return nil
    }
}
