/// One line of an ssh_config file, split as OpenSSH 9's `readconf.c` splits it: the keyword (up to
/// whitespace or one `=`, lowercased), then the arguments (`argv_split`: whitespace-separated,
/// `"…"` and `'…'` quoting, `\` escaping a quote, a backslash or a space, a `#` starting a word
/// ending the line).
///
/// Commands (ProxyCommand, LocalCommand, RemoteCommand, KnownHostsCommand) and Match criteria are
/// read from ``rest``, the text after the keyword as written.
struct SSHConfigLine: Sendable, Hashable {
    /// The line's number in its file, from 1.
    let number: Int
    /// The keyword, lowercased (`identityfile`), as written (not yet an alias's canonical name).
    let keyword: String
    /// The arguments, unquoted.
    let arguments: [String]
    /// The text after the keyword and its separator, trailing whitespace removed.
    let rest: String

    /// What is wrong with a line, in OpenSSH's words.
    enum Problem: Error, Equatable {
        case noArgument(keyword: String)
        case invalidQuotes
    }

    /// The line, or `nil` for a blank line or a comment.
    ///
    /// - Throws: ``Problem`` for a keyword without an argument, or unbalanced quotes: OpenSSH
    ///   refuses the whole configuration for either.
    static func parse(_ text: Substring, number: Int) throws(Problem) -> SSHConfigLine? {
        // Trailing whitespace (and form feeds) go; OpenSSH keeps the first character whatever it is.
        var scalars = Array(text.unicodeScalars)
        while scalars.count > 1, let last = scalars.last, Self.isSpace(last) || last == "\u{0C}" {
            scalars.removeLast()
        }
        var index = 0
        guard var keyword = delimited(scalars, &index) else { return nil }
        if keyword.isEmpty {
            guard let next = delimited(scalars, &index) else { return nil }
            keyword = next
        }
        if keyword.isEmpty || keyword.hasPrefix("#") || keyword == "\n" { return nil }
        keyword = keyword.lowercased()
        while index < scalars.count, isSpace(scalars[index]) { index += 1 }
        guard index < scalars.count else { throw .noArgument(keyword: keyword) }
        var rest = String.UnicodeScalarView()
        rest.append(contentsOf: scalars[index...])
        guard let arguments = splitArguments(scalars[index...]) else { throw .invalidQuotes }
        return SSHConfigLine(number: number, keyword: keyword, arguments: arguments, rest: String(rest))
    }

    /// Space, tab, CR, LF: OpenSSH's `WHITESPACE`.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\n"
    }

    /// OpenSSH's `strdelim`: the next token, ending at whitespace, a quote or one `=`; a token
    /// opened by `"` runs to the next `"`. `nil` at the end, or for an unclosed quote.
    static func delimited(_ scalars: [Unicode.Scalar], _ index: inout Int) -> String? {
        guard index <= scalars.count else { return nil }
        let start = index
        var end = start
        while end < scalars.count, !isSpace(scalars[end]), scalars[end] != "\"", scalars[end] != "=" { end += 1 }
        if end == scalars.count {
            index = scalars.count + 1
            return String(String.UnicodeScalarView(scalars[start..<end]))
        }
        if scalars[end] == "\"" {
            var token = String.UnicodeScalarView(scalars[start..<end])
            guard let close = scalars[(end + 1)...].firstIndex(of: "\"") else { return nil }
            token.append(contentsOf: scalars[(end + 1)..<close])
            index = close + 1
            while index < scalars.count, isSpace(scalars[index]) { index += 1 }
            return String(token)
        }
        let token = String(String.UnicodeScalarView(scalars[start..<end]))
        let equals = scalars[end] == "="
        index = end + 1
        while index < scalars.count, isSpace(scalars[index]) { index += 1 }
        if !equals, index < scalars.count, scalars[index] == "=" {
            index += 1
            while index < scalars.count, isSpace(scalars[index]) { index += 1 }
        }
        return token
    }

    /// OpenSSH's `argv_split` with comments ending the line; `nil` for an unclosed quote.
    static func splitArguments(_ scalars: ArraySlice<Unicode.Scalar>) -> [String]? {
        var arguments: [String] = []
        var index = scalars.startIndex
        let end = scalars.endIndex
        while index < end {
            let scalar = scalars[index]
            if scalar == " " || scalar == "\t" {
                index += 1
                continue
            }
            if scalar == "#" { break }
            var quote: Unicode.Scalar?
            var word = String.UnicodeScalarView()
            while index < end {
                let current = scalars[index]
                if current == "\\", index + 1 < end {
                    let next = scalars[index + 1]
                    if next == "'" || next == "\"" || next == "\\" || (quote == nil && next == " ") {
                        index += 1
                        word.append(next)
                    } else {
                        word.append(current)
                    }
                } else if current == "\\" {
                    word.append(current)
                } else if quote == nil && (current == " " || current == "\t") {
                    break
                } else if quote == nil && (current == "\"" || current == "'") {
                    quote = current
                } else if let open = quote, current == open {
                    quote = nil
                } else {
                    word.append(current)
                }
                index += 1
            }
            if index >= end && quote != nil { return nil }
            arguments.append(String(word))
        }
        return arguments
    }
}
