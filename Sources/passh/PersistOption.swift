/// `--persist` takes an optional value (`--persist`, `--persist=SECONDS`, `--persist SECONDS`),
/// which ArgumentParser options cannot express: a bare `--persist` among passh's own options (not
/// followed by a number) is rewritten `--persist=60` before parsing. Only passh's options are looked
/// at, never the command's: the scan stops at the first word that is not an option (HOSTS, or the
/// command after -h).
enum PersistOption {
    static let defaultSeconds = 60

    /// Options that take a value as the next word (so that value is not mistaken for HOSTS).
    static let optionsWithValue: Set<String> = [
        "-n", "-i", "-h", "-x", "-l", "-t", "-o", "-F", "--ssh", "--timeout", "--failed-to",
        "--outdir", "--errdir", "--color", "--persist",
    ]

    static func normalize(_ arguments: [String]) -> [String] {
        var result = arguments
        var index = 0
        while index < result.count {
            let word = result[index]
            if word == "--" || !word.hasPrefix("-") || word == "-" { break }
            if word == "--persist" && !(index + 1 < result.count && isNumber(result[index + 1])) {
                result[index] = "--persist=\(defaultSeconds)"
            } else if optionsWithValue.contains(word) {
                index += 1  // skip the option's value
            }
            index += 1
        }
        return result
    }

    private static func isNumber(_ word: String) -> Bool {
        !word.isEmpty && word.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
