/// Expands host patterns in the style of ClusterShell's `nodeset -e`: `web[01-10]`, `r[1-2]n[1-3]`.
///
/// The text is a comma-separated list of patterns (a comma inside brackets belongs to the
/// bracket). In each pattern, a bracket holds a set of numbers — single numbers, ranges `1-9` and
/// ranges with a step `0-6/2`, separated by commas; numbers may be negative (`-5--1`) — and the
/// pattern expands to one name per number, the text around the bracket kept:
///
/// | pattern | names |
/// |---|---|
/// | `web1,web2` | `web1` `web2` |
/// | `node[1-3,5]` | `node1` `node2` `node3` `node5` |
/// | `node[08-11]` | `node08` `node09` `node10` `node11` |
/// | `n[0-6/2]` | `n0` `n2` `n4` `n6` |
/// | `n[-2-1]` | `n-2` `n-1` `n0` `n1` |
/// | `r[1-2]n[1-2]` | `r1n1` `r1n2` `r2n1` `r2n2` |
/// | `root@web[1-2].example.com:2222` | `root@web1.example.com:2222` `root@web2.example.com:2222` |
/// | `[2001:db8::1]:2222`, `root@[::1]` | unchanged: a bracket holding a `:` (and no `,`) is an IPv6 address |
///
/// The rules, those of ClusterShell 1.10 unless said otherwise:
/// - A number written with a leading zero is zero-padded to its width: `[08-11]` gives `08 09 10 11`.
///   A range whose ends are zero-padded must have ends of the same width (`[1-010]`, `[00-3]` and
///   `[01-100]` are refused). `0` alone is not padded: `[0-10]` gives `0 1 … 10`.
/// - A negative number is `-` and digits, never zero-padded (`[-05]`, `[-10-05]` are refused);
///   `-0` is `0`. Either end of a range may be negative: `[-5--1]`, `[-2-2]`, `[-6-6/4]` gives
///   `-6 -2 2 6`.
/// - A bracket's numbers form a set of strings: duplicates are dropped and they come out sorted
///   negative numbers first, by value, then the others by width, then value (`[3,1-2,2]` gives `1 2 3`;
///   `[10,9,08]` gives `9 08 10`; `[1,-10,-2]` gives `-10 -2 1`; `1` and `01` are different names).
/// - Several brackets give the cartesian product, the first bracket varying slowest. Two brackets
///   must be separated by a non-digit (`n[1-2]1[3-4]` is refused), so that no two products give
///   the same name.
/// - Numbers have at most 18 digits; a step is 1 or more, and a single number may only have a
///   step of 1 (`[5/1]` is `5`).
/// - Patterns keep the order they are written in, and names are not de-duplicated across them
///   (`b,a,b` gives `b a b`; ``HostList`` drops duplicates). ClusterShell sorts and de-duplicates
///   the whole set instead.
/// - Where ClusterShell differs (compared with `nodeset -e` on thousands of random patterns), each
///   a deliberate rule here or a place where ClusterShell is inconsistent with itself:
///   - It trims spaces (`n[1, 2]` is refused here: a host name has no spaces), and reads numbers
///     with Python's `int`, so `[+5]`, `[1_0]` and `[١]` are `5`, `10` and `1` there, with accidental
///     padding (`[+05]` is `5`, `[01_0]` is `0010`); numbers are ASCII digits here.
///   - It accepts empty brackets and empty items when digits follow the bracket (`0[]5321`,
///     `c[1,,5]1`), though not elsewhere (`n[]`, `n[1,,5]`); never here. It accepts numbers of any
///     length (18 digits here).
///   - It refuses a bracket holding a `:` (an IPv6 address here: `[::1]:22`).
///   - It joins digits written right before a bracket to its numbers (`1[95-104]` gives
///     `195`…`204` there; here the `1` stays text: `195`…`199`, `1100`…`1104`), refuses digits right
///     after a range with a step (`n[1-5/2]0`, accepted here), and next to a bracket with negative
///     numbers gives names that match neither reading (`n1[-2]` gives `n1`…`n12`, `n[-2]1` gives
///     `n1 n11 n21`); here the digits stay text (`n1-2`, `n-21`).
///   - It skips the text before a second `-`: `[1-2-3]` is `-2-3` and `[1-8-2-4]` is `-8--4` there
///     (refused here, as `[-1-2-3]` is there).
///   - It drops the padding of a range's end when its start is not padded: `[0-00]` gives `0`,
///     `[-9-00]` gives `-9`…`0` and `[-10-05]` gives `-10`…`5` there, while `[00]` gives `00` and
///     `[-05]` is refused; here a zero-padded end needs a start of its width, and a range with a
///     negative number cannot be zero-padded.
///   - It accepts a step on a single negative number (`[-5/2]` is `-5`) but not on a positive one
///     (`[5/2]` is refused); both are refused here (a step of 1 is accepted on both).
///
/// The number of names is computed before anything is expanded, so a pattern that would expand to
/// more than a limit is refused without allocating the names.
public enum HostPattern {
    /// The most names ``expand(_:limit:)`` returns unless told otherwise: one million.
    public static let defaultLimit = 1_000_000

    /// Expands a comma-separated list of host patterns into names, in order.
    ///
    /// ```swift
    /// try HostPattern.expand("web[1-2],db[01-02]")  // ["web1", "web2", "db01", "db02"]
    /// ```
    ///
    /// - Parameters:
    ///   - text: The patterns, e.g. `node[01-10],root@web[1-3]:2222`.
    ///   - limit: The most names to expand to; a pattern list that would give more is refused
    ///     before expanding anything.
    /// - Returns: The names, patterns in the order written; a name can repeat when two patterns give it.
    /// - Throws: ``PasshError`` with code ``PasshError/Code/invalidPattern`` for a malformed pattern
    ///   (`invalid host pattern "node[5-1]": range 5-1 is inverted`) or one that expands to more than
    ///   `limit` names.
    public static func expand(_ text: String, limit: Int = defaultLimit) throws(PasshError) -> [String] {
        let parsed = try ParsedPatterns(text, limit: limit)
        var names: [String] = []
        names.reserveCapacity(parsed.count)
        for pattern in parsed.patterns {
            pattern.expand(into: &names)
        }
        return names
    }

    /// The number of names ``expand(_:limit:)`` would return, computed without expanding them.
    ///
    /// - Parameters:
    ///   - text: The patterns, as for ``expand(_:limit:)``.
    ///   - limit: As for ``expand(_:limit:)``. It also bounds the work: a bracket mixing steps
    ///     (`[1-900000/2,1-900000/3]`) is counted one number at a time, up to `limit`.
    /// - Returns: The number of names, repeats across patterns included.
    /// - Throws: The errors ``expand(_:limit:)`` throws, for the same texts.
    public static func count(_ text: String, limit: Int = defaultLimit) throws(PasshError) -> Int {
        try ParsedPatterns(text, limit: limit).count
    }

    /// The longest number a pattern may hold: 18 digits always fit in an `Int`, and so do sums of two.
    static let maximumDigits = 18
}

// MARK: - Parsing

private let comma = UInt8(ascii: ",")
private let openBracket = UInt8(ascii: "[")
private let closeBracket = UInt8(ascii: "]")
private let colon = UInt8(ascii: ":")
private let dash = UInt8(ascii: "-")
private let slash = UInt8(ascii: "/")
private let zero = UInt8(ascii: "0")

/// Appends `value` in decimal, zero-padded on the left to `width` digits (`width` is at least the
/// number of digits `value` needs).
func appendDecimal(_ value: Int, width: Int, to bytes: inout [UInt8]) {
    let start = bytes.count
    bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
    var rest = value
    var position = start + width - 1
    repeat {
        bytes[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
        rest /= 10
        position -= 1
    } while rest > 0
}

@inline(__always) private func isDigit(_ byte: UInt8) -> Bool { byte &- zero < 10 }

private func invalid(_ pattern: some Collection<UInt8>, _ problem: String) -> PasshError {
    PasshError(.invalidPattern, "invalid host pattern \(quoted(String(decoding: pattern, as: UTF8.self))): \(problem)")
}

/// A number of names that may be only a lower bound (when it does not fit in an `Int`, or when
/// counting stopped past the limit).
struct NameCount {
    var value: Int
    var isExact: Bool

    static let one = NameCount(value: 1, isExact: true)

    func adding(_ other: NameCount) -> NameCount {
        let (sum, overflow) = value.addingReportingOverflow(other.value)
        return NameCount(value: overflow ? .max : sum, isExact: isExact && other.isExact && !overflow)
    }

    func multiplied(by other: NameCount) -> NameCount {
        let (product, overflow) = value.multipliedReportingOverflow(by: other.value)
        return NameCount(value: overflow ? .max : product, isExact: isExact && other.isExact && !overflow)
    }
}

/// A whole comma-separated list, parsed and counted.
struct ParsedPatterns {
    var patterns: [ParsedPattern] = []
    var count = 0

    init(_ text: String, limit: Int) throws(PasshError) {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw invalid(bytes, "empty pattern") }
        var total = NameCount(value: 0, isExact: true)
        var start = 0
        var depth = 0
        for index in 0...bytes.count {
            if index == bytes.count || (bytes[index] == comma && depth == 0) {
                if index == start { throw invalid(bytes, "empty name between commas") }
                let pattern = try ParsedPattern(bytes[start..<index], limit: limit)
                total = total.adding(pattern.count)
                patterns.append(pattern)
                start = index + 1
            } else if bytes[index] == openBracket {
                depth += 1
            } else if bytes[index] == closeBracket, depth > 0 {
                depth -= 1
            }
        }
        if total.value > limit || !total.isExact {
            throw PasshError(
                .invalidPattern,
                "host pattern \(quoted(text)) expands to \(total.isExact ? "" : "at least ")\(total.value) hosts, more than the limit of \(limit)"
            )
        }
        count = total.value
    }
}

/// One pattern: text, then a number set, then text, and so on; `literals` has one more element than `sets`.
struct ParsedPattern {
    var literals: [[UInt8]] = [[]]
    var sets: [NumberSet] = []
    var count = NameCount.one

    init(_ bytes: ArraySlice<UInt8>, limit: Int) throws(PasshError) {
        var index = bytes.startIndex
        var onlyDigitsSinceLastSet = true
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == openBracket {
                var close = index + 1
                while close < bytes.endIndex, bytes[close] != closeBracket, bytes[close] != openBracket { close += 1 }
                guard close < bytes.endIndex else { throw invalid(bytes, "missing ']'") }
                guard bytes[close] == closeBracket else { throw invalid(bytes, "'[' inside brackets") }
                let content = bytes[(index + 1)..<close]
                if content.contains(colon), !content.contains(comma) {
                    // An IPv6 address ([2001:db8::1]:22, root@[::1]): text, not a range.
                    literals[literals.count - 1].append(contentsOf: bytes[index...close])
                    onlyDigitsSinceLastSet = false
                } else {
                    if content.isEmpty { throw invalid(bytes, "empty brackets") }
                    if !sets.isEmpty, onlyDigitsSinceLastSet {
                        throw invalid(bytes, "two brackets must be separated by a non-digit")
                    }
                    let set = try NumberSet(content, in: bytes, limit: limit)
                    count = count.multiplied(by: set.count)
                    sets.append(set)
                    literals.append([])
                    onlyDigitsSinceLastSet = true
                }
                index = close + 1
            } else if byte == closeBracket {
                throw invalid(bytes, "']' without '['")
            } else {
                literals[literals.count - 1].append(byte)
                if !isDigit(byte) { onlyDigitsSinceLastSet = false }
                index += 1
            }
        }
    }

    /// Appends every name, first set varying slowest.
    ///
    /// An odometer over the sets, not a recursion: a pattern may hold any number of brackets
    /// (`a[1]` written 50,000 times) without using the stack.
    func expand(into names: inout [String]) {
        if sets.isEmpty {
            names.append(String(decoding: literals[0], as: UTF8.self))
            return
        }
        let rendered = sets.map { $0.render() }
        let last = rendered.count - 1
        var digits = [Int](repeating: 0, count: rendered.count)  // the string of each set in the name
        var marks = [Int](repeating: 0, count: rendered.count)  // where each set's string starts in `buffer`
        var buffer: [UInt8] = []
        buffer.reserveCapacity(literals.reduce(0) { $0 + $1.count } + sets.count * (HostPattern.maximumDigits + 1))
        buffer.append(contentsOf: literals[0])
        var level = 0  // the first set whose string changed: the buffer is rebuilt from there
        while true {
            for index in level...last {
                marks[index] = buffer.count
                let strings = rendered[index]
                let digit = digits[index]
                let start = digit == 0 ? 0 : strings.ends[digit - 1]
                buffer.append(contentsOf: strings.bytes[start..<strings.ends[digit]])
                buffer.append(contentsOf: literals[index + 1])
            }
            names.append(String(decoding: buffer, as: UTF8.self))
            level = last
            while digits[level] + 1 == rendered[level].ends.count {
                digits[level] = 0
                if level == 0 { return }
                level -= 1
            }
            digits[level] += 1
            buffer.removeLast(buffer.count - marks[level])
        }
    }
}

// MARK: - Number sets

/// An arithmetic progression `first, first + step, …, last` (`last` is a member).
struct Progression {
    var first: Int
    var last: Int
    var step: Int

    var count: Int { (last - first) / step + 1 }

    /// How many members lie in `low...high`.
    func count(in low: Int, _ high: Int) -> Int {
        let low = max(low, first)
        let high = min(high, last)
        if low > high { return 0 }
        let firstIndex = (low - first + step - 1) / step
        let lastIndex = (high - first) / step
        return max(0, lastIndex - firstIndex + 1)
    }
}

/// The numbers of one bracket, as digit strings: grouped by string length ("width"), each group a
/// set of integers held as progressions, so that `[1-999999999]` costs no memory.
struct NumberSet {
    /// Strings of one width (width 0: the negative numbers, written unpadded, `-12 -5 -1`): step-1
    /// intervals (sorted, disjoint, not adjacent) and progressions with a step of 2 or more
    /// (disjoint when they share a step; possibly overlapping otherwise).
    struct WidthClass {
        var width: Int
        var intervals: [Progression]
        var stepped: [Progression]
    }

    var classes: [WidthClass] = []
    var count = NameCount(value: 0, isExact: true)

    init(_ content: ArraySlice<UInt8>, in pattern: ArraySlice<UInt8>, limit: Int) throws(PasshError) {
        var byWidth = [[Progression]](repeating: [], count: HostPattern.maximumDigits + 1)
        var itemStart = content.startIndex
        for index in content.startIndex...content.endIndex where index == content.endIndex || content[index] == comma {
            let item = content[itemStart..<index]
            if item.isEmpty {
                // The bracket escaped as the pattern is (a newline in it would break the one-line message).
                let shown = quoted(String(decoding: content, as: UTF8.self)).dropFirst().dropLast()
                throw invalid(pattern, "empty item in [\(shown)]")
            }
            try Self.parseItem(item, in: pattern, into: &byWidth)
            itemStart = index + 1
        }
        for width in byWidth.indices where !byWidth[width].isEmpty {
            let widthClass = Self.normalize(byWidth[width], width: width)
            classes.append(widthClass)
            count = count.adding(widthClass.count(limit: limit))
        }
    }

    /// Parses `N`, `N-M` or `N-M/S`, where `N` and `M` may be negative (`-5`, `-5--1`, `-2-2/2`), and
    /// adds its members to the progressions of their widths (width 0: the negative numbers).
    private static func parseItem(
        _ item: ArraySlice<UInt8>, in pattern: ArraySlice<UInt8>, into byWidth: inout [[Progression]]
    ) throws(PasshError) {
        let shown = String(decoding: item, as: UTF8.self)
        var index = item.startIndex
        func digits(signed: Bool) -> (isNegative: Bool, digits: ArraySlice<UInt8>)? {
            let isNegative = signed && index < item.endIndex && item[index] == dash
            if isNegative { index += 1 }
            let start = index
            while index < item.endIndex, isDigit(item[index]) { index += 1 }
            return index > start ? (isNegative, item[start..<index]) : nil
        }
        func skip(_ byte: UInt8) -> Bool {
            guard index < item.endIndex, item[index] == byte else { return false }
            index += 1
            return true
        }
        let low = digits(signed: true)
        let isRange = skip(dash)
        let high = isRange ? digits(signed: true) : low
        let hasStep = skip(slash)
        let stepDigits = hasStep ? digits(signed: false)?.digits : nil
        guard let low, let high, !hasStep || stepDigits != nil, index == item.endIndex else {
            throw invalid(pattern, "\(quoted(shown)) is not a number or range")
        }
        let numbers = [low.digits, high.digits, stepDigits ?? []]
        if let long = numbers.first(where: { $0.count > HostPattern.maximumDigits }) {
            let shownNumber = String(decoding: long, as: UTF8.self)
            throw invalid(pattern, "\(shownNumber) has more than \(HostPattern.maximumDigits) digits")
        }
        func value(_ digits: ArraySlice<UInt8>) -> Int { digits.reduce(0) { $0 * 10 + Int($1 - zero) } }
        if !isRange, let stepDigits, value(stepDigits) != 1 {  // `5/1` is 5, as in ClusterShell
            throw invalid(pattern, "\(quoted(shown)) has a step but no range")
        }
        func isPadded(_ digits: ArraySlice<UInt8>) -> Bool { digits.count > 1 && digits.first == zero }
        if (low.isNegative || high.isNegative) && (isPadded(low.digits) || isPadded(high.digits)) {
            throw invalid(pattern, "range \(shown): a range with a negative number cannot be zero-padded")
        }
        if (isPadded(low.digits) || isPadded(high.digits)) && low.digits.count != high.digits.count {
            throw invalid(pattern, "range \(shown): zero-padded ends must have the same number of digits")
        }
        let first = low.isNegative ? -value(low.digits) : value(low.digits)
        let last = high.isNegative ? -value(high.digits) : value(high.digits)
        if first > last { throw invalid(pattern, "range \(shown) is inverted") }
        let step = stepDigits.map(value) ?? 1
        if step == 0 { throw invalid(pattern, "range \(shown) has a step of 0") }
        if isPadded(low.digits) {
            let progression = Progression(first: first, last: first + (last - first) / step * step, step: step)
            byWidth[low.digits.count].append(progression)
            return
        }
        if first < 0 {  // -5--1, or the negative part of -2-2: written as `-` and digits, never padded
            let end = min(last, -1)
            byWidth[0].append(Progression(first: first, last: first + (end - first) / step * step, step: step))
        }
        // Unpadded: 8-12 gives 8 and 9 (width 1), then 10, 11 and 12 (width 2).
        var width = decimalWidth(max(first, 0))
        while width <= HostPattern.maximumDigits {
            let widthLow = width == 1 ? 0 : powersOfTen[width - 1]
            let widthHigh = powersOfTen[width] - 1
            if widthLow > last { break }
            let from = max(first, widthLow)
            let start = first + (from - first + step - 1) / step * step
            let end = min(last, widthHigh)
            if start <= end {
                byWidth[width].append(Progression(first: start, last: start + (end - start) / step * step, step: step))
            }
            width += 1
        }
    }

    /// Merges overlapping progressions: step-1 intervals together, stepped ones with the same step
    /// and remainder together.
    private static func normalize(_ progressions: [Progression], width: Int) -> WidthClass {
        var intervals: [Progression] = []
        var stepped: [Progression] = []
        for progression in progressions {
            if progression.step == 1 || progression.first == progression.last {
                intervals.append(Progression(first: progression.first, last: progression.last, step: 1))
            } else {
                stepped.append(progression)
            }
        }
        intervals.sort { $0.first < $1.first }
        var mergedIntervals: [Progression] = []
        for interval in intervals {
            if let lastIndex = mergedIntervals.indices.last, interval.first <= mergedIntervals[lastIndex].last + 1 {
                mergedIntervals[lastIndex].last = max(mergedIntervals[lastIndex].last, interval.last)
            } else {
                mergedIntervals.append(interval)
            }
        }
        stepped.sort { ($0.step, $0.first % $0.step, $0.first) < ($1.step, $1.first % $1.step, $1.first) }
        var mergedStepped: [Progression] = []
        for progression in stepped {
            if let lastIndex = mergedStepped.indices.last,
                mergedStepped[lastIndex].step == progression.step,
                mergedStepped[lastIndex].first % progression.step == progression.first % progression.step,
                progression.first <= mergedStepped[lastIndex].last + progression.step
            {
                mergedStepped[lastIndex].last = max(mergedStepped[lastIndex].last, progression.last)
            } else {
                mergedStepped.append(progression)
            }
        }
        return WidthClass(width: width, intervals: mergedIntervals, stepped: mergedStepped)
    }

    /// The strings of the set in order, concatenated; `ends[i]` is where string `i` ends.
    func render() -> (bytes: [UInt8], ends: [Int]) {
        var bytes: [UInt8] = []
        var ends: [Int] = []
        let total = count.value
        ends.reserveCapacity(total)
        for widthClass in classes {
            let width = widthClass.width
            if width == 0 {  // negative numbers: -5 -4 … -1
                widthClass.forEachMember { value in
                    bytes.append(dash)
                    appendDecimal(-value, width: decimalWidth(-value), to: &bytes)
                    ends.append(bytes.count)
                }
                continue
            }
            widthClass.forEachMember { value in
                appendDecimal(value, width: width, to: &bytes)
                ends.append(bytes.count)
            }
        }
        return (bytes, ends)
    }
}

extension NumberSet.WidthClass {
    /// The number of distinct members; counting stops past `limit` when stepped progressions with
    /// different steps overlap (the count is then a lower bound above `limit`).
    func count(limit: Int) -> NameCount {
        var total = intervals.reduce(0) { $0 + $1.count }
        if stepped.isEmpty { return NameCount(value: total, isExact: true) }
        if stepped.allSatisfy({ $0.step == stepped[0].step }) {
            // The stepped progressions are disjoint: count what the intervals do not already hold.
            for progression in stepped {
                total += progression.count - coveredByIntervals(progression)
            }
            return NameCount(value: total, isExact: true)
        }
        var members = 0
        var merge = MemberMerge(intervals + stepped)
        while merge.next() != nil {
            members += 1
            if members > limit { return NameCount(value: members, isExact: false) }
        }
        return NameCount(value: members, isExact: true)
    }

    /// How many members of `progression` the intervals hold.
    private func coveredByIntervals(_ progression: Progression) -> Int {
        var low = 0
        var high = intervals.count
        while low < high {  // the first interval ending at or after progression.first
            let middle = (low + high) / 2
            if intervals[middle].last < progression.first { low = middle + 1 } else { high = middle }
        }
        var covered = 0
        var index = low
        while index < intervals.count, intervals[index].first <= progression.last {
            covered += progression.count(in: intervals[index].first, intervals[index].last)
            index += 1
        }
        return covered
    }

    /// Calls `body` with every member, ascending, once.
    func forEachMember(_ body: (Int) -> Void) {
        if stepped.isEmpty {
            for interval in intervals {
                for value in interval.first...interval.last { body(value) }
            }
            return
        }
        var merge = MemberMerge(intervals + stepped)
        while let value = merge.next() { body(value) }
    }
}

/// Merges progressions into one ascending sequence without repeats (a min-heap on each one's next member).
struct MemberMerge {
    private var heap: [(next: Int, last: Int, step: Int)]
    private var previous: Int?

    init(_ progressions: [Progression]) {
        heap = progressions.map { (next: $0.first, last: $0.last, step: $0.step) }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    mutating func next() -> Int? {
        while let top = heap.first {
            let value = top.next
            if top.last - value >= top.step {
                heap[0].next = value + top.step
            } else {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
            }
            if !heap.isEmpty { siftDown(0) }
            if value != previous {
                previous = value
                return value
            }
        }
        return nil
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            if left >= heap.count { return }
            var smallest = left
            if left + 1 < heap.count, heap[left + 1].next < heap[left].next { smallest = left + 1 }
            if heap[smallest].next >= heap[parent].next { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// 10⁰ … 10¹⁸.
let powersOfTen: [Int] = (0...HostPattern.maximumDigits).map { exponent in
    (0..<exponent).reduce(1) { value, _ in value * 10 }
}

/// The number of decimal digits of a non-negative number (1 for 0).
func decimalWidth(_ value: Int) -> Int {
    var width = 1
    while width < powersOfTen.count, value >= powersOfTen[width] { width += 1 }
    return width
}
