import Passh
import Testing

// The fuzzing of the host-pattern parser (issue: "Fuzz the host-pattern parser … and keep the corpus
// or the properties in the repository"): the properties below run on thousands of random inputs
// from a seeded generator, so that every run checks the same inputs and a failure names its seed
// and input; `corpus` keeps the tricky inputs found so far, with their exact outcomes.

/// SplitMix64: small, fast, and the same sequence on every platform for a given seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("HostPattern: properties on random inputs (fuzzing)")
struct HostPatternPropertyTests {
    static let seeds: [UInt64] = [1, 2, 3, 0x5EED_CAFE]

    /// (a) Any text either expands to at most `limit` names — as many as `count` says — or is
    /// refused with a one-line `invalid host pattern` error; it never crashes or hangs.
    @Test(arguments: seeds)
    func arbitraryTextNeverCrashes(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let alphabet = Array("[[]]--,,//0123456789ab@:.")
        let limit = 500
        for _ in 0..<2_500 {
            var text = String(
                (0..<Int.random(in: 0...20, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
            if Int.random(in: 0..<8, using: &random) == 0 {  // now and then, a number too long or too large
                text += String(repeating: "9", count: Int.random(in: 15...25, using: &random))
            }
            do {
                let names = try HostPattern.expand(text, limit: limit)
                #expect(names.count <= limit, "seed \(seed): \(text)")
                #expect((try? HostPattern.count(text, limit: limit)) == names.count, "seed \(seed): \(text)")
                #expect(!names.contains { $0.contains(",") }, "seed \(seed): \(text)")
            } catch {
                #expect(error.code == .invalidPattern, "seed \(seed): \(text)")
                #expect(
                    error.message.hasPrefix("invalid host pattern \"") || error.message.hasPrefix("host pattern \""),
                    "seed \(seed): \(text)")
                #expect(!error.message.contains("\n"), "seed \(seed): \(text)")
                #expect(throws: error, "seed \(seed): \(text)") { try HostPattern.count(text, limit: limit) }
            }
        }
    }

    /// (b) and (c) For valid random patterns: the names are those of a plain model (each bracket a
    /// set of strings, negative numbers first, then sorted by length then value; their cartesian
    /// product), `count` gives their
    /// number before expanding, and folding the names then expanding the folded text gives the same
    /// set.
    @Test(.alone, arguments: seeds)  // CPU: with another such test, it holds both of the pool's threads
    func validPatternsExpandFoldAndCount(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        for _ in 0..<400 {
            let (text, expected) = Self.randomPatternList(using: &random)
            let names = try HostPattern.expand(text)
            #expect(names == expected, "seed \(seed): \(text)")
            #expect(try HostPattern.count(text) == names.count, "seed \(seed): \(text)")
            let folded = HostFolding.fold(names)
            let again = try HostPattern.expand(folded)
            #expect(Set(again) == Set(names), "seed \(seed): \(text) folded to \(folded)")
            #expect(again.count == Set(names).count, "seed \(seed): \(text) folded to \(folded)")
        }
    }

    /// Folding any names made of letters, digits, `.`, `-`, `@` and `:` then expanding the folded
    /// text gives the same set of names.
    @Test(arguments: seeds)
    func foldingExpandsBack(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let alphabet = Array("ab0123456789.-@:")
        for _ in 0..<500 {
            let names = (0..<Int.random(in: 1...12, using: &random)).map { _ in
                String((0..<Int.random(in: 1...8, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
            }
            let folded = HostFolding.fold(names)
            #expect(Set(try HostPattern.expand(folded)) == Set(names), "seed \(seed): \(names) folded to \(folded)")
        }
    }

    // MARK: Random valid patterns and their names, by a plain model

    /// One to three patterns, comma-separated, and the names they give.
    static func randomPatternList(using random: inout SeededGenerator) -> (String, [String]) {
        var texts: [String] = []
        var names: [String] = []
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let (text, patternNames) = randomPattern(using: &random)
            texts.append(text)
            names += patternNames
        }
        return (texts.joined(separator: ","), names)
    }

    /// `[user@]text{[set]text}[:port]`, with zero to three brackets.
    static func randomPattern(using random: inout SeededGenerator) -> (String, [String]) {
        var text = ""
        var names = [""]
        func addText(_ piece: String) {
            text += piece
            names = names.map { $0 + piece }
        }
        if Bool.random(using: &random) { addText(["root@", "u1@", "a-b@"].randomElement(using: &random)!) }
        addText(randomText(using: &random))
        if Int.random(in: 0..<10, using: &random) == 0 { addText("[fe80::\(Int.random(in: 0...99, using: &random))]") }
        for index in 0..<Int.random(in: 0...3, using: &random) {
            if index > 0 {
                var between = randomText(using: &random)
                if between.allSatisfy(\.isNumber) { between += "x" }  // brackets need a non-digit between them
                addText(between)
            }
            let (bracket, strings) = randomBracket(using: &random)
            text += bracket
            names = names.flatMap { name in strings.map { name + $0 } }
        }
        if Bool.random(using: &random) { addText(randomText(using: &random)) }
        if Int.random(in: 0..<4, using: &random) == 0 { addText(":\(Int.random(in: 1...65535, using: &random))") }
        if text.isEmpty { addText("h") }
        return (text, names)
    }

    static func randomText(using random: inout SeededGenerator) -> String {
        let pieces = ["n", "web", "db", "-", ".", "x", "1", "07", "a2b", ".example.com"]
        return (0..<Int.random(in: 0...2, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
    }

    /// `[item,…]` and its strings: negative numbers first, by value, then the others by length then
    /// value, without repeats.
    static func randomBracket(using random: inout SeededGenerator) -> (String, [String]) {
        var items: [String] = []
        var strings: Set<String> = []
        for _ in 0..<Int.random(in: 1...2, using: &random) {
            let padded = Int.random(in: 0..<3, using: &random) == 0
            let negative = !padded && Int.random(in: 0..<4, using: &random) == 0  // -20…-1, ending up to 12 later
            let width = padded ? Int.random(in: 2...4, using: &random) : 1
            let low =
                negative
                ? Int.random(in: -20 ... -1, using: &random) : Int.random(in: 0...(padded ? 30 : 120), using: &random)
            let high = low + Int.random(in: 0...(Bool.random(using: &random) ? 0 : 12), using: &random)
            let step = Int.random(in: 0..<3, using: &random) == 0 ? Int.random(in: 1...5, using: &random) : 1
            func written(_ value: Int) -> String {
                let digits = String(value)
                return value < 0 ? digits : String(repeating: "0", count: max(0, width - digits.count)) + digits
            }
            var item = written(low)
            if high > low || step > 1 { item += "-" + written(high) }
            if step > 1 { item += "/\(step)" }
            items.append(item)
            for value in stride(from: low, through: high, by: step) { strings.insert(written(value)) }
        }
        let sorted = strings.sorted { left, right in
            switch (left.hasPrefix("-"), right.hasPrefix("-")) {
            case (true, true): Int(left)! < Int(right)!
            case (true, false): true
            case (false, true): false
            case (false, false): (left.count, left) < (right.count, right)
            }
        }
        return ("[" + items.joined(separator: ",") + "]", sorted)
    }

    // MARK: The corpus

    /// Tricky inputs met while writing and fuzzing the parser, with their exact outcome: the names,
    /// or the error message.
    static let corpus: [(String, Result<[String], PasshError>)] = [
        ("[", .failure(PasshError(.invalidPattern, "invalid host pattern \"[\": missing ']'"))),
        ("[[", .failure(PasshError(.invalidPattern, "invalid host pattern \"[[\": '[' inside brackets"))),
        ("]]", .failure(PasshError(.invalidPattern, "invalid host pattern \"]]\": ']' without '['"))),
        ("[]]", .failure(PasshError(.invalidPattern, "invalid host pattern \"[]]\": empty brackets"))),
        ("[-]", .failure(PasshError(.invalidPattern, "invalid host pattern \"[-]\": \"-\" is not a number or range"))),
        ("[,]", .failure(PasshError(.invalidPattern, "invalid host pattern \"[,]\": empty item in [,]"))),
        ("[/]", .failure(PasshError(.invalidPattern, "invalid host pattern \"[/]\": \"/\" is not a number or range"))),
        (
            "[1-2/]",
            .failure(PasshError(.invalidPattern, "invalid host pattern \"[1-2/]\": \"1-2/\" is not a number or range"))
        ),
        (
            "[0-1]-[2]0[3]",
            .failure(
                PasshError(
                    .invalidPattern,
                    "invalid host pattern \"[0-1]-[2]0[3]\": two brackets must be separated by a non-digit"))
        ),
        (
            "a[1-2],,b",
            .failure(PasshError(.invalidPattern, "invalid host pattern \"a[1-2],,b\": empty name between commas"))
        ),
        ("x,[1-3", .failure(PasshError(.invalidPattern, "invalid host pattern \"[1-3\": missing ']'"))),
        ("a]b[1]", .failure(PasshError(.invalidPattern, "invalid host pattern \"a]b[1]\": ']' without '['"))),
        (
            "[0-999999999999999999]",
            .failure(
                PasshError(
                    .invalidPattern,
                    "host pattern \"[0-999999999999999999]\" expands to 1000000000000000000 hosts, more than the limit of 1000000"
                ))
        ),
        ("[1-5/999999999999999999]", .success(["1"])),
        ("[0]", .success(["0"])),
        ("[00]", .success(["00"])),
        ("[0-0/1]", .success(["0"])),
        ("[9-10,09]", .success(["9", "09", "10"])),
        ("[999999999999999999]", .success(["999999999999999999"])),
        ("n[999999999999999998-999999999999999999]", .success(["n999999999999999998", "n999999999999999999"])),
        ("n[000000000000000001-000000000000000002]", .success(["n000000000000000001", "n000000000000000002"])),
        ("a[1-2]:[3-4]", .success(["a1:3", "a1:4", "a2:3", "a2:4"])),
        ("a[1-2]b[::1]c[3]", .success(["a1b[::1]c3", "a2b[::1]c3"])),
        ("[::1][1-2]", .success(["[::1]1", "[::1]2"])),
        ("[:]", .success(["[:]"])),
        ("[1:2]", .success(["[1:2]"])),
        ("a,[::1],b", .success(["a", "[::1]", "b"])),
        ("@", .success(["@"])),
        (":", .success([":"])),
        ("-", .success(["-"])),
        ("ñ[1-2]", .success(["ñ1", "ñ2"])),
        ("n[1-2]\u{301}", .success(["n1\u{301}", "n2\u{301}"])),
        ("\u{0}[1]", .success(["\u{0}1"])),
        ("n[1-10/9,1-10/3,5]", .success(["n1", "n4", "n5", "n7", "n10"])),
        ("n[0-20/4,0-20/6,3-5]", .success(["n0", "n3", "n4", "n5", "n6", "n8", "n12", "n16", "n18", "n20"])),
        // ClusterShell differs on these: it gives root@195…root@204, and refuses the next two.
        (
            "root@1[95-104]",
            .success([
                "root@195", "root@196", "root@197", "root@198", "root@199", "root@1100", "root@1101", "root@1102",
                "root@1103", "root@1104",
            ])
        ),
        ("n[1-5/2]0", .success(["n10", "n30", "n50"])),
        ("9[0-9/4]5,--", .success(["905", "945", "985", "--"])),
        // ClusterShell accepts these, reading [] and [,,] as nothing.
        ("0[]5321", .failure(PasshError(.invalidPattern, "invalid host pattern \"0[]5321\": empty brackets"))),
        ("[,,]1/", .failure(PasshError(.invalidPattern, "invalid host pattern \"[,,]1/\": empty item in [,,]"))),
        // Found by scripts/fuzz (FuzzHostPattern): the bracket was shown raw, its newline breaking the
        // one-line message.
        (
            "[,\n1]:]",
            .failure(PasshError(.invalidPattern, #"invalid host pattern "[,\n1]:]": empty item in [,\n1]"#))
        ),
        // A negative number, as in ClusterShell (`nodeset -e` itself would read `-95…` as an option).
        ("-95[-648]", .success(["-95-648"])),
        ("n[-2--1,-1-1]", .success(["n-2", "n-1", "n0", "n1"])),
        // ClusterShell reads these as -2…3 and -8…-4 (it skips the text before a second '-').
        (
            "n[1-2-3]",
            .failure(
                PasshError(.invalidPattern, "invalid host pattern \"n[1-2-3]\": \"1-2-3\" is not a number or range"))
        ),
        (
            "n[1-8-2-4]",
            .failure(
                PasshError(.invalidPattern, "invalid host pattern \"n[1-8-2-4]\": \"1-8-2-4\" is not a number or range")
            )
        ),
    ]

    @Test(arguments: corpus.indices)
    func corpusEntry(index: Int) {
        let (text, outcome) = Self.corpus[index]
        switch outcome {
        case .success(let names):
            #expect((try? HostPattern.expand(text)) == names, "\(text)")
            #expect((try? HostPattern.count(text)) == names.count, "\(text)")
        case .failure(let error):
            #expect(throws: error, "\(text)") { try HostPattern.expand(text) }
        }
    }
}
