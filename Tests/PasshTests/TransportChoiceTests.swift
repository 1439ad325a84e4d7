import Synchronization
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// What the auto transport decides for a host, from its configuration: the reasons a host goes
/// to OpenSSH, and the settings a libssh session gets otherwise.
@Suite("auto: libssh or OpenSSH, and why")
struct TransportChoiceTests {
    static let passhOptions = ["LogLevel=ERROR", "ConnectTimeout=6", "BatchMode=yes"]

    func facts(
        kerberos: Bool = false, existing: Set<String> = [], environment: [(String, String)] = []
    ) -> SSHHostSettings.Facts {
        SSHHostSettings.Facts(
            home: "/home/u", environment: environment.map { (name: $0.0, value: $0.1) },
            fileExists: { existing.contains($0) }, kerberosCredentials: { kerberos }, acceptsAlgorithms: nil,
            sshProgram: "/usr/bin/ssh", configFile: "/cfg")
    }

    func choose(
        _ text: String, host: String = "web1", options: [String] = [], facts: SSHHostSettings.Facts? = nil
    ) -> Result<SSHHostSettings, SSHHostSettings.Reason> {
        let resolved = SSHConfigResolver.resolve(
            config(text),
            SSHConfigQuery(
                host: host, user: nil, port: nil, options: options + Self.passhOptions, localUser: "me",
                localHostName: "here.example.com", userID: 1000))
        return SSHHostSettings.make(resolved, facts: facts ?? self.facts())
    }

    func reason(_ text: String, host: String = "web1", options: [String] = [], facts: SSHHostSettings.Facts? = nil)
        -> String?
    {
        if case .failure(let reason) = choose(text, host: host, options: options, facts: facts) { return reason.text }
        return nil
    }

    @Test(arguments: [
        ("CertificateFile ~/.ssh/id-cert.pub", "CertificateFile"),
        ("PKCS11Provider /usr/lib/opensc-pkcs11.so", "PKCS11Provider"),
        ("SecurityKeyProvider /usr/lib/sk.so", "SecurityKeyProvider"),
        ("HostKeyAlias web", "HostKeyAlias"),
        ("ControlMaster auto", "ControlMaster"),
        ("ControlPath ~/.ssh/cm-%C", "ControlPath"),
        ("ForwardAgent yes", "ForwardAgent"),
        ("ForwardX11 yes", "ForwardX11"),
        ("PubkeyAuthentication no", "PubkeyAuthentication no"),
        (
            "PreferredAuthentications keyboard-interactive,password",
            "PreferredAuthentications keyboard-interactive,password"
        ),
        ("HostbasedAuthentication yes", "HostbasedAuthentication"),
        ("CheckHostIP yes", "CheckHostIP"),
        ("AddressFamily inet", "AddressFamily inet"),
        ("ConnectionAttempts 3", "ConnectionAttempts"),
        ("ServerAliveInterval 30", "ServerAliveInterval"),
        ("LocalForward 8080 localhost:80", "LocalForward"),
        ("RemoteCommand tmux", "RemoteCommand"),
        ("ProxyUseFdpass yes", "ProxyUseFdpass"),
        ("VerifyHostKeyDNS yes", "VerifyHostKeyDNS"),
        ("RevokedHostKeys /etc/ssh/revoked", "RevokedHostKeys"),
        ("KnownHostsCommand /bin/true", "KnownHostsCommand"),
        ("AddKeysToAgent yes", "AddKeysToAgent"),
        ("StdinNull yes", "StdinNull"),
        ("StrictHostKeyChecking no", "StrictHostKeyChecking no"),
        ("CanonicalizeHostname yes", "CanonicalizeHostname"),
        ("ProxyCommand nc %h %p %C", "ProxyCommand nc %h %p %C"),
        ("IdentityFile ~/.ssh/%C", "IdentityFile ~/.ssh/%C"),
        ("Tunnel yes", "Tunnel"),
    ])
    func aKeywordLibSSHDoesNotHonourSendsTheHostToOpenSSH(line: String, expected: String) {
        #expect(reason("Host web*\n  \(line)\n") == expected)
        // Only for the hosts it applies to.
        #expect(reason("Host db*\n  \(line)\n") == nil)
    }

    /// A reason quotes the file's bytes on one line, its control characters escaped (found by
    /// FuzzSSHConfig: a ProxyJump value with carriage returns came out as they were).
    @Test func aReasonIsOneLineWhateverTheFileHolds() {
        #expect(reason("Host *\n  ProxyJump bastio\r\r\u{1}s\n") == "ProxyJump bastio\\r\\r\\u{1}s")
    }

    @Test func whatMakesNoDifferenceStaysOnLibSSH() {
        let text = """
            Host *
              ControlPath none
              ControlMaster no
              ForwardAgent no
              ServerAliveInterval 0
              ConnectionAttempts 1
              AddressFamily any
              LogLevel QUIET
              HashKnownHosts yes
              PreferredAuthentications publickey
              PasswordAuthentication yes
              KbdInteractiveAuthentication yes
              GSSAPIAuthentication yes
              ClearAllForwardings yes
              LocalForward 8080 localhost:80
              StrictHostKeyChecking accept-new
            """
        #expect(reason(text) == nil)
        // Passwords and keyboard-interactive are off under passh's BatchMode=yes… unless -o says no.
        #expect(reason(text, options: ["BatchMode=no"]) == "BatchMode no")
    }

    @Test func gssapiAuthenticationGoesToOpenSSHOnlyWithKerberosCredentials() {
        let text = "Host *\n  GSSAPIAuthentication yes\n"
        #expect(reason(text, facts: facts(kerberos: false)) == nil)
        #expect(reason(text, facts: facts(kerberos: true)) == "GSSAPIAuthentication")
        #expect(reason("Host *\n  GSSAPIKeyExchange yes\n", facts: facts(kerberos: true)) == "GSSAPIKeyExchange")
    }

    @Test func whatPasshDoesNotEvaluateOrOpenSSHRefusesGoesToOpenSSH() {
        #expect(reason("Match exec \"test -f /x\"\n  User e\n") == "Match exec")
        #expect(reason("Host *\n  NoSuchKeyword yes\n") == "/cfg: line 2: Bad configuration option: nosuchkeyword")
        #expect(reason("Host *\n  ObscureKeystrokeTiming yes\n") != nil)
    }

    @Test func eachStrictHostKeyCheckingValue() throws {
        func policy(_ value: String?, options: [String] = []) -> SSHHostSettings.HostKeyPolicy? {
            let text = value.map { "Host *\n  StrictHostKeyChecking \($0)\n" } ?? ""
            return try? choose(text, options: options).get().hostKeyPolicy
        }
        #expect(policy(nil) == .strict)
        #expect(policy("yes") == .strict)
        #expect(policy("ask") == .strict)
        #expect(policy("accept-new") == .acceptNew)
        #expect(policy("no") == nil)  // OpenSSH
        #expect(policy("off") == nil)
        // --insecure: no, and known_hosts /dev/null: nothing to check or keep, as with libssh.
        #expect(
            policy(nil, options: ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null"])
                == SSHHostSettings.HostKeyPolicy.none)
        #expect(policy("no", options: ["UserKnownHostsFile=/dev/null"]) == SSHHostSettings.HostKeyPolicy.none)
    }

    @Test func theSettingsAreOpenSSHsReading() throws {
        let text = """
            Host web*
              HostName %h.example.com
              User deploy
              Port 2222
              IdentityFile ~/.ssh/web_%r
              IdentitiesOnly yes
              IdentityAgent ~/.ssh/agent.sock
              UserKnownHostsFile ~/.ssh/known_%h
              KexAlgorithms curve25519-sha256
              HashKnownHosts yes
              SendEnv LANG LC_* X -X
              SetEnv A=1 B=2
            Host *
              IdentityFile ~/.ssh/id_ed25519
              SetEnv C=3
            """
        let settings = try choose(
            text,
            facts: facts(environment: [
                ("LANG", "C.UTF-8"), ("LC_ALL", "C"), ("X", "x"), ("LC_TIME", "en_GB"), ("HOME", "/h"),
            ])
        ).get()
        #expect(settings.hostname == "web1.example.com")
        #expect(settings.user == "deploy")
        #expect(settings.port == 2222)
        #expect(settings.identityFiles == ["/home/u/.ssh/web_deploy", "/home/u/.ssh/id_ed25519"])
        #expect(settings.identitiesOnly)
        #expect(settings.agent == .socket("/home/u/.ssh/agent.sock"))
        #expect(settings.knownHostsFile == "/home/u/.ssh/known_web1.example.com")
        #expect(settings.globalKnownHostsFile == "/etc/ssh/ssh_known_hosts")
        #expect(settings.algorithms == ["kexalgorithms": "curve25519-sha256"])
        #expect(settings.hashKnownHosts)
        #expect(settings.connectTimeout == 6)
        #expect(
            settings.environment.map { "\($0.name)=\($0.value)" } == [
                "LANG=C.UTF-8", "LC_ALL=C", "LC_TIME=en_GB", "A=1", "B=2",
            ])
        // No IdentityFile: OpenSSH's defaults, in its order.
        let plain = try choose("").get()
        #expect(plain.identityFiles.first == "/home/u/.ssh/id_rsa")
        #expect(plain.identityFiles.contains("/home/u/.ssh/id_ed25519"))
        #expect(!plain.identitiesOnly)
        #expect(plain.agent == .environment)
        #expect(try choose("Host *\n  IdentityAgent none\n").get().agent == SSHHostSettings.Agent.none)
    }

    @Test func proxyJumpIsTheCommandOpenSSHWouldRun() throws {
        let settings = try choose("Host web*\n  ProxyJump admin@bastion:2200\n  Port 2222\n").get()
        #expect(settings.proxyCommand == "/usr/bin/ssh -l admin -p 2200 -F /cfg -W '[web1]:2222' bastion")
        let hops = try choose("Host web*\n  ProxyJump a,b\n").get()
        #expect(hops.proxyCommand == "/usr/bin/ssh -J a -F /cfg -W '[web1]:22' b")
        let command = try choose("Host *\n  ProxyCommand nc %h %p # via nc\n").get()
        #expect(command.proxyCommand == "nc web1 22 # via nc")
        // The first of ProxyCommand and ProxyJump wins.
        #expect(try choose("Host *\n  ProxyCommand none\n  ProxyJump b\n").get().proxyCommand == nil)
    }

    @Test func aCertificateBesideAnIdentityFileSendsTheHostToOpenSSH() {
        let existing: Set<String> = ["/home/u/.ssh/id_ed25519-cert.pub"]
        #expect(
            reason("Host *\n  IdentityFile ~/.ssh/id_ed25519\n", facts: facts(existing: existing))
                == "IdentityFile /home/u/.ssh/id_ed25519 with a certificate")
        #expect(
            reason("", facts: facts(existing: existing)) == "IdentityFile /home/u/.ssh/id_ed25519 with a certificate")
    }

    @Test func aSecondKnownHostsFileThatExistsSendsTheHostToOpenSSH() {
        #expect(
            reason("", facts: facts(existing: ["/home/u/.ssh/known_hosts2"]))
                == "UserKnownHostsFile /home/u/.ssh/known_hosts2")
        #expect(reason("Host *\n  UserKnownHostsFile ~/a ~/b\n") == nil)
    }

    /// The decision's cost, measured: a configuration like a fleet's (30 blocks) for 1000 hosts.
    @Test func theDecisionCostsMicrosecondsPerHost() {
        var text = ""
        for block in 0..<30 {
            text += "Host group\(block)-*\n  User u\(block)\n  Port \(2000 + block)\n  IdentityFile ~/.ssh/k\(block)\n"
        }
        text += "Host *\n  IdentitiesOnly yes\n  ServerAliveInterval 0\n  SendEnv LANG LC_*\n"
        let loaded = config(text)
        let chooser = TransportChooser(config: loaded, options: Self.passhOptions, defaultUser: nil, facts: facts())
        let hosts = (0..<1000).map { try! Host("group\($0 % 40)-host\($0)") }
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for host in hosts { _ = chooser.choose(host) }
        }
        let perHost = elapsed / hosts.count
        print("decision: \(perHost) per host (1000 hosts, 30 blocks)")
        #expect(perHost < .milliseconds(20), "a measurement: only a pathological cost fails it")
    }
}
