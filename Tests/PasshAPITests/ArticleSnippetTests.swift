import Foundation
import Testing

/// Every ```swift block of the DocC articles is compiled: it appears verbatim in
/// ArticleSnippets.swift (indented once, `import` lines aside).
@Suite("DocC articles' snippets are compiled")
struct ArticleSnippetTests {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let catalogue = tests.appendingPathComponent("../../Sources/Passh/Docs.docc").standardized

    /// The ```swift blocks of `article`, each without its `import` lines.
    static func snippets(of article: String) throws -> [String] {
        let text = try String(contentsOf: catalogue.appendingPathComponent(article), encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil {
                if line == "```swift" { current = [] }
            } else if line == "```" {
                blocks.append(current!.filter { !$0.hasPrefix("import ") }.joined(separator: "\n"))
                current = nil
            } else {
                current!.append(line)
            }
        }
        return blocks
    }

    @Test(arguments: [
        "Passh.md", "RunningCommands.md", "Rollouts.md", "JSONLines.md", "CustomTransportsAndSinks.md",
        "StoppingRemoteCommands.md", "CopyingFiles.md",
    ])
    func everySnippetIsCompiled(article: String) throws {
        let compiled = try String(
            contentsOf: Self.tests.appendingPathComponent("ArticleSnippets.swift"), encoding: .utf8)
        let snippets = try Self.snippets(of: article)
        #expect(!snippets.isEmpty)
        for snippet in snippets {
            let indented = snippet.split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.isEmpty ? "" : "    " + $0 }.joined(separator: "\n")
            #expect(
                compiled.contains(indented) || compiled.contains(snippet),
                "not compiled, from \(article):\n\(snippet)")
        }
    }
}
