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

    /// The command that has a host print `paths` as tar archives, one after another, for a
    /// gather (``TarExtractor`` reads them as one with `concatenated`); its status is the last
    /// failure's, 0 when every path was archived.
    ///
    /// It needs a POSIX shell and `tar` (GNU, busybox or bsdtar). One `tar -cf - -C PARENT BASE`
    /// per path, since `-C` is cumulative in GNU tar and bsdtar (a relative one is taken from the
    /// one before) and busybox tar honours only its last. A path that is a symbolic link is sent as
    /// what it points to, as scp does: `BASE/.` for a directory (the links inside it stay links),
    /// `-h` for anything else; a link to nothing fails the path. A file that reports a size of 0
    /// but gives a byte when read (`/proc/cpuinfo`, `/etc/mtab`) fails the path with a message:
    /// tar would send it empty. Each path is three words quoted for the remote shell: the parent
    /// (a leading `~/` is the remote home), the name and the path as given (for messages), all
    /// taken literally.
    static func remoteArchiveCommand(_ paths: [CopyPath]) -> String {
        let function =
            #"passh_tar() { f="${1%/}/$2"; "#
            + #"if [ -f "$f" ] && [ ! -s "$f" ] && [ $(dd if="$f" bs=1 count=1 2>/dev/null | wc -c) -ne 0 ]; then "#
            + #"printf 'passh: %s: %s\n' "$3" 'reports a size of 0 but is not empty (a /proc or /sys file): tar would send it empty; read it with cat' >&2; return 2; "#
            + #"elif [ -L "$f" ] && [ -d "$f" ]; then tar -cf - -C "$1" "$2/."; "#
            + #"elif [ -L "$f" ] && [ -e "$f" ]; then tar -chf - -C "$1" "$2"; "#
            + #"elif [ -L "$f" ]; then printf 'passh: %s: %s\n' "$3" 'No such file (a dangling symbolic link)' >&2; return 2; "#
            + #"else tar -cf - -C "$1" "$2"; fi; }"#
        let calls = paths.map {
            "passh_tar \(RemoteShell.quote($0.parent)) \(RemoteShell.literal($0.member)) \(RemoteShell.literal($0.path)) || s=$?"
        }
        return function + "; s=0; " + calls.joined(separator: "; ") + "; (exit $s)"
    }
}
