/// Running every host's command as root through `sudo` (``RunOptions/sudo``).
///
/// The command runs as `sudo -- sh -c COMMAND` on each host. With a ``password``, the host's stdin
/// starts with it, ahead of the stdin file: the password never appears in an argument list or an
/// environment, only in the stdin stream that the transport sends over the encrypted connection.
///
/// After the password come two lines that mark the end of what sudo may read: a host whose sudo
/// asks for no password (a `NOPASSWD` rule, a still-valid credential) skips the password line, and
/// one that gets a wrong password reads the marks as its next tries — so either way the command's
/// stdin starts with the stdin file, unchanged, and a wrong password fails the host (sudo's own
/// `incorrect password attempts`) instead of waiting or eating into the stdin file.
public struct Sudo: Sendable {
    /// The password sent to each host's sudo; `nil`: sudo must not ask for one (it fails with
    /// `a password is required` on a host where it would).
    public var password: SudoPassword?
    /// A line that cannot be the password: a random word, the same for all of a run's hosts.
    let mark: String

    /// Sudo with this password, or without one.
    public init(password: SudoPassword? = nil) {
        self.password = password
        var random = SystemRandomNumberGenerator()
        var mark = "passh-sudo-"
        for _ in 0..<4 { mark += String(random.next() as UInt32, radix: 16) }
        self.mark = mark
    }

    /// The remote command that runs `command` (its words joined with spaces, as for any command)
    /// through sudo as root.
    func wrap(_ command: [String]) -> [String] {
        let joined = RemoteShell.quote(command.joined(separator: " "))
        guard password != nil else {
            return ["exec sudo -n -- sh -c \(joined)"]
        }
        // sudo reads its password a byte at a time, so it takes only its own lines; the root shell
        // then reads up to and including the second mark, and the command gets the rest.
        let skip = #"while IFS= read -r l && [ "$l" != "$1" ]; do :; done; IFS= read -r l; exec sh -c "$2""#
        return ["exec sudo -S -p '' -- sh -c \(RemoteShell.quote(skip)) sh \(mark) \(joined)"]
    }

    /// What each host's stdin starts with: the password and the two marks, a line each.
    var stdinPreamble: [UInt8] {
        guard let password else { return [] }
        return password.bytes + [0x0A] + Array("\(mark)\n\(mark)\n".utf8)
    }
}

/// A sudo password. It prints as `SudoPassword(redacted)`, never as itself.
public struct SudoPassword: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let bytes: [UInt8]

    /// A password; it must fit on one line: no line break, no NUL.
    public init(_ bytes: some Sequence<UInt8>) throws(PasshError) {
        let bytes = Array(bytes)
        if bytes.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0 }) {
            throw PasshError(.invalidOption, "a sudo password must be one line, without a NUL byte")
        }
        self.bytes = bytes
    }

    public var description: String { "SudoPassword(redacted)" }
    public var debugDescription: String { description }
}
