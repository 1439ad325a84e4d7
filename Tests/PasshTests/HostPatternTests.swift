import Passh
import Testing

/// Expected values come from ClusterShell 1.10's `nodeset -e` (where passh follows it; the
/// differences are listed in ``HostPattern``'s documentation and marked below).
@Suite("HostPattern: expansion")
struct HostPatternTests {
    @Test(arguments: [
        ("web1", ["web1"]),
        ("a,b,c", ["a", "b", "c"]),
        ("node[1-3,5]", ["node1", "node2", "node3", "node5"]),
        (
            "node[01-10]",
            ["node01", "node02", "node03", "node04", "node05", "node06", "node07", "node08", "node09", "node10"]
        ),
        ("n[08-12]", ["n08", "n09", "n10", "n11", "n12"]),
        ("n[09-10]", ["n09", "n10"]),
        ("n[0-3]", ["n0", "n1", "n2", "n3"]),
        ("n[0-10]", ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10"]),
        ("n[00-03]", ["n00", "n01", "n02", "n03"]),
        ("n[00]", ["n00"]),
        ("n[007]", ["n007"]),
        ("n[0-0]", ["n0"]),
        ("n[098-101]", ["n098", "n099", "n100", "n101"]),
        ("n[98-102]", ["n98", "n99", "n100", "n101", "n102"]),
        ("x[9-11]y", ["x9y", "x10y", "x11y"]),
        ("n[0-6/2]", ["n0", "n2", "n4", "n6"]),
        ("n[1-10/3]", ["n1", "n4", "n7", "n10"]),
        ("n[0-12/5]", ["n0", "n5", "n10"]),
        ("n[08-12/2]", ["n08", "n10", "n12"]),
        ("n[00-03/2]", ["n00", "n02"]),
        ("n[1-3/4]", ["n1"]),
        ("n[1-3/01]", ["n1", "n2", "n3"]),
        ("n[1-100/30,2-100/45]", ["n1", "n2", "n31", "n47", "n61", "n91", "n92"]),
        ("n[0-6/2,1]", ["n0", "n1", "n2", "n4", "n6"]),
        ("n[7]", ["n7"]),
        ("r[1-2]n[1-3]", ["r1n1", "r1n2", "r1n3", "r2n1", "r2n2", "r2n3"]),
        ("a[1-2]b[1-2]c[1-2]", ["a1b1c1", "a1b1c2", "a1b2c1", "a1b2c2", "a2b1c1", "a2b1c2", "a2b2c1", "a2b2c2"]),
        ("n[1-2]-[3-4]", ["n1-3", "n1-4", "n2-3", "n2-4"]),
        ("n[1-2]a1[3-4]", ["n1a13", "n1a14", "n2a13", "n2a14"]),
        ("n[1-2]1a[3-4]", ["n11a3", "n11a4", "n21a3", "n21a4"]),
        ("n1[1-2]", ["n11", "n12"]),
        ("n[1-2]1", ["n11", "n21"]),
        ("[1-2]", ["1", "2"]),
        ("[1-2]a", ["1a", "2a"]),
        ("web[1-2].example.com", ["web1.example.com", "web2.example.com"]),
        ("a-[1-2].b[3]c", ["a-1.b3c", "a-2.b3c"]),
        // A bracket's numbers are a set: sorted (by width, then value) and without repeats.
        ("n[3,1,2,1]", ["n1", "n2", "n3"]),
        ("n[1-3,2-5,9]", ["n1", "n2", "n3", "n4", "n5", "n9"]),
        ("n[1-3,01-03]", ["n1", "n2", "n3", "n01", "n02", "n03"]),
        ("n[2,01,3,1]", ["n1", "n2", "n3", "n01"]),
        ("n[10,9,08]", ["n9", "n08", "n10"]),
        ("n[1,01,001,10,100]", ["n1", "n01", "n10", "n001", "n100"]),
        ("n[1-3/2,2]", ["n1", "n2", "n3"]),
        // Negative numbers, as ClusterShell reads them: `-` then digits, never zero-padded, sorted
        // before the others, by value.
        ("n[-5--1]", ["n-5", "n-4", "n-3", "n-2", "n-1"]),
        ("n[-2-2]", ["n-2", "n-1", "n0", "n1", "n2"]),
        ("n[-1]", ["n-1"]),
        ("n[-1,-3]", ["n-3", "n-1"]),
        ("n[-10--8]", ["n-10", "n-9", "n-8"]),
        ("n[-12,-3,3,12]", ["n-12", "n-3", "n3", "n12"]),
        ("n[-11-10/7]", ["n-11", "n-4", "n3", "n10"]),
        ("n[-5--1/2]", ["n-5", "n-3", "n-1"]),
        ("n[-2-2/2]", ["n-2", "n0", "n2"]),
        ("n[-5-5/3]", ["n-5", "n-2", "n1", "n4"]),
        ("n[-5--1/2,-4]", ["n-5", "n-4", "n-3", "n-1"]),
        ("n[-6--1/2,-6--1/3]", ["n-6", "n-4", "n-3", "n-2"]),
        ("n[-0]", ["n0"]),
        ("n[-0-2]", ["n0", "n1", "n2"]),
        ("n[-0--0]", ["n0"]),
        ("n[-3-0]", ["n-3", "n-2", "n-1", "n0"]),
        ("n[-1-1,-1]", ["n-1", "n0", "n1"]),
        ("n[1-3,-2,01]", ["n-2", "n1", "n2", "n3", "n01"]),
        ("n[-1]x[-2-0]", ["n-1x-2", "n-1x-1", "n-1x0"]),
        ("r[-1-0]-[1-2]", ["r-1-1", "r-1-2", "r0-1", "r0-2"]),
        ("n-[1-2]", ["n-1", "n-2"]),
        // A step on a single number: 1 is allowed (`5/1` is 5), as in ClusterShell.
        ("n[5/1]", ["n5"]),
        ("n[5/01,-5/1]", ["n-5", "n5"]),
        // Patterns keep their order and their repeats (nodeset sorts: "a b c", and unites).
        ("b,a,c", ["b", "a", "c"]),
        ("x[1-2],y", ["x1", "x2", "y"]),
        ("n[1-3]x,n[2-4]x", ["n1x", "n2x", "n3x", "n2x", "n3x", "n4x"]),
        ("b,a,b", ["b", "a", "b"]),
        // Users, ports, IPv6 addresses.
        ("root@node[1-2]:2222", ["root@node1:2222", "root@node2:2222"]),
        ("n[1-3]@x", ["n1@x", "n2@x", "n3@x"]),
        ("n:22", ["n:22"]),
        ("[2001:db8::1]:2222", ["[2001:db8::1]:2222"]),
        ("root@[::1]", ["root@[::1]"]),
        ("[::1],[::2]:22", ["[::1]", "[::2]:22"]),
        ("root@[fe80::1%eth0]:22,h[1-2]", ["root@[fe80::1%eth0]:22", "h1", "h2"]),
        ("2001:db8::1", ["2001:db8::1"]),
        ("[::1]:[22-23]", ["[::1]:22", "[::1]:23"]),
        ("user[1-2]@[::1]", ["user1@[::1]", "user2@[::1]"]),
        // Not refused here: Host refuses these names afterwards.
        ("-oProxyCommand=x", ["-oProxyCommand=x"]),
        ("h 1", ["h 1"]),
        ("héllo[1-2]", ["héllo1", "héllo2"]),
    ])
    func expands(pattern: String, names: [String]) throws {
        #expect(try HostPattern.expand(pattern) == names)
        #expect(try HostPattern.count(pattern) == names.count)
    }

    @Test(arguments: [
        ("", "invalid host pattern \"\": empty pattern"),
        ("a,,b", "invalid host pattern \"a,,b\": empty name between commas"),
        ("a,", "invalid host pattern \"a,\": empty name between commas"),
        (",a", "invalid host pattern \",a\": empty name between commas"),
        (",", "invalid host pattern \",\": empty name between commas"),
        ("node[1-", "invalid host pattern \"node[1-\": missing ']'"),
        ("[", "invalid host pattern \"[\": missing ']'"),
        ("a,node[1-,x", "invalid host pattern \"node[1-,x\": missing ']'"),
        ("node1]", "invalid host pattern \"node1]\": ']' without '['"),
        ("]", "invalid host pattern \"]\": ']' without '['"),
        ("n[1-2]]", "invalid host pattern \"n[1-2]]\": ']' without '['"),
        ("ok,n]x", "invalid host pattern \"n]x\": ']' without '['"),
        ("n[[1]]", "invalid host pattern \"n[[1]]\": '[' inside brackets"),
        ("n[1-2,[3]]", "invalid host pattern \"n[1-2,[3]]\": '[' inside brackets"),
        ("[::[1-2]]", "invalid host pattern \"[::[1-2]]\": '[' inside brackets"),
        ("n[]", "invalid host pattern \"n[]\": empty brackets"),
        ("n[1,,2]", "invalid host pattern \"n[1,,2]\": empty item in [1,,2]"),
        ("n[1,]", "invalid host pattern \"n[1,]\": empty item in [1,]"),
        ("n[,1]", "invalid host pattern \"n[,1]\": empty item in [,1]"),
        ("node[a-c]", "invalid host pattern \"node[a-c]\": \"a-c\" is not a number or range"),
        ("n[1-]", "invalid host pattern \"n[1-]\": \"1-\" is not a number or range"),
        ("n[--1]", "invalid host pattern \"n[--1]\": \"--1\" is not a number or range"),
        ("n[-]", "invalid host pattern \"n[-]\": \"-\" is not a number or range"),
        ("n[-1-]", "invalid host pattern \"n[-1-]\": \"-1-\" is not a number or range"),
        ("n[-1-2-3]", "invalid host pattern \"n[-1-2-3]\": \"-1-2-3\" is not a number or range"),
        ("n[-8--4--2]", "invalid host pattern \"n[-8--4--2]\": \"-8--4--2\" is not a number or range"),
        ("n[1-3/-1]", "invalid host pattern \"n[1-3/-1]\": \"1-3/-1\" is not a number or range"),
        ("n[-1--3]", "invalid host pattern \"n[-1--3]\": range -1--3 is inverted"),
        ("n[-8--10]", "invalid host pattern \"n[-8--10]\": range -8--10 is inverted"),
        ("n[1--1]", "invalid host pattern \"n[1--1]\": range 1--1 is inverted"),
        ("n[-05]", "invalid host pattern \"n[-05]\": range -05: a range with a negative number cannot be zero-padded"),
        (
            "n[-00-02]",
            "invalid host pattern \"n[-00-02]\": range -00-02: a range with a negative number cannot be zero-padded"
        ),
        (
            "n[-03--01]",
            "invalid host pattern \"n[-03--01]\": range -03--01: a range with a negative number cannot be zero-padded"
        ),
        (
            "n[-3--01]",
            "invalid host pattern \"n[-3--01]\": range -3--01: a range with a negative number cannot be zero-padded"
        ),
        (
            "n[-10-05]",
            "invalid host pattern \"n[-10-05]\": range -10-05: a range with a negative number cannot be zero-padded"
        ),
        (
            "n[-9-00]",
            "invalid host pattern \"n[-9-00]\": range -9-00: a range with a negative number cannot be zero-padded"
        ),
        ("n[-5/2]", "invalid host pattern \"n[-5/2]\": \"-5/2\" has a step but no range"),
        ("n[5/0]", "invalid host pattern \"n[5/0]\": \"5/0\" has a step but no range"),
        ("n[-5--1/0]", "invalid host pattern \"n[-5--1/0]\": range -5--1/0 has a step of 0"),
        (
            "n[-1234567890123456789]",
            "invalid host pattern \"n[-1234567890123456789]\": 1234567890123456789 has more than 18 digits"
        ),
        ("n[1-2-3]", "invalid host pattern \"n[1-2-3]\": \"1-2-3\" is not a number or range"),
        ("n[1-5/2/3]", "invalid host pattern \"n[1-5/2/3]\": \"1-5/2/3\" is not a number or range"),
        ("n[1-5/]", "invalid host pattern \"n[1-5/]\": \"1-5/\" is not a number or range"),
        ("n[ 1]", "invalid host pattern \"n[ 1]\": \" 1\" is not a number or range"),
        ("n[1, 2]", "invalid host pattern \"n[1, 2]\": \" 2\" is not a number or range"),
        ("n[\t1]", "invalid host pattern \"n[\\t1]\": \"\\t1\" is not a number or range"),
        ("n[١]", "invalid host pattern \"n[١]\": \"١\" is not a number or range"),
        ("node[5-1]", "invalid host pattern \"node[5-1]\": range 5-1 is inverted"),
        ("n[10-09]", "invalid host pattern \"n[10-09]\": range 10-09 is inverted"),
        ("n[1-5/0]", "invalid host pattern \"n[1-5/0]\": range 1-5/0 has a step of 0"),
        ("n[1-5/00]", "invalid host pattern \"n[1-5/00]\": range 1-5/00 has a step of 0"),
        ("n[1/2]", "invalid host pattern \"n[1/2]\": \"1/2\" has a step but no range"),
        (
            "n[1-010]",
            "invalid host pattern \"n[1-010]\": range 1-010: zero-padded ends must have the same number of digits"
        ),
        (
            "n[00-3]",
            "invalid host pattern \"n[00-3]\": range 00-3: zero-padded ends must have the same number of digits"
        ),
        (
            "n[01-100]",
            "invalid host pattern \"n[01-100]\": range 01-100: zero-padded ends must have the same number of digits"
        ),
        (
            "n[01-9]",
            "invalid host pattern \"n[01-9]\": range 01-9: zero-padded ends must have the same number of digits"
        ),
        (
            "n[0-010]",
            "invalid host pattern \"n[0-010]\": range 0-010: zero-padded ends must have the same number of digits"
        ),
        (
            "n[7-07]",
            "invalid host pattern \"n[7-07]\": range 7-07: zero-padded ends must have the same number of digits"
        ),
        (
            "n[1234567890123456789]",
            "invalid host pattern \"n[1234567890123456789]\": 1234567890123456789 has more than 18 digits"
        ),
        (
            "n[1-99999999999999999999999]",
            "invalid host pattern \"n[1-99999999999999999999999]\": 99999999999999999999999 has more than 18 digits"
        ),
        (
            "n[1-5/0000000000000000001]",
            "invalid host pattern \"n[1-5/0000000000000000001]\": 0000000000000000001 has more than 18 digits"
        ),
        ("n[1-2][3-4]", "invalid host pattern \"n[1-2][3-4]\": two brackets must be separated by a non-digit"),
        ("n[1-2]1[3-4]", "invalid host pattern \"n[1-2]1[3-4]\": two brackets must be separated by a non-digit"),
        ("n[01-02]0[1]", "invalid host pattern \"n[01-02]0[1]\": two brackets must be separated by a non-digit"),
        ("n\u{1}[", "invalid host pattern \"n\\u{1}[\": missing ']'"),
    ])
    func refuses(pattern: String, message: String) {
        #expect(throws: PasshError(.invalidPattern, message)) { try HostPattern.expand(pattern) }
        #expect(throws: PasshError(.invalidPattern, message)) { try HostPattern.count(pattern) }
    }

    @Test func refusesMoreThanTheLimitBeforeExpanding() throws {
        #expect(
            throws: PasshError(
                .invalidPattern,
                "host pattern \"n[1-1000000]x[1-2]\" expands to 2000000 hosts, more than the limit of 1000000")
        ) {
            try HostPattern.expand("n[1-1000000]x[1-2]")
        }
        #expect(
            throws: PasshError(
                .invalidPattern,
                "host pattern \"a[1-600000],b[1-600000]\" expands to 1200000 hosts, more than the limit of 1000000")
        ) {
            try HostPattern.expand("a[1-600000],b[1-600000]")
        }
        #expect(
            throws: PasshError(.invalidPattern, "host pattern \"n[1-5]\" expands to 5 hosts, more than the limit of 4")
        ) {
            try HostPattern.expand("n[1-5]", limit: 4)
        }
        #expect(
            throws: PasshError(.invalidPattern, "host pattern \"a,b\" expands to 2 hosts, more than the limit of 1")
        ) {
            try HostPattern.count("a,b", limit: 1)
        }
        #expect(try HostPattern.expand("n[1-4]", limit: 4).count == 4)
        #expect(try HostPattern.count("n[1-1000000]") == 1_000_000)
        #expect(
            throws: PasshError(
                .invalidPattern,
                "host pattern \"n[0-1000000]\" expands to 1000001 hosts, more than the limit of 1000000")
        ) {
            try HostPattern.count("n[0-1000000]")
        }
    }

    @Test func countsHugeSetsWithoutExpandingThem() throws {
        let big = "n[0-999999999999999999]"
        #expect(try HostPattern.count(big, limit: .max) == 1_000_000_000_000_000_000)
        #expect(
            throws: PasshError(
                .invalidPattern,
                "host pattern \"\(big)\" expands to 1000000000000000000 hosts, more than the limit of 1000000")
        ) {
            try HostPattern.expand(big)
        }
        // Overlapping ranges and steps are counted once.
        #expect(try HostPattern.count("n[1-1000000,1-1000000,500000-1000000]") == 1_000_000)
        #expect(
            try HostPattern.count("n[1-900000000/2,1-900000000/2,3-700000001/2,2-10/2]", limit: .max) == 450_000_005)
        #expect(try HostPattern.count("n[1-100/2,1-100/3]") == 67)
        #expect(try HostPattern.count("n[1-100/2,1-100/3,50-60]") == 71)
        #expect(try HostPattern.count("n[1-300000/2,1-300000/3]") == 200_000)
        // Products that do not fit in an Int, and steps whose union is counted only up to the limit
        // (666 names of 1 to 3 digits, then more than 1000 of 4 digits).
        #expect(
            throws: PasshError(
                .invalidPattern,
                "host pattern \"a[1-999999999999999999]b[1-999999999999999999]\" expands to at least 9223372036854775807 hosts, more than the limit of 1000000"
            )
        ) {
            try HostPattern.count("a[1-999999999999999999]b[1-999999999999999999]")
        }
        #expect(
            throws: PasshError(
                .invalidPattern,
                "host pattern \"n[1-3000/2,1-3000/3]\" expands to at least 1667 hosts, more than the limit of 1000")
        ) {
            try HostPattern.expand("n[1-3000/2,1-3000/3]", limit: 1000)
        }
        #expect(try HostPattern.count("n[1-3000/2,1-3000/3]", limit: 2000) == 2000)
        // Negative numbers too.
        #expect(
            try HostPattern.count("n[-999999999999999999-999999999999999999]", limit: .max) == 1_999_999_999_999_999_999
        )
        #expect(try HostPattern.count("n[-1000000-1000000/2]", limit: .max) == 1_000_001)
        #expect(
            throws: PasshError(
                .invalidPattern,
                "host pattern \"n[-500000-500000]\" expands to 1000001 hosts, more than the limit of 1000000")
        ) {
            try HostPattern.expand("n[-500000-500000]")
        }
    }

    /// Any number of brackets: the names are made without a recursion per bracket, which 50,000
    /// brackets used to overflow the stack with.
    @Test(.alone) func expandsManyBrackets() throws {
        let many = String(repeating: "a[1]", count: 50_000)
        #expect(try HostPattern.expand(many) == [String(repeating: "a1", count: 50_000)])
        #expect(try HostPattern.count(many) == 1)
        let names = try HostPattern.expand(String(repeating: "a[1]", count: 50_000) + "b[1-3],c")
        #expect(names.count == 4)
        #expect(names[2] == String(repeating: "a1", count: 50_000) + "b3")
        let product = try HostPattern.expand(String(repeating: "x[0-1]", count: 12))
        #expect(product.count == 4096)
        #expect(product[0] == String(repeating: "x0", count: 12))
        #expect(product[1] == String(repeating: "x0", count: 11) + "x1")
        #expect(product[4095] == String(repeating: "x1", count: 12))
        #expect(Set(product).count == 4096)
        #expect(
            throws: PasshError(
                .invalidPattern,
                "host pattern \"\(String(repeating: "x[0-1]", count: 20))\" expands to 1048576 hosts, more than the limit of 1000000"
            )
        ) {
            try HostPattern.expand(String(repeating: "x[0-1]", count: 20))
        }
    }

    /// A million names in a release build; a tenth of that in a debug build, to keep the tests
    /// fast. (How fast is measured in bench/, not asserted here.)
    @Test func expandsAMillionHosts() throws {
        #if DEBUG
        let (pattern, count, last) = ("node[0000001-0100000].example.com", 100_000, "node0100000.example.com")
        #else
        let (pattern, count, last) = ("node[0000001-1000000].example.com", 1_000_000, "node1000000.example.com")
        #endif
        let names = try HostPattern.expand(pattern)
        #expect(names.count == count)
        #expect(names.first == "node0000001.example.com")
        #expect(names.last == last)
        let product = try HostPattern.expand("r[1-100]n[1-1000]")
        #expect(product.count == 100_000)
        #expect(product[1000] == "r2n1")
        #expect(product.last == "r100n1000")
    }
}
