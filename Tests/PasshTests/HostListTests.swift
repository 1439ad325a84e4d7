import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@Suite("HostList: patterns, host files, exclusions")
struct HostListTests {
    /// Writes `text` to a new file under /tmp, runs `body` with its path, and removes the file.
    @discardableResult
    private func withHostFile<T>(_ text: String, _ body: (FilePath) async throws -> T) async throws -> T {
        try await withHostFile(Array(text.utf8), body)
    }

    @discardableResult
    private func withHostFile<T>(_ bytes: [UInt8], _ body: (FilePath) async throws -> T) async throws -> T {
        let path = "/tmp/\(uniqueMarker("passh-hosts"))"
        try writeFile(path, bytes)
        defer { unlink(path) }
        return try await body(FilePath(path))
    }

    @Test func keepsOrderAndDropsRepeats() async throws {
        var list = HostList()
        try await list.add("web[1-3],web2,db1")
        try await list.add("db1,web4,web1")
        #expect(list.names == ["web1", "web2", "web3", "db1", "web4"])
        #expect(list.count == 5)
        #expect(list.hosts.map(\.hostname) == ["web1", "web2", "web3", "db1", "web4"])
    }

    @Test func parsesEveryHost() async throws {
        var list = HostList()
        try await list.add("root@node[1-2]:2222,[2001:db8::1]:22,web1")
        #expect(list.names == ["root@node1:2222", "root@node2:2222", "[2001:db8::1]:22", "web1"])
        #expect(list.hosts.map(\.user) == ["root", "root", nil, nil])
        #expect(list.hosts.map(\.port) == [2222, 2222, 22, nil])
        #expect(list.hosts.map(\.hostname) == ["node1", "node2", "2001:db8::1", "web1"])
        // Different targets, not repeats.
        try await list.add("node1,root@node1")
        #expect(list.names.suffix(2) == ["node1", "root@node1"])
    }

    @Test func readsHostFiles() async throws {
        let text = """
            # the web tier
            web[1-2]
              web3\t 
            \t
            db1   # the primary
            db[1-2],mail\r
            web1\r

            #last line, no newline:
            cache1
            """
        var list = HostList()
        try await list.add("first")
        try await withHostFile(text) { path throws in try await list.add(contentsOfFile: path) }
        #expect(list.names == ["first", "web1", "web2", "web3", "db1", "db2", "mail", "cache1"])
    }

    @Test func readsEmptyFilesAndCommentsOnly() async throws {
        var list = HostList()
        try await withHostFile("") { path throws in try await list.add(contentsOfFile: path) }
        try await withHostFile("# nothing\n\n   \n\r\n#\n") { path throws in try await list.add(contentsOfFile: path) }
        #expect(list.names == [])
        #expect(list.count == 0)
    }

    @Test func excludesWhicheverComesFirst() async throws {
        var list = HostList()
        try await list.exclude("web[2-3]")
        try await list.add("web[1-5]")
        try await list.exclude("web5,nothere")
        #expect(list.names == ["web1", "web4"])
        #expect(list.count == 2)
        try await list.add("web3,web6")
        #expect(list.names == ["web1", "web4", "web6"])
        #expect(list.hosts.map(\.name) == ["web1", "web4", "web6"])
    }

    @Test func excludesWholeNamesOnly() async throws {
        var list = HostList()
        try await list.add("web1,root@web1,web1:22,web10")
        try await list.exclude("web1")
        #expect(list.names == ["root@web1", "web1:22", "web10"])
    }

    @Test(arguments: [
        ("h1,-oProxyCommand=x", "invalid host \"-oProxyCommand=x\": a host must not begin with '-'"),
        ("-oProxyCommand=x", "invalid host \"-oProxyCommand=x\": a host must not begin with '-'"),
        ("h[1-2],-l[1-2]", "invalid host \"-l1\": a host must not begin with '-'"),
        ("web 1", "invalid host \"web 1\": whitespace or control character in host"),
        ("root@-x", "invalid host \"root@-x\": a host name must not begin with '-'"),
        ("web:0", "invalid host \"web:0\": port must be a number from 1 to 65535"),
    ])
    func refusesHostileNames(patterns: String, message: String) async throws {
        var list = HostList()
        try await list.add("a")
        await #expect(throws: PasshError(.invalidHost, message)) { try await list.add(patterns) }
        #expect(list.names == ["a"])  // unchanged
    }

    @Test func refusesBadPatterns() async throws {
        var list = HostList()
        await #expect(throws: PasshError(.invalidPattern, "invalid host pattern \"node[5-1]\": range 5-1 is inverted"))
        {
            try await list.add("a,node[5-1]")
        }
        await #expect(throws: PasshError(.invalidPattern, "invalid host pattern \"x[\": missing ']'")) {
            try await list.exclude("x[")
        }
        #expect(list.names == [])
    }

    @Test func refusesHostileNamesInFilesWithTheLine() async throws {
        var list = HostList()
        try await withHostFile("ok1\n  -oProxyCommand=touch /tmp/x   # bad\nok2\n") { path throws in
            await #expect(
                throws: PasshError(
                    .invalidHost,
                    "\(path.string):2: invalid host \"-oProxyCommand=touch /tmp/x\": a host must not begin with '-'")
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        try await withHostFile("ok1\nh1,-oProxyCommand=x\n") { path throws in
            await #expect(
                throws: PasshError(
                    .invalidHost, "\(path.string):2: invalid host \"-oProxyCommand=x\": a host must not begin with '-'")
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        try await withHostFile("ok1\n\n# c\nnode[5-1]\n") { path throws in
            await #expect(
                throws: PasshError(
                    .invalidPattern, "\(path.string):4: invalid host pattern \"node[5-1]\": range 5-1 is inverted")
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        try await withHostFile("web1 web2\n") { path throws in
            await #expect(
                throws: PasshError(
                    .invalidHost,
                    "\(path.string):1: invalid host \"web1 web2\": whitespace or control character in host")
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        try await withHostFile([UInt8]("ok\nweb\u{0}1\n".utf8)) { path throws in
            await #expect(
                throws: PasshError(
                    .invalidHost,
                    "\(path.string):2: invalid host \"web\\u{0}1\": whitespace or control character in host")
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        try await withHostFile([UInt8]("ok\n".utf8) + [0x77, 0xFF, 0x0A]) { path throws in
            await #expect(
                throws: PasshError(.unreadableFile, "Cannot read file: \(path.string): line 2 is not UTF-8 text")
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        #expect(list.names == [])  // nothing added by a file that failed
    }

    @Test func refusesMissingAndUnreadableFiles() async throws {
        var list = HostList()
        let missing = "/tmp/\(uniqueMarker("passh-missing"))"
        await #expect(throws: PasshError(.unreadableFile, "No such file: \(missing)")) {
            try await list.add(contentsOfFile: FilePath(missing))
        }
        await #expect(throws: PasshError(.unreadableFile, "Cannot read file: /tmp: Is a directory")) {
            try await list.add(contentsOfFile: "/tmp")
        }
        await #expect(throws: PasshError(.unreadableFile, "Cannot read file: /dev/zero: larger than 256 MiB")) {
            try await list.add(contentsOfFile: "/dev/zero")
        }
    }

    @Test func respectsTheLimitAcrossPatternsAndFiles() async throws {
        var list = HostList(limit: 5)
        try await list.add("n[1-3]")
        try await list.add("n[1-3],m1")  // repeats do not count
        await #expect(throws: PasshError(.invalidPattern, "too many hosts: more than the limit of 5")) {
            try await list.add("m[2-3]")
        }
        await #expect(
            throws: PasshError(.invalidPattern, "host pattern \"x[1-6]\" expands to 6 hosts, more than the limit of 5")
        ) {
            try await list.add("x[1-6]")
        }
        try await withHostFile("m2\nm3\n") { path throws in
            await #expect(
                throws: PasshError(.invalidPattern, "\(path.string):2: too many hosts: more than the limit of 5")
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        #expect(list.names == ["n1", "n2", "n3", "m1"])
        try await list.add("m2")
        try await list.exclude("n[1-5]")
        await #expect(throws: PasshError(.invalidPattern, "too many hosts to leave out: more than the limit of 5")) {
            try await list.exclude("x")
        }
        #expect(list.names == ["m1", "m2"])
    }

    /// One call names at most `limit` hosts, repeats included, counted before anything is
    /// expanded: eight lines of `h[1-1000000]` used to be expanded (and every name validated)
    /// before the list saw that they held no new host.
    @Test func refusesAFileNamingTooManyHostsBeforeExpanding() async throws {
        var list = HostList()
        try await list.add("h1,web[1-2]")  // the HOSTS argument, then a file
        try await withHostFile(String(repeating: "h[1-1000000]\n", count: 8)) { path throws in
            await #expect(
                throws: PasshError(
                    .invalidPattern,
                    "host file \(path.string) expands to at least 2000000 hosts, more than the limit of 1000000")
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        // Lines that each stay under the limit but together would need some 10¹¹ names (terabytes):
        // counting stops at the second line.
        let huge = (0..<100_000).map { "h\($0)x[1-999999]\n" }.joined()
        try await withHostFile(huge) { path throws in
            await #expect(
                throws: PasshError(
                    .invalidPattern,
                    "host file \(path.string) expands to at least 1999998 hosts, more than the limit of 1000000")
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        // The count of the last line is exact; a line that alone is too many names its line.
        try await withHostFile("a\nh[1-999999]\nb[1-2]\n") { path throws in
            await #expect(
                throws: PasshError(
                    .invalidPattern, "host file \(path.string) expands to 1000002 hosts, more than the limit of 1000000"
                )
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        try await withHostFile("a\nh[1-1000001]\n") { path throws in
            await #expect(
                throws: PasshError(
                    .invalidPattern,
                    "\(path.string):2: host pattern \"h[1-1000001]\" expands to 1000001 hosts, more than the limit of 1000000"
                )
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        // One pattern list is counted whole, as before.
        let patterns = (0..<100).map { "h\($0)x[1-999999]" }.joined(separator: ",")
        await #expect(
            throws: PasshError(
                .invalidPattern,
                "host pattern \"\(patterns.prefix(200))…\" (\(patterns.utf8.count) bytes) expands to 99999900 hosts, "
                    + "more than the limit of 1000000")
        ) {
            try await list.add(patterns)
        }
        #expect(list.names == ["h1", "web1", "web2"])
    }

    /// Across calls, only the distinct hosts count: a call that repeats hosts already added is not
    /// refused, one that brings too many new ones is, at the first host past the limit.
    @Test func countsRepeatsWithinACallAndDistinctHostsAcrossCalls() async throws {
        var list = HostList(limit: 5)
        try await list.add("n[1-5]")
        try await withHostFile("n[1-3]\nn[4-5]\n") { path throws in try await list.add(contentsOfFile: path) }
        try await list.add("n[1-5]")
        #expect(list.names == ["n1", "n2", "n3", "n4", "n5"])
        // Within one call, repeats count: 3 + 3 names.
        try await withHostFile("n[1-3]\nn[1-3]\n") { path throws in
            await #expect(
                throws: PasshError(
                    .invalidPattern, "host file \(path.string) expands to 6 hosts, more than the limit of 5")
            ) {
                try await list.add(contentsOfFile: path)
            }
        }
        var other = HostList(limit: 5)
        try await other.add("a[1-3]")
        try await withHostFile("a2\nb[1-2]\nc1\n") { path throws in
            await #expect(
                throws: PasshError(.invalidPattern, "\(path.string):3: too many hosts: more than the limit of 5")
            ) {
                try await other.add(contentsOfFile: path)
            }
        }
        #expect(other.names == ["a1", "a2", "a3"])
    }

    @Test(.alone) func holdsManyHosts() async throws {
        #if DEBUG
        // A debug build is ten times slower
        let (all, excluded, kept) = ("node[0000001-0100000]", "node[0000001-0099998]", ["node0099999", "node0100000"])
        #else
        let (all, excluded, kept) = ("node[0000001-1000000]", "node[0000001-0999998]", ["node0999999", "node1000000"])
        #endif
        var list = HostList()
        try await list.add(all)
        try await list.add("node0000001,node0000002")
        try await list.exclude(excluded)
        #expect(list.names == kept)
    }
}
