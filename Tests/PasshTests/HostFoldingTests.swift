import Passh
import Testing

/// Expected values come from ClusterShell 1.10's `nodeset -f` with the same names, except in
/// `differsFromClusterShell`.
@Suite("HostFolding: folding names into patterns")
struct HostFoldingTests {
    @Test(
        arguments: [
            (["h0001", "h0002", "h0003", "h0005"], "h[0001-0003,0005]"),
            (["h1", "h2", "h3", "h5", "h7", "h9"], "h[1-3,5,7,9]"),
            (["n1", "n2", "n4", "n5", "n6"], "n[1-2,4-6]"),
            (
                ["web1.example.com", "web2.example.com", "web3.example.com", "db1.example.com"],
                "db1.example.com,web[1-3].example.com"
            ),
            (["db1", "db2", "web01", "web02", "web03", "web05", "mail"], "db[1-2],mail,web[01-03,05]"),
            (["b", "a", "c"], "a,b,c"),
            (["h1", "a", "h2", "b"], "a,b,h[1-2]"),
            (["x", "y1", "y2", "z"], "x,y[1-2],z"),
            (["h1", "H1", "h2", "_1", "1", "2", "3"], "[1-3],H1,_1,h[1-2]"),
            (["h1", "ha", "h-a", "h", "h1x", "H"], "H,h,h1,h1x,h-a,ha"),
            (["10", "9", "8", "1a"], "[8-10],1a"),
            (["node1", "node2", "Node3"], "Node3,node[1-2]"),
            (["Z1", "Z2", "a", "é1", "é2"], "Z[1-2],a,é[1-2]"),
            (["h-1", "h-2", "h-3"], "h-[1-3]"),
            // The names of a bracket with negative numbers (n[-2-2], n[-10]): the '-' is text.
            (["n-2", "n-1", "n0", "n1", "n2", "n-10", "x-01", "x-02", "x1"], "n[0-2],n-[1-2,10],x1,x-[01-02]"),
            (["x1y", "y1", "x2y"], "x[1-2]y,y1"),
            (["h1.a", "h2.a", "h1.b"], "h[1-2].a,h1.b"),
            (["n1-ib0", "n2-ib0", "n1-ib1"], "n1-ib[0-1],n2-ib0"),
            (["a1b2", "a1b3", "a2b2"], "a1b[2-3],a2b2"),
            // Zero-padding: a number keeps its width; ranges never mix padded and unpadded numbers.
            (["h1", "h01", "h2", "h02", "h10"], "h[1-2,01-02,10]"),
            (["node9", "node10", "node11", "node08"], "node[9,08,10-11]"),
            (["n08", "n09", "n10", "n11"], "n[08-11]"),
            (["n9", "n10"], "n[9-10]"),
            (["n9", "n09", "n10"], "n[9,09-10]"),
            (["n9", "n05", "n10"], "n[9,05,10]"),
            (["n099", "n100"], "n[099-100]"),
            (["n98", "n99", "n100", "n101", "n0100"], "n[98-101,0100]"),
            (["n0", "n1", "n00", "n01"], "n[0-1,00-01]"),
            (["n001", "n1", "n01"], "n[1,01,001]"),
            (["web01", "web02", "web1"], "web[1,01-02]"),
            (["h9", "h10", "h11", "h010", "h011"], "h[9-11,010-011]"),
            (["1", "2", "03", "04"], "[1-2,03-04]"),
            (["0", "00", "000", "1"], "[0-1,00,000]"),
            (["a1", "a10", "a2"], "a[1-2,10]"),
            (["n1", "n3", "n2", "n02"], "n[1-3,02]"),
            // Users and ports: the port is not the number folded when the name has another.
            (["root@n1:22", "root@n2:22"], "root@n[1-2]:22"),
            (["root@web1:22", "web2:22", "web1:22"], "root@web1:22,web[1-2]:22"),
            // Repeats count once.
            (["h1", "h1", "h2"], "h[1-2]"),
            (["a", "a"], "a"),
            ([], ""),
        ] as [([String], String)])
    func foldsLikeNodeset(names: [String], folded: String) {
        #expect(HostFolding.fold(names) == folded)
    }

    /// Where passh folds one run of digits and ClusterShell several (its output in the comments).
    @Test(
        arguments: [
            (["a1b1", "a1b2", "a2b1", "a2b2"], "a1b[1-2],a2b[1-2]"),  // a[1-2]b[1-2]
            (["web1:22", "web1:23"], "web1:22,web1:23"),  // web1:[22-23]
            (["web:22", "web:23"], "web:[22-23]"),
            (["[::1]:22", "[::1]:23"], "[::1]:[22-23]"),  // nodeset refuses "[::1]"
            (["root@[::1]", "root@[::2]"], "root@[::1],root@[::2]"),
            (["n12345678901234567890", "n12345678901234567891"], "n12345678901234567890,n12345678901234567891"),
            (["a!1", "a!2"], "a![1-2]"),  // nodeset reads '!' as an operator
            // `nodeset -f 'n[-2-2]'` keeps n[-2-2]: given the pattern, it folds numbers, not names;
            // given the names, it folds them as here.
            (["n-2", "n-1", "n0", "n1", "n2"], "n[0-2],n-[1-2]"),
        ] as [([String], String)])
    func differsFromClusterShell(names: [String], folded: String) {
        #expect(HostFolding.fold(names) == folded)
    }

    @Test(arguments: [
        "h[0001-0003,0005]", "node[9,08,10-11]", "h[1-2,01-02,10]", "db1.example.com,web[1-3].example.com",
        "root@n[1-2]:22", "[::1]:[22-23]", "r[1-3]n[1-2]", "n[0-100/7],n[08-12],x", "n[-2-2],m[-10--4/3]x",
    ])
    func expandsBackToTheSameNames(pattern: String) throws {
        let names = try HostPattern.expand(pattern)
        #expect(Set(try HostPattern.expand(HostFolding.fold(names))) == Set(names))
    }

    @Test(.alone) func foldsManyNames() throws {
        #if DEBUG
        let pattern = "node[0000001-0100000]"  // a debug build is ten times slower
        #else
        let pattern = "node[0000001-1000000]"
        #endif
        let names = try HostPattern.expand(pattern)
        #expect(HostFolding.fold(names.reversed()) == pattern)
        #expect(
            HostFolding.fold(names.filter { !$0.hasSuffix("5") }).hasPrefix(
                "node[0000001-0000004,0000006-0000014,0000016-"))
    }
}
