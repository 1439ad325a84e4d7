import PasshTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A Markdown page of the repository: its headings' anchors and its links, outside code.
struct MarkdownPage: Sendable {
    /// The path relative to the repository (`docs/hosts.md`).
    let path: String
    let text: String

    /// The pages whose examples and links are checked: `README.md`, `CONTRIBUTING.md`, `docs/*.md`.
    static let all: [String] = {
        var pages = ["README.md", "CONTRIBUTING.md"]
        if let directory = opendir(repositoryRoot + "/docs") {
            defer { closedir(directory) }
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name.hasSuffix(".md") { names.append("docs/" + name) }
            }
            pages += names.sorted()
        }
        return pages
    }()

    init(_ path: String) throws {
        guard let text = readText(repositoryRoot + "/" + path) else { throw PageMissing(path: path) }
        self.path = path
        self.text = text
    }

    private struct PageMissing: Error { let path: String }

    /// The page's lines outside fenced code blocks, with their numbers (from 1).
    var proseLines: [(number: Int, text: String)] {
        var result: [(Int, String)] = []
        var fence: String?
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop(while: { $0 == " " })
            if let open = fence {
                if trimmed.hasPrefix(open) && trimmed.allSatisfy({ $0 == open.first! || $0 == " " }) { fence = nil }
                continue
            }
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                fence = String(trimmed.prefix(while: { $0 == trimmed.first! }))
                continue
            }
            result.append((index + 1, String(line)))
        }
        return result
    }

    /// The anchors GitHub gives the page's headings: lowercased, punctuation dropped, spaces made
    /// hyphens, a repeated one numbered (`-1`, `-2`).
    var anchors: Set<String> {
        var seen: [String: Int] = [:]
        var anchors: Set<String> = []
        for (_, line) in proseLines where line.hasPrefix("#") {
            let title = line.drop(while: { $0 == "#" }).drop(while: { $0 == " " })
            let slug = Self.slug(String(title))
            let count = seen[slug, default: 0]
            seen[slug] = count + 1
            anchors.insert(count == 0 ? slug : "\(slug)-\(count)")
        }
        return anchors
    }

    /// GitHub's anchor for a heading's text.
    static func slug(_ title: String) -> String {
        // Links in a heading keep their text only.
        let text = title.replacing(/\[([^\]]*)\]\([^)]*\)/) { String($0.output.1) }
        var slug = ""
        for character in text.lowercased() {
            if character == " " {
                slug.append("-")
            } else if character == "-" || character == "_" || character.isLetter || character.isNumber {
                slug.append(character)
            }
        }
        return slug
    }

    /// The links of the prose (not in code spans) that point into the repository: `path`,
    /// `path#anchor` or `#anchor`, with their lines.
    var localLinks: [(line: Int, target: String)] {
        var links: [(Int, String)] = []
        for (number, line) in proseLines {
            let prose = line.replacing(/`[^`]*`/, with: "")
            for match in prose.matches(of: /\]\(([^)\s]+)\)/) {
                let target = String(match.output.1)
                if target.contains("://") || target.hasPrefix("mailto:") { continue }
                links.append((number, target))
            }
        }
        return links
    }
}
