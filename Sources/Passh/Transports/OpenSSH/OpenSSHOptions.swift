public import SystemPackage

/// How passh calls the OpenSSH client.
///
/// Host-key checking stays on (OpenSSH's own default) and `BatchMode=yes` makes anything that would
/// prompt fail at once instead of hanging; ``insecure`` turns checking off explicitly.
public struct OpenSSHOptions: Sendable, Hashable {
    /// The `ssh` executable: a path, or a name looked up in `PATH`.
    public var sshPath: String = "ssh"
    /// Seconds to wait for a connection (`-o ConnectTimeout=`); the original passh's 6 by default.
    public var connectTimeout: Int = 6
    /// An ssh_config file to use instead of `~/.ssh/config` (`-F`).
    public var configFile: FilePath?
    /// Options passed as `-o OPTION` each, before passh's own, so that they win (ssh keeps the
    /// first value it sees for an option).
    public var options: [String] = []
    /// The login user for hosts that do not name one (`-l`).
    public var defaultUser: String?
    /// Skip host-key checking: `StrictHostKeyChecking=no` and `UserKnownHostsFile=/dev/null`.
    public var insecure: Bool = false
    /// Reuse connections across runs (OpenSSH `ControlMaster`); `nil`: every run connects anew.
    public var multiplexing: Multiplexing?

    /// Stopping a host stops its remote command too: each host's command runs through a master
    /// connection of its own (`ssh -M -N`, closed when the session ends) spoken to in proxy mode,
    /// so that a stopped host's command is sent a signal (the `signal` request) and a command
    /// killed by a signal is reported as that signal. `false`: one plain `ssh` per host, whose
    /// remote command runs on when the host is stopped. Sessions through ``multiplexing`` masters,
    /// and libssh sessions, always stop their remote commands.
    public var stopRemoteCommands: Bool = false

    /// The former name of ``stopRemoteCommands``: the mechanism (a private master per host).
    @available(*, deprecated, renamed: "stopRemoteCommands")
    public var privateMasters: Bool {
        get { stopRemoteCommands }
        set { stopRemoteCommands = newValue }
    }

    /// The defaults above.
    public init() {}

    /// The `ssh` arguments (without the executable) that run `command` on `host`.
    ///
    /// The host goes after `--`, so even a name that slipped past validation could not be read as
    /// an option. The command's words follow untouched; ssh joins them with spaces.
    ///
    /// With `terminal`, ssh is asked for a remote terminal even without a local one (`-tt`). With
    /// `logFile`, ssh writes its own messages there (`-E`) instead of on stderr, apart from the
    /// remote command's.
    public func arguments(for host: Host, command: [String], terminal: Bool = false, logFile: String? = nil)
        -> [String]
    {
        var args = connectionArguments(for: host)
        if let multiplexing, let path = controlPath(for: host) {
            args += multiplexing.sshOptions(controlPath: path)
        }
        if terminal { args += ["-tt"] }  // after the -T above: ssh keeps the last of -T and -t
        if let logFile { args += ["-E", logFile] }
        return args + ["--", host.hostname] + command
    }

    /// Whether ``options`` set ssh's `LogLevel`: else passh sets `INFO`, the level at which ssh
    /// says why a connection was cut during the key exchange or the login (`Connection closed by
    /// ADDRESS port N`), which `ERROR` hides.
    var setsLogLevel: Bool {
        options.contains { option in
            let key = option.drop { $0 == " " || $0 == "\t" }.prefix { $0 != "=" && $0 != " " && $0 != "\t" }
            return key.lowercased() == "loglevel"
        }
    }

    /// With ``multiplexing``, the control socket of `host`'s master connection.
    public func controlPath(for host: Host) -> String? {
        multiplexing?.controlPath(key: connectionArguments(for: host) + [host.hostname])
    }

    /// The `ssh` arguments that start (or find) a master connection for `host` at `controlPath`,
    /// idle for at most `persist` seconds; ssh exits 0 once the master listens there.
    func masterArguments(for host: Host, controlPath: String, persist: Int, logFile: String? = nil) -> [String] {
        let escaped = controlPath.replacing("%", with: "%%")  // ssh expands % tokens in ControlPath
        return connectionArguments(for: host)
            + ["-o", "ControlMaster=auto", "-o", "ControlPersist=\(persist)", "-o", "ControlPath=\(escaped)"]
            + (logFile.map { ["-E", $0] } ?? []) + ["-N", "--", host.hostname]
    }

    /// Every `-o` option ssh is given, in order: ``options``, then passh's own (ssh keeps the
    /// first value of each).
    public var allOptions: [String] {
        var all = options + ["LogLevel=ERROR", "ConnectTimeout=\(connectTimeout)", "BatchMode=yes"]
        if insecure { all += ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null"] }
        return all
    }

    private func connectionArguments(for host: Host) -> [String] {
        var args: [String] = []
        if let configFile { args += ["-F", configFile.string] }
        for option in options { args += ["-o", option] }
        args += ["-T", "-o", "LogLevel=INFO", "-o", "ConnectTimeout=\(connectTimeout)", "-o", "BatchMode=yes"]
        if insecure { args += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"] }
        if let user = host.user ?? defaultUser { args += ["-l", user] }
        if let port = host.port { args += ["-p", String(port)] }
        return args
    }
}
