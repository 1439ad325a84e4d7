import CPasshShims
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Reads the ssh configuration once, then says for each host whether the native (libssh)
/// transport gives the result `ssh HOST` would — and with what settings — or why not.
///
/// The files are those ssh reads (`-F`, else `~/.ssh/config` and `/etc/ssh/ssh_config`), read
/// when the chooser is made; each host then costs a walk over their lines, in this process.
struct TransportChooser: Sendable {
    let config: SSHConfig
    /// Every `-o` ssh gets, the user's then passh's own (``OpenSSHOptions/allOptions``).
    let options: [String]
    let defaultUser: String?
    let facts: SSHHostSettings.Facts
    /// The local facts every host's query shares (read once: `getpwuid` reads the password file).
    let localUser: String
    let localHostName: String
    let userID: UInt32
    /// ``options``, split once.
    let commandLine: [(SSHConfigLine?, problem: String?)]

    /// A chooser for hosts reached as `ssh` describes.
    init(ssh: OpenSSHOptions, fileSystem: some SSHConfigFileSystem = SystemConfigFileSystem()) {
        let launch = LaunchEnvironment(executable: ssh.sshPath)
        let configFile = ssh.configFile?.string
        config = SSHConfig.load(configFile: configFile, fileSystem: fileSystem)
        options = ssh.allOptions
        commandLine = SSHConfigResolver.commandLine(ssh.allOptions)
        defaultUser = ssh.defaultUser
        let kerberos = KerberosCredentials()
        let files = FileExistence()
        localUser = SSHConfigQuery.processUser
        localHostName = SSHConfigQuery.processHostName
        userID = getuid()
        facts = SSHHostSettings.Facts(
            home: fileSystem.home, environment: launch.pairs,
            fileExists: { files.exists($0) }, kerberosCredentials: { kerberos.held },
            acceptsAlgorithms: nil, sshProgram: launch.executablePath ?? ssh.sshPath, configFile: configFile)
    }

    /// A chooser over a configuration already read (for tests).
    init(
        config: SSHConfig, options: [String], defaultUser: String?, facts: SSHHostSettings.Facts,
        localUser: String = "me", localHostName: String = "here", userID: UInt32 = 1000
    ) {
        self.config = config
        self.options = options
        self.defaultUser = defaultUser
        self.facts = facts
        self.localUser = localUser
        self.localHostName = localHostName
        self.userID = userID
        commandLine = SSHConfigResolver.commandLine(options)
    }

    /// The same, with `acceptsAlgorithms` answering whether the native transport takes a list.
    func checkingAlgorithms(with accepts: @escaping @Sendable (String, String) -> Bool) -> TransportChooser {
        var facts = self.facts
        facts.acceptsAlgorithms = accepts
        return TransportChooser(
            config: config, options: options, defaultUser: defaultUser, facts: facts, localUser: localUser,
            localHostName: localHostName, userID: userID)
    }

    /// `host`'s configuration, as ssh would read it.
    func resolve(_ host: Host) -> SSHResolvedConfig {
        SSHConfigResolver.resolve(
            config,
            SSHConfigQuery(
                host: host.hostname, user: host.user ?? defaultUser, port: host.port, options: options,
                localUser: localUser, localHostName: localHostName, userID: userID),
            options: commandLine)
    }

    /// libssh with these settings, or OpenSSH and why.
    func choose(_ host: Host) -> (TransportChoice, SSHHostSettings?) {
        switch SSHHostSettings.make(resolve(host), facts: facts) {
        case .success(let settings): (.libssh, settings)
        case .failure(let reason): (.openssh(reason.text), nil)
        }
    }

    /// The settings for a native session to `host` whatever keywords it does not apply (the
    /// libssh transport forced); `nil` when the configuration cannot be read completely.
    func nativeSettings(_ host: Host) -> SSHHostSettings? {
        try? SSHHostSettings.make(resolve(host), facts: facts, checkingKeywords: false).get()
    }
}

/// Whether paths exist, each asked of the file system once (identity certificates and known_hosts
/// files are the same for many hosts).
final class FileExistence: Sendable {
    private let answers = Mutex<[String: Bool]>([:])

    func exists(_ path: String) -> Bool {
        if let known = answers.withLock({ $0[path] }) { return known }
        let exists = access(path, F_OK) == 0
        answers.withLock { $0[path] = exists }
        return exists
    }
}

/// Whether the user holds Kerberos credentials, asked once (GSS-API, in this process).
final class KerberosCredentials: Sendable {
    private let answer = Mutex<Bool?>(nil)

    var held: Bool {
        answer.withLock { answer in
            if let answer { return answer }
            let held = passh_kerberos_credentials() == 1
            answer = held
            return held
        }
    }
}
