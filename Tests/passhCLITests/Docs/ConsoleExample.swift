/// One `$ command` of a ` ```console ` block in a Markdown page, and the output the page shows for it.
///
/// In a console block, a line starting with `$ ` is a command, as a user types it; the lines after
/// it, up to the next command or the end of the block, are what it prints (stdout and stderr as a
/// terminal shows them). A command line ending in `\` goes on on the next line, and a here-document
/// (`cat > hosts.txt <<'EOF'`) takes the lines up to its delimiter. Other fences (` ```sh `,
/// ` ```text `) are illustrations and hold no examples.
struct ConsoleExample: Sendable, CustomStringConvertible {
    /// The page, relative to the repository (`docs/hosts.md`).
    let file: String
    /// The line of the `$` (from 1).
    let line: Int
    /// What the user types, without the `$ `: lines joined by newlines (continuations, here-documents).
    let command: String
    /// The output the page shows.
    let expected: ExpectedOutput
    /// The line of the first output line (the line after the command when it shows none).
    let outputLine: Int

    var description: String { "\(file):\(line): $ \(command.split(separator: "\n").first ?? "")" }

    /// The examples of `markdown`, the text of `file`; a console block whose first line is not a
    /// command is a mistake of the page, returned in `problems`.
    static func examples(in markdown: String, file: String) -> (examples: [ConsoleExample], problems: [String]) {
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var examples: [ConsoleExample] = []
        var problems: [String] = []
        var index = 0
        while index < lines.count {
            guard let fence = Fence(opening: lines[index]) else {
                index += 1
                continue
            }
            // The block's lines, without the fence's indentation (a block inside a list item).
            var body: [(number: Int, text: String)] = []
            index += 1
            while index < lines.count && !fence.closes(lines[index]) {
                body.append((index + 1, fence.unindent(lines[index])))
                index += 1
            }
            index += 1
            guard fence.isConsole else { continue }
            var position = 0
            while position < body.count {
                guard let first = commandText(body[position].text) else {
                    problems.append(
                        "\(file):\(body[position].number): a console block's lines must start with a `$ ` command")
                    break
                }
                let number = body[position].number
                var command = first
                position += 1
                while command.hasSuffix("\\") && position < body.count {
                    command = String(command.dropLast()) + "\n" + body[position].text
                    position += 1
                }
                if let delimiter = hereDocumentDelimiter(command) {
                    while position < body.count {
                        let text = body[position].text
                        command += "\n" + text
                        position += 1
                        if text == delimiter.word
                            || (delimiter.tabsStripped && text.drop(while: { $0 == "\t" }) == delimiter.word)
                        {
                            break
                        }
                    }
                }
                let outputStart = position
                while position < body.count && commandText(body[position].text) == nil { position += 1 }
                let outputLine = outputStart < body.count ? body[outputStart].number : (body.last?.number ?? number) + 1
                examples.append(
                    ConsoleExample(
                        file: file, line: number, command: command,
                        expected: ExpectedOutput(body[outputStart..<position].map(\.text)), outputLine: outputLine))
            }
        }
        return (examples, problems)
    }

    /// The command of a `$ command` line, else `nil`.
    private static func commandText(_ line: String) -> String? {
        line.hasPrefix("$ ") ? String(line.dropFirst(2)) : nil
    }

    /// The delimiter of the first here-document the command opens (`<<EOF`, `<<'EOF'`, `<<-EOF`).
    private static func hereDocumentDelimiter(_ command: String) -> (word: String, tabsStripped: Bool)? {
        guard let match = command.firstMatch(of: /<<(-?)\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?/) else { return nil }
        return (String(match.output.2), !match.output.1.isEmpty)
    }
}

/// A fenced code block's opening line: its indentation, its fence and its language.
private struct Fence {
    let indentation: Int
    let marker: String
    let isConsole: Bool

    init?(opening line: String) {
        let indentation = line.prefix(while: { $0 == " " }).count
        let rest = line.dropFirst(indentation)
        guard let character = rest.first, character == "`" || character == "~" else { return nil }
        let marker = rest.prefix(while: { $0 == character })
        guard marker.count >= 3 else { return nil }
        self.indentation = indentation
        self.marker = String(marker)
        let info = rest.dropFirst(marker.count).split(separator: " ").first ?? ""
        self.isConsole = info == "console"
    }

    /// Whether `line` ends the block.
    func closes(_ line: String) -> Bool {
        let rest = line.drop(while: { $0 == " " })
        return rest.hasPrefix(marker) && rest.allSatisfy({ $0 == marker.first! || $0 == " " })
    }

    /// `line` without the fence's indentation.
    func unindent(_ line: String) -> String {
        var text = Substring(line)
        var removed = 0
        while removed < indentation && text.first == " " {
            text = text.dropFirst()
            removed += 1
        }
        return String(text)
    }
}
