/// Running every host's command as root through `sudo` (``RunOptions/sudo``).
///
/// The command runs as `sudo -- sh -c COMMAND` on each host. With a ``password``, the host's stdin
/// starts with it, ahead of the stdin file: the password never appears in an argument list or an
/// environment, only in the stdin stream that the transport sends over the encrypted connection.
///
/// A wrong password costs one failed attempt per host, never more: sudo tries up to three times
/// (`passwd_tries`), and a lockout policy (pam_faillock's default `deny = 3`) then locks the
/// account on every host after one typo. So the host first checks the password with `sudo -v`,
/// fed the password alone through a pipe that then stays open and silent; when sudo asks again
/// (its prompt, or `Sorry, try again.`, comes back), it is killed (SIGKILL: a caught signal would
/// still end the second try as a failure) before a second try reaches PAM, and the host fails:
/// `passh: sudo: wrong password; stopped after one attempt`. Only a password sudo accepted goes on
/// to the command's own sudo.
///
/// That is why the password is sent twice, followed by two lines that mark the end of what sudo
/// may read: a host whose sudo asks for no password (a `NOPASSWD` rule, a still-valid credential)
/// skips the password line, and the command's stdin starts with the stdin file, unchanged.
public struct Sudo: Sendable {
    /// The password sent to each host's sudo; `nil`: sudo must not ask for one — a host where it
    /// would fails with `passh: sudo asks for a password here, and none was given` (exit 1), the
    /// command not run.
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
            // sudo's "a password is required" (its English words: LC_ALL=C) is said in passh's
            // words, so that a fleet where only some hosts need a password says which and why.
            let check =
                #"m=$(LC_ALL=C sudo -n -v 2>&1) || case $m in *"a password is required"*) "#
                + #"echo "passh: sudo asks for a password here, and none was given" >&2; exit 1;; esac; "#
            return [check + "exec sudo -n -- sh -c \(joined)"]
        }
        return ["exec sh -c \(RemoteShell.quote(Self.checkThenRun)) sh \(mark) \(joined)"]
    }

    /// What each host's stdin starts with: the password twice (the check's, the command's sudo's)
    /// and the two marks, a line each.
    var stdinPreamble: [UInt8] {
        guard let password else { return [] }
        return password.bytes + [0x0A] + password.bytes + [0x0A] + Array("\(mark)\n\(mark)\n".utf8)
    }

    /// The host's script, run by `sh` as the login user with the mark (`$1`) and the command (`$2`).
    ///
    /// 1. It reads the first password line (the shell's `read` takes one byte at a time, leaving
    ///    the rest of stdin).
    /// 2. `sudo -v` gets that line through a pipe whose writer then sleeps (holding it open, so that
    ///    a second read blocks instead of ending the try), with a prompt of its own (`MARK prompt`,
    ///    English messages). A reader of sudo's output, given the pids of sudo and of the sleeper,
    ///    passes sudo's other lines on to stderr; at sudo's second prompt (or `Sorry, try again.`
    ///    after a prompt of PAM's own) it kills sudo with SIGKILL. When sudo has ended, the sleeper
    ///    is ended too.
    /// 3. A password sudo accepted: the command runs through `sudo -S`, which reads the second
    ///    password line; the root shell then skips to the second mark, and the command gets the rest.
    static let checkThenRun = #"""
        IFS= read -r p || exit 1
        nl=$(printf '\nx'); nl=${nl%x}
        {
          {
            printf '%s\n' "$p"
            exec sh -c 'echo "$1 feeder $$" >&4; exec sleep 2147483647 4>&-' sh "$1"
          } | {
            exec 3<&0
            LC_ALL=C sudo -S -p "$1 prompt$nl" -v <&3 3<&- 4>&- 2>&1 &
            echo "$1 sudo $!"
            wait $!
            echo "$1 status $?"
          }
        } 4>&1 2>/dev/null | {
          n=0 s= f= r= k=
          while IFS= read -r l; do
            case $l in
              "$1 feeder "*) f=${l##* } ;;
              "$1 sudo "*) s=${l##* } ;;
              "$1 status "*) r=${l##* } ;;
              "$1 prompt") n=$((n + 1)); [ "$n" -lt 2 ] || { k=1; kill -KILL "$s"; } ;;
              *"Sorry, try again.") k=1; kill -KILL "$s" ;;
              *) printf '%s\n' "$l" >&2 ;;
            esac
            [ -z "$r" ] || [ -z "$f" ] || { kill "$f"; f=; }
          done
          [ -z "$k" ] || { echo "passh: sudo: wrong password; stopped after one attempt" >&2; exit 1; }
          exit "${r:-1}"
        } || exit
        exec sudo -S -p '' -- sh -c 'while IFS= read -r l && [ "$l" != "$1" ]; do :; done; IFS= read -r l; exec sh -c "$2"' sh "$1" "$2"
        """#
}

/// A sudo password. It prints as `SudoPassword(redacted)`, never as itself.
public struct SudoPassword: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let bytes: [UInt8]

    /// A password; it must fit on one line (no line break, no NUL) and not be blank (empty, or
    /// only spaces and tabs): sudo would count such a line as a failed attempt.
    public init(_ bytes: some Sequence<UInt8>) throws(PasshError) {
        let bytes = Array(bytes)
        if bytes.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0 }) {
            throw PasshError(.invalidOption, "a sudo password must be one line, without a NUL byte")
        }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
            throw PasshError(.invalidOption, "a sudo password must not be empty or blank")
        }
        self.bytes = bytes
    }

    public var description: String { "SudoPassword(redacted)" }
    public var debugDescription: String { description }
}
