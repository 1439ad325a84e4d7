#if LIBSSH
import ExtrasBase64
import PasshTestSupport
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// The known_hosts reader of the libssh transport, as a pure function (OpenSSH's rules; the
/// conformance suite checks it against `ssh` itself).
@Suite("known_hosts, read as OpenSSH reads it")
struct KnownHostsTests {
    /// A public key made by ssh-keygen: its `TYPE BASE64` text and its blob.
    struct Key {
        let text: String
        let blob: [UInt8]
    }

    static func makeKey(_ type: String = "ed25519") -> Key {
        let path = temporaryPath("known-hosts-key")
        defer { unlink(path); unlink(path + ".pub") }
        let made = shell("ssh-keygen -q -t \(type) -N '' -f \(path) </dev/null")
        precondition(made.status == 0, made.text)
        let text = (readText(path + ".pub") ?? "").split(separator: " ").prefix(2).joined(separator: " ")
        let blob = try! Base64.decode(string: String(text.split(separator: " ")[1]))
        return Key(text: text, blob: blob)
    }

    static let key = makeKey()
    static let other = makeKey()
    static let rsa = makeKey("rsa")

    func verdict(_ file: String, host: String = "web1.example.com", port: Int = 22, key: Key = key)
        -> KnownHosts.Verdict
    {
        KnownHosts.verdict(key: key.blob, host: host, port: port, files: [Array(file.utf8)])
    }

    @Test func theNameHasItsPortUnless22() {
        #expect(KnownHosts.name(host: "Web1", port: 22) == "web1")
        #expect(KnownHosts.name(host: "web1", port: 2222) == "[web1]:2222")
        #expect(verdict("web1.example.com \(Self.key.text)\n") == .known)
        #expect(verdict("web1.example.com \(Self.other.text)\n", port: 2222) == .unknown)
        // OpenSSH also checks the name without the port, for an acceptance only.
        #expect(verdict("web1.example.com \(Self.key.text)\n", port: 2222) == .known)
        #expect(verdict("@revoked web1.example.com \(Self.key.text)\n", port: 2222) == .unknown)
        #expect(
            verdict("[web1.example.com]:2222 \(Self.other.text)\nweb1.example.com \(Self.key.text)\n", port: 2222)
                == .changed(sameType: true))
        #expect(verdict("[web1.example.com]:2222 \(Self.key.text)\n", port: 2222) == .known)
        #expect(verdict("", host: "web1") == .unknown)
    }

    @Test func aRevokedKeyIsRefusedWhateverElseHoldsIt() {
        let k = Self.key.text
        #expect(verdict("web1.example.com \(k)\n@revoked web1.example.com \(k)\n") == .revoked)
        #expect(verdict("@revoked * \(k)\nweb1.example.com \(k)\n") == .revoked)
        #expect(verdict("@revoked\tweb1.example.com\t\(k)\n") == .revoked)
        // Another key revoked: this one stands.
        #expect(verdict("@revoked * \(Self.other.text)\nweb1.example.com \(k)\n") == .known)
        // A revoked line for other hosts only.
        #expect(verdict("@revoked db* \(k)\nweb1.example.com \(k)\n") == .known)
    }

    @Test func aCertificateAuthorityAloneIsNotAKey() {
        #expect(verdict("@cert-authority *.example.com \(Self.other.text)\n") == .certificateAuthorityOnly)
        #expect(verdict("@cert-authority *.example.com \(Self.key.text)\n") == .certificateAuthorityOnly)
        #expect(
            verdict("@cert-authority *.example.com \(Self.other.text)\nweb1.example.com \(Self.key.text)\n")
                == .known)
        #expect(verdict("@cert-authority db* \(Self.other.text)\n") == .unknown)
    }

    @Test func anotherKeyIsAChange() {
        #expect(verdict("web1.example.com \(Self.other.text)\n") == .changed(sameType: true))
        #expect(verdict("web1.example.com \(Self.rsa.text)\n") == .changed(sameType: false))
        #expect(
            verdict("web1.example.com \(Self.other.text)\nweb1.example.com \(Self.key.text)\n") == .known)
    }

    @Test func aLineThatCannotBeReadHidesNothing() {
        let k = Self.key.text
        let bad = [
            "web1.example.com ssh-ed25519 AAAA!!!",  // not base64
            "web1.example.com ssh-ed25519",  // no key
            "web1.example.com",  // nothing after the name
            "web1.example.com # comment",
            "web1.example.com ssh-foo AAAAB3NzaC1yc2E=",  // a type OpenSSH does not know
            "web1.example.com ssh-rsa \(k.split(separator: " ")[1])",  // the blob is another type
            "web1.example.com 1024 35 12345678901234567890",  // SSH-1
            "@bogus web1.example.com \(k)",  // an unknown marker
            "@revoked @cert-authority web1.example.com \(k)",  // two markers
            "|1|short|hash \(k)",  // a bad hash
            "|2|abc|def \(k)",
            "web1.example.com AAAA \(k)",
        ]
        // A byte after the base64 padding: OpenSSH cannot read the key (ExtrasBase64 read it as
        // padded, and the host's RSA key looked changed; found by FuzzKnownHosts).
        let rsa1024 =
            "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDGd4kAS3u+/XgcAJ3WyHCWzYpV1duvehL9CB5ZUwT8H3dsYarEnOsf1c2QXLLzzjL7IAyvHOdW+"
            + "tBI76IJfB2ShGmCZpioWlFAAkMo+nucjBD9KLOX88T6XPYjEFykeAX8mItHoQfi8hawdrGNDWmuGVwrJhjznnGKKSuK/fPUAQ"
        #expect(verdict("web1.example.com ssh-rsa \(rsa1024)==\n", key: Self.rsa) == .changed(sameType: true))
        #expect(verdict("web1.example.com ssh-rsa \(rsa1024)=F\n", key: Self.rsa) == .unknown)
        for line in bad {
            #expect(verdict(line + "\n") == .unknown, "\(line)")
            #expect(verdict(line + "\nweb1.example.com \(k)\n") == .known, "\(line)")
            #expect(verdict("web1.example.com \(k)\n" + line + "\n") == .known, "\(line)")
        }
    }

    @Test func patternsMatchAsOpenSSHs() {
        let k = Self.key.text
        #expect(verdict("*.example.com \(k)\n") == .known)
        #expect(verdict("web?.example.com \(k)\n") == .known)
        #expect(verdict("web??.example.com \(k)\n") == .unknown)
        #expect(verdict("db1,web1.example.com,db2 \(k)\n") == .known)
        #expect(verdict("*.example.com,!web1.example.com \(k)\n") == .unknown)
        #expect(verdict("!web1.example.com,*.example.com \(k)\n") == .unknown)
        #expect(verdict("!db1 \(k)\n") == .unknown, "a negation alone matches nothing")
        #expect(verdict("WEB1.Example.COM \(k)\n", host: "web1.example.com") == .known)
        #expect(verdict("web1.example.com \(k)\n", host: "WEB1.example.com") == .known)
        #expect(verdict("[web1.example.com]:* \(k)\n", port: 2222) == .known)
        #expect(verdict("* \(k)\n") == .known)
        #expect(verdict("  \t# a comment\n\n\r\nweb1.example.com \(k) the comment\r\n") == .known)
        #expect(KnownHosts.patternMatches(Array("a".utf8)[...], Array("**a**".utf8)[...]))
        #expect(!KnownHosts.patternMatches(Array("ab".utf8)[...], Array("a".utf8)[...]))
        #expect(KnownHosts.patternMatches(Array("".utf8)[...], Array("*".utf8)[...]))
        // A `*` in the name does not make the pattern's `*` a literal (found by FuzzKnownHosts).
        #expect(KnownHosts.patternMatches(Array("*web1".utf8)[...], Array("*".utf8)[...]))
        #expect(KnownHosts.patternMatches(Array("a*b".utf8)[...], Array("a*".utf8)[...]))
    }

    @Test func hashedNamesMatchOnlyTheirHost() throws {
        let path = temporaryPath("known-hosts-hash")
        defer { unlink(path); unlink(path + ".old") }
        try writeFile(path, Array("web1.example.com \(Self.key.text)\n[db1]:2222 \(Self.other.text)\n".utf8))
        #expect(shell("ssh-keygen -q -H -f \(path) >/dev/null 2>&1").status == 0)
        let hashed = readText(path) ?? ""
        #expect(hashed.hasPrefix("|1|"))
        #expect(!hashed.contains("web1"))
        let files = [Array(hashed.utf8)]
        #expect(KnownHosts.verdict(key: Self.key.blob, host: "web1.example.com", port: 22, files: files) == .known)
        #expect(KnownHosts.verdict(key: Self.other.blob, host: "db1", port: 2222, files: files) == .known)
        #expect(KnownHosts.verdict(key: Self.other.blob, host: "db1", port: 22, files: files) == .unknown)
        #expect(KnownHosts.verdict(key: Self.key.blob, host: "web2.example.com", port: 22, files: files) == .unknown)
        // One byte of the hash changed: that line names no one.
        var broken = Array(hashed.utf8)
        let bar = broken.lastIndex(of: UInt8(ascii: "|"))!  // the second line's hash
        broken[bar + 1] = broken[bar + 1] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(KnownHosts.verdict(key: Self.other.blob, host: "db1", port: 2222, files: [broken]) == .unknown)
    }

    @Test func filesAreReadTogether() {
        let files = [Array("db1 \(Self.key.text)\n".utf8), Array("@revoked * \(Self.key.text)\n".utf8)]
        #expect(KnownHosts.verdict(key: Self.key.blob, host: "db1", port: 22, files: files) == .revoked)
        #expect(KnownHosts.verdict(key: Self.key.blob, host: "db1", port: 22, files: [files[0], []]) == .known)
    }

    /// Seeded mutations of a file: whatever the bytes, the reader answers (no crash, no hang), and
    /// a pattern built to make a naive matcher backtrack is quick.
    @Test func anyBytesAreAnswered() {
        var random = SeededGenerator(seed: 22)
        let base = Array(
            "@revoked * \(Self.other.text)\n|1|abc|def \(Self.key.text)\nweb*,!db? \(Self.key.text) c\n".utf8)
        for _ in 0..<2000 {
            var file = base
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                let index = Int.random(in: 0..<file.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: file[index] = UInt8.random(in: 0...255, using: &random)
                case 1: file.remove(at: index)
                default: file.insert(UInt8.random(in: 0...255, using: &random), at: index)
                }
                if file.isEmpty { file = [0x0A] }
            }
            _ = KnownHosts.verdict(key: Self.key.blob, host: "web1", port: 22, files: [file])
        }
        let clock = ContinuousClock()
        let started = clock.now
        let name = Array(repeating: UInt8(ascii: "a"), count: 5000)
        let pattern = Array(String(repeating: "*a", count: 2000).utf8) + [UInt8(ascii: "b")]
        #expect(!KnownHosts.patternMatches(name[...], pattern[...]))
        #expect(clock.now - started < .seconds(2))
    }
}

#endif
