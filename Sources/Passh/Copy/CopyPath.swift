/// A path to copy, split the way tar is called on it: `tar -C PARENT BASE`, so that it lands in
/// the destination under its own name (`/etc/app/conf.d` → `conf.d`).
struct CopyPath: Sendable, Hashable {
    /// The path as given.
    let path: String
    /// The directory it is in: `/etc/app`, `/`, or `.` for a bare name.
    let parent: String
    /// Its own name: `conf.d`.
    let base: String
    /// The path without trailing slashes.
    let trimmed: String

    /// Splits `path`; trailing slashes are ignored. A path without a name of its own (empty, `/`,
    /// ending in `.` or `..`) is refused.
    init(_ path: String) throws(PasshError) {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        let base: Substring
        let parent: Substring
        if let slash = trimmed.lastIndex(of: "/") {
            base = trimmed[trimmed.index(after: slash)...]
            let head = trimmed[..<slash]
            parent = head.isEmpty ? "/" : head
        } else {
            base = trimmed
            parent = "."
        }
        guard !base.isEmpty, base != ".", base != ".." else {
            throw PasshError(.invalidOption, "cannot copy \(quoted(path)): name a file or a directory by its own name")
        }
        self.path = path
        self.parent = String(parent)
        self.base = String(base)
        self.trimmed = String(trimmed)
    }

    /// The name tar is given: `./NAME` for a name beginning with `-`, which tar would take for an
    /// option.
    var member: String { base.hasPrefix("-") ? "./" + base : base }

    /// Splits `paths`, refusing an empty list and two paths with the same name (they would land on
    /// each other).
    static func split(_ paths: [String]) throws(PasshError) -> [CopyPath] {
        guard !paths.isEmpty else { throw PasshError(.invalidOption, "no paths to copy") }
        var split: [CopyPath] = []
        for path in paths {
            let item = try CopyPath(path)
            if let earlier = split.first(where: { $0.base == item.base }) {
                throw PasshError(
                    .invalidOption,
                    "\(quoted(earlier.path)) and \(quoted(item.path)) have the same name, \(quoted(item.base)): they would land on each other"
                )
            }
            split.append(item)
        }
        return split
    }

    /// `-C PARENT BASE …` for tar, quoted for the remote shell.
    static func remoteTarArguments(_ paths: [CopyPath]) -> String {
        paths.map { "-C \(RemoteShell.quote($0.parent)) \(RemoteShell.quote($0.member))" }.joined(separator: " ")
    }
}
