/// Folds host names into a short pattern, the inverse of ``HostPattern``: `h0001 h0002 h0003 h0005`
/// becomes `h[0001-0003,0005]`. Used for the headers of gathered output (`clush -b` style).
///
/// Names are grouped by the text around one run of digits, their last run of digits (but not a
/// `:PORT` at the end when the name has another run: `web1:22` and `web2:22` fold to
/// `web[1-2]:22`, as in ClusterShell). The numbers of a group are folded into ranges, a number
/// keeping its zero-padding (`h1 h01 h2 h02` gives `h[1-2,01-02]`); a group of one name, and a name
/// without digits, is written as it is. Groups are sorted as ClusterShell's `nodeset -f` sorts
/// them: by their text with `%s` in place of the number, compared code point by code point
/// (`[1-3],H1,_1,a,h[1-2]`), and joined with `,`. Repeated names count once.
///
/// For the names ``HostPattern`` produces, expanding the folded text gives the same set of names.
///
/// Where this differs from `nodeset -f` (ClusterShell 1.10):
/// - Only one run of digits is folded; ClusterShell folds several dimensions at once
///   (`a1b1 a1b2 a2b1 a2b2` gives `a1b[1-2],a2b[1-2]` here, `a[1-2]b[1-2]` there; `web1:22 web1:23`
///   gives `web1:22,web1:23` here, `web1:[22-23]` there).
/// - Digits inside brackets (`[2001:db8::1]`) are never folded, and a run of more than 18 digits
///   leaves its name as it is.
/// - Any name is accepted as it is; ClusterShell parses the names as patterns (`a!1` is an operator
///   there).
/// - A `-` before digits is text, so the names of `n[-2-2]` fold to `n[0-2],n-[1-2]`, as
///   `nodeset -f` folds those names; given the pattern itself, `nodeset -f` keeps `n[-2-2]`.
public enum HostFolding {
    /// Folds names into a comma-separated list of patterns, e.g. `db1,web[01-03,05].example.com`.
    ///
    /// - Parameter names: The names, in any order; repeats are ignored.
    /// - Returns: The folded text; the empty string when there are no names.
    public static func fold(_ names: some Sequence<String>) -> String {
        var groupIndex: [GroupKey: Int] = [:]
        var groups: [(key: GroupKey, numbers: [Number])] = []
        var plain: Set<String> = []
        var last = -1  // the group of the previous name: consecutive names mostly share one
        for var name in names {
            let folded = name.withUTF8 { bytes in
                guard let run = foldableRun(bytes) else { return false }
                let prefix = bytes[..<run.lowerBound]
                let suffix = bytes[run.upperBound...]
                let number = Number(width: run.count, value: bytes[run].reduce(0) { $0 * 10 + Int($1 &- zero) })
                if last >= 0, groups[last].key.prefix.elementsEqual(prefix),
                    groups[last].key.suffix.elementsEqual(suffix)
                {
                    groups[last].numbers.append(number)
                    return true
                }
                let key = GroupKey(prefix: Array(prefix), suffix: Array(suffix))
                if let index = groupIndex[key] {
                    last = index
                } else {
                    last = groups.count
                    groupIndex[key] = last
                    groups.append((key, []))
                }
                groups[last].numbers.append(number)
                return true
            }
            if !folded { plain.insert(name) }
        }
        var entries: [(sortKey: [UInt8], isGroup: Bool, text: String)] = plain.map { (Array($0.utf8), false, $0) }
        for (key, numbers) in groups {
            let sortKey = key.prefix + Array("%s".utf8) + key.suffix
            var text = key.prefix
            var unique = numbers.sorted()
            unique.removeSubrange(unique.partitionedUnique())
            if unique.count == 1 {
                unique[0].append(to: &text)
            } else {
                text.append(UInt8(ascii: "["))
                appendRanges(unique, to: &text)
                text.append(UInt8(ascii: "]"))
            }
            text += key.suffix
            entries.append((sortKey, true, String(decoding: text, as: UTF8.self)))
        }
        entries.sort { left, right in
            left.sortKey.lexicographicallyPrecedes(right.sortKey)
                || (left.sortKey == right.sortKey && !left.isGroup && right.isGroup)
        }
        return entries.map(\.text).joined(separator: ",")
    }

    /// The run of digits to fold on: the last one outside brackets, except a `:PORT` ending the
    /// name when another run comes before it; `nil` when there is none or it is too long.
    static func foldableRun(_ bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var lastRun: Range<Int>?
        var runBefore: Range<Int>?
        var colons = 0
        var lastColon = -1
        var depth = 0
        var runStart = -1
        for index in 0...bytes.count {
            let byte = index < bytes.count ? bytes[index] : 0
            if index < bytes.count, depth == 0, byte &- zero < 10 {
                if runStart < 0 { runStart = index }
                continue
            }
            if runStart >= 0 {
                runBefore = lastRun
                lastRun = runStart..<index
                runStart = -1
            }
            if byte == UInt8(ascii: "[") {
                depth += 1
            } else if byte == UInt8(ascii: "]") {
                depth = max(0, depth - 1)
            } else if byte == UInt8(ascii: ":"), depth == 0 {
                colons += 1
                lastColon = index
            }
        }
        guard var run = lastRun else { return nil }
        if let before = runBefore, colons == 1, lastColon + 1 == run.lowerBound, run.upperBound == bytes.count {
            run = before
        }
        return run.count <= HostPattern.maximumDigits ? run : nil
    }

    /// Appends `1-3,5,08-11`: runs of consecutive numbers that expand back to the same strings.
    ///
    /// - Parameter numbers: Sorted, without repeats.
    private static func appendRanges(_ numbers: [Number], to text: inout [UInt8]) {
        var index = 0
        while index < numbers.count {
            let start = numbers[index]
            var end = index
            while end + 1 < numbers.count, numbers[end + 1].value == numbers[end].value + 1,
                start.continues(with: numbers[end + 1])
            {
                end += 1
            }
            if index > 0 { text.append(UInt8(ascii: ",")) }
            start.append(to: &text)
            if end > index {
                text.append(UInt8(ascii: "-"))
                numbers[end].append(to: &text)
            }
            index = end + 1
        }
    }

    private struct GroupKey: Hashable {
        var prefix: [UInt8]
        var suffix: [UInt8]
    }

    /// A number as written: its value and the length of its digits (more than the value's own
    /// digits when zero-padded). Ordered by width, then value, as ClusterShell orders them.
    private struct Number: Hashable, Comparable {
        var width: Int
        var value: Int

        var isPadded: Bool { width > decimalWidth(value) }

        /// Whether `next` can end a range that starts here: a padded range keeps one width, an
        /// unpadded one holds only unpadded numbers.
        func continues(with next: Number) -> Bool {
            isPadded ? next.width == width : !next.isPadded
        }

        func append(to text: inout [UInt8]) {
            appendDecimal(value, width: width, to: &text)
        }

        static func < (left: Number, right: Number) -> Bool {
            (left.width, left.value) < (right.width, right.value)
        }
    }
}

private let zero = UInt8(ascii: "0")

extension Array where Element: Equatable {
    /// Moves the first of each run of equal elements to the front, in order, and returns the range
    /// of the rest (to remove).
    fileprivate mutating func partitionedUnique() -> Range<Int> {
        guard !isEmpty else { return 0..<0 }
        var kept = 1
        for index in 1..<count where self[index] != self[kept - 1] {
            swapAt(kept, index)
            kept += 1
        }
        return kept..<count
    }
}
