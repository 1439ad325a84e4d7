#if LIBSSH
/// Reaches each host with libssh where that gives the result `ssh HOST` would, and with OpenSSH
/// where it cannot: decided per host, before connecting, from the host's configuration as OpenSSH
/// reads it (`~/.ssh/config` or `-F`, `/etc/ssh/ssh_config`, `-o`, Include, Host and Match).
///
/// A host goes to OpenSSH when a keyword that applies to it is one the libssh session does not do
/// as OpenSSH does — CertificateFile, HostKeyAlias, ControlMaster/ControlPath, ForwardAgent,
/// PKCS11Provider, GSSAPI authentication with Kerberos credentials held, `StrictHostKeyChecking
/// no`, ServerAliveInterval, port forwarding… (``choice(for:)`` names it) —, when its configuration
/// uses what passh does not evaluate (`Match exec`, canonicalisation), or when ssh would refuse the
/// configuration (then ssh says why). What passh does itself on the libssh path stays there:
/// IdentitiesOnly, IdentityFile and the agent in OpenSSH's order, ProxyJump (as OpenSSH's own
/// `ssh -W` command), SendEnv and SetEnv, `StrictHostKeyChecking accept-new`.
///
/// The choice never retries: a host whose login libssh was refused is not tried again with
/// OpenSSH (a server counts every attempt). Deciding costs no process: the configuration is read
/// once, when the transport is made, and each host is a walk over its lines.
public struct AutoTransport: Transport {
    /// The transport for hosts that need OpenSSH.
    public let openSSH: OpenSSHTransport
    /// The transport for the others.
    public let libSSH: LibSSHTransport
    private let chooser: TransportChooser

    /// A transport connecting as `ssh` describes, with libssh where it gives ssh's result.
    ///
    /// - Throws: ``PasshError`` when the libssh transport cannot be made (a configuration file
    ///   that cannot be read).
    public init(ssh: OpenSSHOptions, maximumHandshakes: Int = LibSSHOptions().maximumHandshakes) throws(PasshError) {
        openSSH = OpenSSHTransport(options: ssh)
        var native = LibSSHOptions()
        native.configFile = ssh.configFile
        native.connectTimeout = ssh.connectTimeout
        native.defaultUser = ssh.defaultUser
        native.insecure = ssh.insecure
        native.maximumHandshakes = maximumHandshakes
        // `-o` options reach the libssh session through each host's settings (they are read with
        // the configuration), so that one libssh lacks sends the host to OpenSSH, not an error.
        libSSH = try LibSSHTransport(options: native)
        chooser = TransportChooser(ssh: ssh).checkingAlgorithms(with: { [algorithms = LibSSHAlgorithms()] in
            algorithms.accepts($0, $1)
        })
    }

    /// Which transport reaches `host`, and why OpenSSH when it is OpenSSH.
    public func choice(for host: Host) -> TransportChoice { chooser.choose(host).0 }

    /// Runs `command` on `host` over the transport ``choice(for:)`` names.
    public func run(
        _ command: [String], on host: Host, options: SessionOptions,
        output: @escaping @Sendable (OutputChunk) async -> Void
    ) async -> Termination {
        let (choice, settings) = chooser.choose(host)
        if choice.kind == .libssh, let settings {
            return await libSSH.run(command, on: host, options: options, settings: settings, output: output)
        }
        return await openSSH.run(command, on: host, options: options, output: output)
    }

    /// The host's settings when it goes to libssh; `nil`: it goes to OpenSSH.
    func nativeSettings(for host: Host) -> SSHHostSettings? {
        let (choice, settings) = chooser.choose(host)
        return choice.kind == .libssh ? settings : nil
    }

    /// `libssh` or `openssh`.
    public func transportName(for host: Host) -> String? { choice(for: host).kind.rawValue }

    /// OpenSSH's cost when any host goes to OpenSSH, else libssh's.
    public func descriptorsPerHost(sendingStdin: Bool) -> Int {
        openSSH.descriptorsPerHost(sendingStdin: sendingStdin)
    }

    /// libssh's cost when every one of `hosts` goes to libssh, else OpenSSH's.
    public func descriptorsPerHost(sendingStdin: Bool, on hosts: [Host]) -> Int {
        hosts.allSatisfy({ choice(for: $0).kind == .libssh })
            ? libSSH.descriptorsPerHost(sendingStdin: sendingStdin)
            : openSSH.descriptorsPerHost(sendingStdin: sendingStdin)
    }
}
#endif
