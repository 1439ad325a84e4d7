#if LIBSSH
import CLibSSH
public import SystemPackage

/// How the libssh transport connects: the counterpart of ``OpenSSHOptions``.
///
/// Configuration comes from `~/.ssh/config` (or ``configFile``) through libssh's own parser; ``options``
/// are `-o KEY=VALUE` settings for the keys libssh understands, applied after the file so that they
/// win. Host keys are always checked against known_hosts (an ssh_config `StrictHostKeyChecking no`
/// is overridden); ``insecure`` is the only way round it.
public struct LibSSHOptions: Sendable, Hashable {
    /// Seconds to connect and receive the server's greeting (its SSH banner), as OpenSSH's
    /// ConnectTimeout; enforced by passh (libssh enforces no timeout on non-blocking sessions).
    /// 6 by default, as with OpenSSH.
    public var connectTimeout: Int = 6
    /// Seconds, after the connect timeout, for the rest of the handshake: key exchange, login,
    /// opening the session and starting the command. OpenSSH has no such limit (a server that
    /// stops answering mid-handshake holds it until the command timeout, ``RunOptions/commandTimeout``); without one, a libssh session
    /// would wait for ever. 30 by default.
    public var handshakeTimeout: Int = 30
    /// An ssh_config file to read instead of `~/.ssh/config` (and `/etc/ssh/ssh_config`).
    public var configFile: FilePath?
    /// `KEY=VALUE` (or `KEY VALUE`) settings, as ssh's `-o`; see ``supportedKeys``.
    public var options: [String] = []
    /// The login user for hosts that do not name one.
    public var defaultUser: String?
    /// Skip host-key checking.
    public var insecure: Bool = false
    /// How many sessions may be connecting, exchanging keys or logging in at once, over all the
    /// transport's threads; more wait for a slot.
    ///
    /// An sshd listens with a backlog of 128: a burst of more connections than that to one server
    /// overflows its listen queue, and the dropped SYNs are retried after 1, 3, 7, 15 s (measured:
    /// 1000 hosts of the test server all at once took 16 s, capped at 64/128/256 9.9/9.4/9.2 s).
    /// 128 keeps a burst within one server's queue while leaving many servers enough in flight.
    public var maximumHandshakes: Int = 128

    /// The defaults above.
    public init() {}

    /// The `-o` keys the libssh transport understands (lowercase); any other is refused.
    public static let supportedKeys: [String] = Setting.table.keys.sorted()

    /// The parsed ``options``, or the one-line error naming the first that libssh cannot honour.
    func settings() throws(PasshError) -> [Setting] {
        var settings: [Setting] = []
        for option in options {
            let (key, value) = Self.split(option)
            guard !key.isEmpty, !value.isEmpty else {
                throw PasshError(.invalidOption, "-o \(option): expected KEY=VALUE")
            }
            guard let kind = Setting.table[key.lowercased()] else {
                throw PasshError(
                    .invalidOption, "-o \(option): \(key) is not an option the libssh transport understands",
                    remedy: .openSSHTransport)
            }
            switch kind {
            case .yesOnly(let what)
            where value.lowercased() != "yes"
                && !(key.lowercased() == "stricthostkeychecking" && value.lowercased() == "accept-new"):
                throw PasshError(
                    .invalidOption, "-o \(option): the libssh transport \(what)",
                    remedy: key.lowercased() == "stricthostkeychecking" ? .skipHostKeyChecking : nil)
            case .connectTimeout:
                guard let seconds = Int(value), seconds > 0 else {
                    throw PasshError(.invalidOption, "-o \(option): ConnectTimeout must be a number of seconds")
                }
            case .integer:
                guard Int32(value) != nil else {
                    throw PasshError(.invalidOption, "-o \(option): \(key) must be a number")
                }
            default: break
            }
            settings.append(Setting(kind: kind, value: value))
        }
        return settings
    }

    /// `Key=Value`, `Key Value` or `Key = Value`, as ssh reads them.
    static func split(_ option: String) -> (String, String) {
        let trimmed = option.drop { $0 == " " || $0 == "\t" }
        guard let end = trimmed.firstIndex(where: { $0 == "=" || $0 == " " || $0 == "\t" }) else {
            return (String(trimmed), "")
        }
        let key = String(trimmed[..<end])
        let value = trimmed[end...].drop { $0 == "=" || $0 == " " || $0 == "\t" }
        return (key, String(value.reversed().drop { $0 == " " || $0 == "\t" }.reversed()))
    }

    /// The same connection as OpenSSH options: what ssh would be told (the configuration is read
    /// as ssh reads it).
    var openSSHEquivalent: OpenSSHOptions {
        var ssh = OpenSSHOptions()
        ssh.configFile = configFile
        ssh.options = options
        ssh.defaultUser = defaultUser
        ssh.insecure = insecure
        ssh.connectTimeout = connectTimeout
        return ssh
    }

    /// The connect timeout in force: the last `-o ConnectTimeout`, else ``connectTimeout``.
    func effectiveConnectTimeout(_ settings: [Setting]) -> Int {
        settings.last { if case .connectTimeout = $0.kind { true } else { false } }.flatMap { Int($0.value) }
            ?? connectTimeout
    }
}

/// One `-o` setting libssh understands, and how it is applied to a session.
struct Setting: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        /// A string option (`ssh_options_set` with a C string).
        case string(UInt32)
        /// A string option set in both directions (ciphers, MACs).
        case pair(UInt32, UInt32)
        /// An int option.
        case integer(UInt32)
        /// passh's own connect timeout.
        case connectTimeout
        /// Accepted only as `yes` (the transport always behaves so); the text says why otherwise.
        case yesOnly(String)
        /// Accepted and without effect (logging: libssh's stays off).
        case ignored
    }

    let kind: Kind
    let value: String

    static let table: [String: Kind] = [
        "hostname": .string(SSH_OPTIONS_HOST.rawValue),
        "port": .string(SSH_OPTIONS_PORT_STR.rawValue),
        "user": .string(SSH_OPTIONS_USER.rawValue),
        "identityfile": .string(SSH_OPTIONS_IDENTITY.rawValue),
        "identityagent": .string(SSH_OPTIONS_IDENTITY_AGENT.rawValue),
        "proxycommand": .string(SSH_OPTIONS_PROXYCOMMAND.rawValue),
        "userknownhostsfile": .string(SSH_OPTIONS_KNOWNHOSTS.rawValue),
        "globalknownhostsfile": .string(SSH_OPTIONS_GLOBAL_KNOWNHOSTS.rawValue),
        "ciphers": .pair(SSH_OPTIONS_CIPHERS_C_S.rawValue, SSH_OPTIONS_CIPHERS_S_C.rawValue),
        "macs": .pair(SSH_OPTIONS_HMAC_C_S.rawValue, SSH_OPTIONS_HMAC_S_C.rawValue),
        "kexalgorithms": .string(SSH_OPTIONS_KEY_EXCHANGE.rawValue),
        "hostkeyalgorithms": .string(SSH_OPTIONS_HOSTKEYS.rawValue),
        "pubkeyacceptedkeytypes": .string(SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES.rawValue),
        "pubkeyacceptedalgorithms": .string(SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES.rawValue),
        "compression": .string(SSH_OPTIONS_COMPRESSION.rawValue),
        "bindaddress": .string(SSH_OPTIONS_BINDADDR.rawValue),
        "rekeylimit": .ignored,
        "connecttimeout": .connectTimeout,
        "stricthostkeychecking": .yesOnly(
            "checks host keys (yes, or accept-new to add unknown keys)"),
        "batchmode": .yesOnly("never prompts (it always runs as BatchMode=yes)"),
        "loglevel": .ignored,
        // Applied through each host's settings (read with the configuration, as OpenSSH reads them).
        "identitiesonly": .ignored,
        "sendenv": .ignored,
        "setenv": .ignored,
        "hashknownhosts": .ignored,
    ]

    /// Applies the setting to `session` (after the config file: it wins). Returns libssh's status.
    func apply(to session: OpaquePointer) -> Int32 {
        switch kind {
        case .string(let option):
            return ssh_options_set(session, ssh_options_e(option), value)
        case .pair(let first, let second):
            let one = ssh_options_set(session, ssh_options_e(first), value)
            return one < 0 ? one : ssh_options_set(session, ssh_options_e(second), value)
        case .integer(let option):
            var number = Int32(value) ?? 0
            return ssh_options_set(session, ssh_options_e(option), &number)
        case .connectTimeout, .yesOnly, .ignored:
            return 0
        }
    }
}
#endif
