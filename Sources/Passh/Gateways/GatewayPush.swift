import Subprocess
public import SystemPackage

/// A passh to copy to a gateway that has none of this release (``GatewayRoutes/push``): when the
/// gateway's passh cannot be started or answers with another version (its hello tells), the root
/// tries the one cached at `~/.cache/passh/VERSION/passh` there, and when that fails too, copies
/// ``binary`` there and starts it.
///
/// The copy is the gateway's stdin; a POSIX shell script there writes it to a new file (`mktemp`)
/// in the cache directory, checks its SHA-256 against ``sha256`` with the gateway's `sha256sum`
/// (or `shasum -a 256`), and only then renames it into place: a gateway never runs a copy cut
/// short or altered, and a run that reads the cache never sees a file half-written. The
/// directory is made private (mode 0700) and each level of its path must belong to the gateway's
/// user: a symbolic link of another user, or a directory of another user, stops the copy.
public struct GatewayPush: Sendable, Hashable {
    /// The passh to copy: a binary that runs on the gateways (a static build, for gateways
    /// unlike this machine).
    public var binary: FilePath
    /// Its SHA-256, in lowercase hexadecimal: what the gateway checks the copy it received against.
    public var sha256: String
    /// Where the copy goes on the gateway, relative to its home: `.cache/passh/VERSION`.
    public var directory: String

    /// The binary `binary`, whose SHA-256 is `sha256`, copied into `directory` (relative to the
    /// gateway's home).
    public init(
        binary: FilePath, sha256: String, directory: String = ".cache/passh/" + GatewayProtocol.passhVersion
    ) {
        self.binary = binary
        self.sha256 = sha256
        self.directory = directory
    }

    /// The binary `binary`, its SHA-256 found by this machine's `sha256sum`.
    ///
    /// - Throws: ``PasshError/Code/unreadableFile`` when the file cannot be read or summed.
    public init(
        binary: FilePath, directory: String = ".cache/passh/" + GatewayProtocol.passhVersion
    ) async throws(PasshError) {
        try ParallelSSH.checkReadableFile(binary)
        let sum: String?
        do {
            let result = try await Subprocess.run(
                .name("sha256sum"), arguments: [binary.string], input: .none, output: .string(limit: 4096),
                error: .discarded)
            sum = result.terminationStatus.isSuccess ? result.standardOutput : nil
        } catch {
            throw PasshError(.unreadableFile, "Cannot sum \(binary.string) (sha256sum): \(error)")
        }
        let hex = sum.map { String($0.prefix { !$0.isWhitespace }) } ?? ""
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
            throw PasshError(.unreadableFile, "Cannot sum \(binary.string) (sha256sum)")
        }
        self.init(binary: binary, sha256: hex.lowercased(), directory: directory)
    }

    /// The command that starts the cached passh in gateway mode.
    var cachedCommand: [String] {
        ["\"$HOME\"/" + RemoteShell.literal(directory + "/passh"), "--gateway-serve"]
    }

    /// The command that installs the binary (its stdin) in the cache: it says why on stderr and
    /// exits 1 when it cannot.
    var installCommand: [String] {
        let arguments = [directory, sha256].map(RemoteShell.literal).joined(separator: " ")
        return ["sh -c \(RemoteShell.literal(Self.installScript)) sh \(arguments)"]
    }

    /// `$1`: the directory, relative to the home; `$2`: the SHA-256 the copy must have.
    static let installScript = #"""
        fail() { echo "passh: cannot install passh here: $*" >&2; exit 1; }
        umask 077
        [ -n "${HOME:-}" ] && [ -d "$HOME" ] || fail "no home directory"
        me=$(id -u) || fail "no user id"
        p=$HOME
        set -f
        IFS=/
        for c in $1; do
          IFS=' '
          [ -n "$c" ] || continue
          case $c in .|..) fail "a directory named $c in $1" ;; esac
          p=$p/$c
          if [ -L "$p" ] && [ -z "$(find "$p" -maxdepth 0 -user "$me")" ]; then
            fail "$p is a symbolic link of another user"
          fi
          [ -d "$p" ] || mkdir -m 700 "$p" 2>/dev/null || [ -d "$p" ] || fail "cannot create $p"
          [ -O "$p" ] || fail "$p is not yours"
        done
        [ -L "$p" ] && fail "$p is a symbolic link"
        chmod 700 "$p" || fail "cannot make $p private"
        t=$(mktemp "$p/.passh.XXXXXX") || fail "cannot create a file in $p"
        trap 'rm -f "$t"' EXIT
        trap 'exit 1' HUP INT TERM PIPE
        cat >"$t" || fail "cannot write $t"
        s=$({ sha256sum "$t" 2>/dev/null || shasum -a 256 "$t"; } | cut -d' ' -f1)
        [ "$s" = "$2" ] || fail "the copy received has the SHA-256 ${s:-(none: no sha256sum here)}, not $2"
        chmod 700 "$t" && mv -f "$t" "$p/passh" || fail "cannot rename $t to $p/passh"
        trap - EXIT
        """#
}
