/// Words for a remote POSIX shell: the copy commands are built here, never from a local shell.
enum RemoteShell {
    /// `text` as one word of a POSIX shell: single-quoted, a `'` written `'\''`. A leading `~/`
    /// stays the remote home: `~/x y` is `"$HOME"/'x y'`.
    static func quote(_ text: String) -> String {
        if text == "~" { return "\"$HOME\"" }
        if text.hasPrefix("~/") { return "\"$HOME\"/" + literal(String(text.dropFirst(2))) }
        return literal(text)
    }

    /// `text` as one word of a POSIX shell, taken literally: a `~` is a `~`.
    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}

extension String {
    /// Every `target` replaced by `replacement` (the library does not import Foundation).
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
