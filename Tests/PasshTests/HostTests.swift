import Passh
import Testing

@Suite("Host: parsing and validation")
struct HostTests {
    @Test(
        arguments: [
            ("web1", nil, "web1", nil),
            ("admin@web1", "admin", "web1", nil),
            ("web1:2222", nil, "web1", 2222),
            ("admin@web1:2222", "admin", "web1", 2222),
            ("[2001:db8::1]:2222", nil, "2001:db8::1", 2222),
            ("[2001:db8::1]", nil, "2001:db8::1", nil),
            ("2001:db8::1", nil, "2001:db8::1", nil),
            ("root@[::1]:22", "root", "::1", 22),
            ("a@b@c", "a@b", "c", nil),
            ("web1.example.com", nil, "web1.example.com", nil),
        ] as [(String, String?, String, Int?)])
    func parses(spec: String, user: String?, hostname: String, port: Int?) throws {
        let host = try Host(spec)
        #expect(host.name == spec)
        #expect(host.user == user)
        #expect(host.hostname == hostname)
        #expect(host.port == port)
    }

    @Test(arguments: [
        ("", "empty host name"),
        ("-oProxyCommand=touch /tmp/x", "invalid host \"-oProxyCommand=touch /tmp/x\": a host must not begin with '-'"),
        ("web 1", "invalid host \"web 1\": whitespace or control character in host"),
        ("web\t1", "invalid host \"web\\t1\": whitespace or control character in host"),
        ("web\u{7}1", "invalid host \"web\\u{7}1\": whitespace or control character in host"),
        ("web1\n", "invalid host \"web1\\n\": whitespace or control character in host"),
        ("root@-x", "invalid host \"root@-x\": a host name must not begin with '-'"),
        ("-l@web", "invalid host \"-l@web\": a host must not begin with '-'"),
        ("@web", "invalid host \"@web\": empty user"),
        ("web:", "invalid host \"web:\": port must be a number from 1 to 65535"),
        ("web:0", "invalid host \"web:0\": port must be a number from 1 to 65535"),
        ("web:65536", "invalid host \"web:65536\": port must be a number from 1 to 65535"),
        ("web:22x", "invalid host \"web:22x\": port must be a number from 1 to 65535"),
        (":22", "invalid host \":22\": empty host name"),
        ("[::1", "invalid host \"[::1\": missing ']' after an IPv6 address"),
        ("[::1]x", "invalid host \"[::1]x\": expected ':PORT' after ']'"),
    ])
    func refuses(spec: String, message: String) {
        #expect(throws: PasshError(.invalidHost, message)) { try Host(spec) }
    }

    @Test func identityIsTheName() throws {
        #expect(try Host("web1") == Host("web1"))
        #expect(try Host("web1") != Host("root@web1"))
        #expect(Set(try ["a", "b", "a"].map(Host.init)).count == 2)
    }
}
