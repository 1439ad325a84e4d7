/// The keywords OpenSSH's client knows (9.2, with Debian's GSSAPI additions), by canonical name: an alias (`pubkeyacceptedkeytypes`) is read as the keyword it
/// stands for (`pubkeyacceptedalgorithms`), and shares its first value.
enum SSHConfigKeywords {
    /// Aliases and obsolete spellings, to the keyword they set.
    static let aliases: [String: String] = [
        "challengeresponseauthentication": "kbdinteractiveauthentication",
        "skeyauthentication": "kbdinteractiveauthentication",
        "tisauthentication": "kbdinteractiveauthentication",
        "dsaauthentication": "pubkeyauthentication",
        "identityfile2": "identityfile",
        "keepalive": "tcpkeepalive",
        "hostbasedkeytypes": "hostbasedacceptedalgorithms",
        "pubkeyacceptedkeytypes": "pubkeyacceptedalgorithms",
        "smartcarddevice": "pkcs11provider",
    ]

    /// Keywords OpenSSH accepts and ignores (deprecated, or support removed).
    static let ignored: Set<String> = [
        "protocol", "cipher", "fallbacktorsh", "globalknownhostsfile2", "rhostsauthentication", "userknownhostsfile2",
        "useroaming", "usersh", "useprivilegedport", "afstokenpassing", "kerberosauthentication",
        "kerberostgtpassing", "rsaauthentication", "rhostsrsaauthentication", "compressionlevel",
    ]

    /// Every keyword by canonical name.
    static let known: Set<String> = [
        "host", "match", "include", "ignoreunknown",
        "addkeystoagent", "addressfamily", "batchmode", "bindaddress", "bindinterface", "canonicaldomains",
        "canonicalizefallbacklocal", "canonicalizehostname", "canonicalizemaxdots", "canonicalizepermittedcnames",
        "casignaturealgorithms", "certificatefile", "checkhostip", "ciphers", "clearallforwardings", "compression",
        "connectionattempts", "connecttimeout", "controlmaster", "controlpath", "controlpersist", "dynamicforward",
        "enableescapecommandline", "enablesshkeysign", "escapechar", "exitonforwardfailure", "fingerprinthash",
        "forkafterauthentication", "forwardagent", "forwardx11", "forwardx11timeout", "forwardx11trusted",
        "gatewayports", "globalknownhostsfile", "gssapiauthentication", "gssapiclientidentity",
        "gssapidelegatecredentials", "gssapikeyexchange", "gssapikexalgorithms", "gssapirenewalforcesrekey",
        "gssapiserveridentity", "gssapitrustdns", "hashknownhosts", "hostbasedacceptedalgorithms",
        "hostbasedauthentication", "hostkeyalgorithms", "hostkeyalias", "hostname", "identitiesonly",
        "identityagent", "identityfile", "ipqos", "kbdinteractiveauthentication", "kbdinteractivedevices",
        "kexalgorithms", "knownhostscommand", "localcommand", "localforward", "loglevel", "logverbose", "macs",
        "nohostauthenticationforlocalhost", "numberofpasswordprompts", "passwordauthentication",
        "permitlocalcommand", "permitremoteopen", "pkcs11provider", "port", "preferredauthentications",
        "proxycommand", "proxyjump", "proxyusefdpass", "pubkeyacceptedalgorithms", "pubkeyauthentication",
        "rekeylimit", "remotecommand", "remoteforward", "requesttty", "requiredrsasize", "revokedhostkeys",
        "securitykeyprovider", "sendenv", "serveralivecountmax", "serveraliveinterval", "sessiontype", "setenv",
        "stdinnull", "streamlocalbindmask", "streamlocalbindunlink", "stricthostkeychecking", "syslogfacility",
        "tcpkeepalive", "tunnel", "tunneldevice", "updatehostkeys", "user", "userknownhostsfile",
        "verifyhostkeydns", "visualhostkey", "xauthlocation",
    ]

    /// Keywords whose every active line counts (OpenSSH adds to a list), not only the first.
    static let accumulating: Set<String> = [
        "identityfile", "certificatefile", "localforward", "remoteforward", "dynamicforward", "sendenv",
    ]

    /// Keywords whose value is the rest of the line, as written (a command).
    static let commands: Set<String> = ["proxycommand", "localcommand", "remotecommand", "knownhostscommand"]

    /// The canonical name of `keyword` (lowercase).
    static func canonical(_ keyword: String) -> String { aliases[keyword] ?? keyword }
}
