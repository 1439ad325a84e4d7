/// ssh_config's patterns (OpenSSH's `match.c`): `*` matches any run of bytes, `?` any one byte,
/// everything else itself; a pattern list is comma-separated, a `!` in front of an element making
/// a match of it refuse the whole list.
enum SSHConfigPattern {
    /// Whether `pattern` matches all of `string` (bytes compared as they are).
    static func matches(_ string: String, _ pattern: String) -> Bool {
        matches(Array(string.utf8)[...], Array(pattern.utf8)[...])
    }

    /// The same as ``matches(_:_:)`` on bytes; iterative, so no pattern can make it recurse deeply
    /// or take exponential time: a `*` that fails is retried one byte further, from the last `*`.
    static func matches(_ string: ArraySlice<UInt8>, _ pattern: ArraySlice<UInt8>) -> Bool {
        var s = string.startIndex
        var p = pattern.startIndex
        var star: (pattern: Int, string: Int)?
        while s < string.endIndex {
            if p < pattern.endIndex, pattern[p] == UInt8(ascii: "*") {
                p += 1
                star = (p, s)
            } else if p < pattern.endIndex, pattern[p] == UInt8(ascii: "?") || pattern[p] == string[s] {
                p += 1
                s += 1
            } else if let last = star {
                p = last.pattern
                s = last.string + 1
                star = (last.pattern, last.string + 1)
            } else {
                return false
            }
        }
        while p < pattern.endIndex, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }

    /// The result of matching a pattern list.
    enum ListMatch { case positive, negative, none }

    /// OpenSSH's `match_pattern_list`: `.negative` as soon as a `!` element matches, `.positive`
    /// when another element matched, else `.none`; with `lowercasingPatterns`, the elements are
    /// lowercased (ASCII) first. An element of 1023 bytes or more makes the whole list not match.
    static func matchList(_ string: String, _ list: String, lowercasingPatterns: Bool) -> ListMatch {
        let bytes = Array(string.utf8)[...]
        var positive = false
        var elements = list.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        if elements.last?.isEmpty == true { elements.removeLast() }  // OpenSSH makes no element after a last comma
        for element in elements {
            var element = Array(element)[...]
            let negated = element.first == UInt8(ascii: "!")
            if negated { element = element.dropFirst() }
            if element.count >= 1023 { return .none }
            if lowercasingPatterns {
                element = ArraySlice(element.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 })
            }
            if matches(bytes, element) {
                if negated { return .negative }
                positive = true
            }
        }
        return positive ? .positive : .none
    }

    /// OpenSSH's `match_hostname`: the host lowercased, against the lowercased list.
    static func matchHost(_ host: String, _ list: String) -> Bool {
        matchList(lowercasedASCII(host), list, lowercasingPatterns: true) == .positive
    }

    /// `text` with A–Z lowercased and every other byte kept.
    static func lowercasedASCII(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
