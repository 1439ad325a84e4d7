/// The output a page shows for an example: a pattern over the lines the command prints.
///
/// - A line that is exactly `…` stands for any number of lines, none included.
/// - `…` inside a line stands for any text within that line.
/// - Consecutive lines that start with a host prefix (`[web1] `) may come in any order between
///   hosts — passh prints each host's lines as they arrive — but each host's own lines keep their
///   order, and every other line keeps its place. (A host's stdout and stderr come through two pipes,
///   in no fixed order between them: where a host writes on both, a page shows one stream at a time.)
/// - A carriage return ending a printed line is not compared: a terminal does not show it (ssh ends
///   its own messages with `\r\n`).
///
/// Everything else is compared exactly.
struct ExpectedOutput: Sendable, Equatable {
    let lines: [String]

    /// The wildcard: a line of its own for any lines, inside a line for any text.
    static let wildcard = "…"

    init(_ lines: [String]) { self.lines = lines }

    /// Where `actual` departs from the pattern, or `nil` when it matches.
    struct Mismatch: Equatable {
        /// The expected line that found no match; `lines.count` when `actual` goes on past the pattern.
        var expectedIndex: Int
        /// The printed line found there; `nil` when the output had ended.
        var actual: String?
    }

    /// Whether `actual` (the printed lines, without their newlines) matches.
    func matches(_ actual: [String]) -> Bool { mismatch(actual) == nil }

    /// Where `actual` departs from the pattern: the furthest point any way of matching reached.
    func mismatch(_ actual: [String]) -> Mismatch? {
        let actual = actual.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        let expected = lines
        var failed = Set<[Int]>()
        var furthest = (expected: 0, position: 0, line: actual.first)

        func reach(_ i: Int, _ j: Int, _ line: String?) {
            if i > furthest.expected || (i == furthest.expected && j > furthest.position) { furthest = (i, j, line) }
        }

        func match(_ i: Int, _ j: Int) -> Bool {
            reach(i, j, j < actual.count ? actual[j] : nil)
            if i == expected.count { return j == actual.count }
            if failed.contains([i, j]) { return false }
            var matched = false
            if expected[i] == Self.wildcard {
                matched = (j...actual.count).contains { match(i + 1, $0) }
            } else if Self.hostPrefix(expected[i]) != nil {
                var end = i + 1
                while end < expected.count && expected[end] != Self.wildcard && Self.hostPrefix(expected[end]) != nil {
                    end += 1
                }
                let printed = actual[j..<min(j + end - i, actual.count)]
                if let (offset, line) = Self.hostLinesMismatch(expected[i..<end], printed) {
                    reach(i + offset, j + offset, line)
                } else {
                    matched = match(end, j + end - i)
                }
            } else {
                matched = j < actual.count && Self.lineMatches(expected[i], actual[j]) && match(i + 1, j + 1)
            }
            if !matched { failed.insert([i, j]) }
            return matched
        }

        if match(0, 0) { return nil }
        return Mismatch(expectedIndex: furthest.expected, actual: furthest.line)
    }

    /// The host prefix of a line (`[web1] `), unless it holds a wildcard; `nil` for other lines.
    static func hostPrefix(_ line: String) -> Substring? {
        guard line.hasPrefix("["), let end = line.firstRange(of: "] ") else { return nil }
        let prefix = line[..<end.upperBound]
        return prefix.contains(wildcard) ? nil : prefix
    }

    /// Where host lines (as many as `expected`, fewer when the output ended) fail to match — the offset
    /// of the first expected line, in the page's order, that its host's printed lines do not match, and
    /// the printed line it met — or `nil` when they match: each host's lines in order, hosts in any order.
    static func hostLinesMismatch(
        _ expected: ArraySlice<String>, _ actual: ArraySlice<String>
    ) -> (offset: Int, actual: String?)? {
        var printedByHost: [Substring: [String]] = [:]
        var strangers: [String] = []
        for line in actual {
            if let prefix = hostPrefix(line), expected.contains(where: { hostPrefix($0) == prefix }) {
                printedByHost[prefix, default: []].append(line)
            } else {
                strangers.append(line)
            }
        }
        var seen: [Substring: Int] = [:]
        for (offset, line) in expected.enumerated() {
            let prefix = hostPrefix(line)!
            let index = seen[prefix, default: 0]
            seen[prefix] = index + 1
            let printed = printedByHost[prefix] ?? []
            guard index < printed.count, lineMatches(line, printed[index]) else {
                return (offset, index < printed.count ? printed[index] : strangers.first)
            }
        }
        return nil
    }

    /// Whether `line` matches `pattern`, whose `…` stand for any text.
    static func lineMatches(_ pattern: String, _ line: String) -> Bool {
        let parts = pattern.split(separator: wildcard, omittingEmptySubsequences: false)
        guard parts.count > 1 else { return pattern == line }
        var rest = Substring(line)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.firstRange(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return rest.hasSuffix(parts.last!)
    }
}
