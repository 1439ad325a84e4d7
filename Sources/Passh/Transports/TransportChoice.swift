/// Which transport reaches a host, and why OpenSSH when it is OpenSSH: see ``AutoTransport``.
public struct TransportChoice: Sendable, Hashable, CustomStringConvertible {
    /// The transports a host can go to.
    public enum Kind: String, Sendable, Hashable {
        /// An OpenSSH `ssh` process (or a master connection).
        case openssh
        /// A libssh session inside this process.
        case libssh
    }

    /// The transport.
    public let kind: Kind
    /// For OpenSSH: what the libssh transport would not do as OpenSSH does for this host — an
    /// ssh_config keyword (`CertificateFile`, `ControlPath`, `StrictHostKeyChecking no`…), a
    /// construct passh does not evaluate (`Match exec`), a configuration error ssh will report,
    /// or the setting that asked for OpenSSH. `nil` for libssh.
    public let reason: String?

    /// `kind`, because of `reason`.
    public init(kind: Kind, reason: String?) {
        self.kind = kind
        self.reason = reason
    }

    /// A host for libssh.
    public static let libssh = TransportChoice(kind: .libssh, reason: nil)

    /// A host for OpenSSH, because of `reason`.
    public static func openssh(_ reason: String) -> TransportChoice {
        TransportChoice(kind: .openssh, reason: reason)
    }

    /// `libssh`, or `openssh (REASON)`.
    public var description: String { reason.map { "\(kind.rawValue) (\($0))" } ?? kind.rawValue }
}
