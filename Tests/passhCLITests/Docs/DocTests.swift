import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The documentation cannot drift from passh: every `$ command` of a ` ```console ` block in
/// `README.md`, `CONTRIBUTING.md` and `docs/*.md` runs against the test cluster and must print what
/// the page shows (see ``ExpectedOutput`` for the wildcard `…` and the order of hosts' lines); every
/// link into the repository reaches its file and heading; every option of `passh --help` has its
/// row in the flag index of `docs/README.md`; every page the help names exists.
// Serialized: every page's session runs as the same remote account, and pages write files of the
// same names in its home.
@Suite("docs", .serialized)
struct DocTests {
    /// The pages show what the default build prints (the native transport's words for its hosts):
    /// in the build without libssh, the examples are not run.
    @Test(
        .needsTestCluster, .enabled(if: nativeByDefault, "the pages show the default build, with libssh"),
        arguments: MarkdownPage.all)
    func examplesPrintWhatThePageShows(_ path: String) async throws {
        let page = try MarkdownPage(path)
        let (examples, problems) = ConsoleExample.examples(in: page.text, file: path)
        for problem in problems { Issue.record(Comment(rawValue: problem)) }
        guard !examples.isEmpty else { return }
        let session = try DocSession()
        // Generous: a page's examples take a few seconds; a loaded machine can take ten times longer.
        let timeout = Duration.seconds(60 + 10 * examples.count)
        let outputs = try await session.run(examples.map(\.command), timeout: timeout)
        for (example, output) in zip(examples, outputs) {
            guard let output else {
                Issue.record(
                    "\(example): had not finished after \(timeout) (the session was stopped)",
                    sourceLocation: location(path, example.line))
                break
            }
            guard let mismatch = example.expected.mismatch(output) else { continue }
            let line = example.outputLine + mismatch.expectedIndex
            let found = mismatch.actual.map { "`\($0)`" } ?? "the end of the output"
            let wanted =
                mismatch.expectedIndex < example.expected.lines.count
                ? "`\(example.expected.lines[mismatch.expectedIndex])`" : "the end of the output"
            Issue.record(
                """
                \(path):\(line): `$ \(example.command)` printed \(found) where the page shows \(wanted).
                The page shows:
                \(example.expected.lines.joined(separator: "\n"))
                It printed:
                \(output.joined(separator: "\n"))
                """, sourceLocation: location(path, line))
        }
    }

    @Test(arguments: MarkdownPage.all)
    func linksReachTheirFilesAndHeadings(_ path: String) throws {
        let page = try MarkdownPage(path)
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) + "/" : ""
        for (line, target) in page.localLinks {
            let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
            let file = parts[0].isEmpty ? path : normalize(directory + parts[0])
            guard readBytes(repositoryRoot + "/" + file) != nil || isDirectory(repositoryRoot + "/" + file) else {
                Issue.record(
                    "\(path):\(line): the link \(target) names \(file), which does not exist",
                    sourceLocation: location(path, line))
                continue
            }
            if parts.count == 2, file.hasSuffix(".md"), !(try MarkdownPage(file).anchors.contains(String(parts[1]))) {
                Issue.record(
                    "\(path):\(line): the link \(target): \(file) has no heading #\(parts[1])",
                    sourceLocation: location(path, line))
            }
        }
    }

    @Test func everyOptionOfTheHelpHasItsRowInTheFlagIndex() async throws {
        let help = try await passh(["--help"])
        #expect(help.status == 0)
        let index = try MarkdownPage("docs/README.md").text.split(separator: "\n").filter { $0.hasPrefix("| `") }
        var options: [String] = []
        for line in help.stdoutText.split(separator: "\n") where line.hasPrefix("  -") {
            // "  -b, --gather   At the end…", "  -h <FILE>   Read hosts…"
            let names = line.dropFirst(2).split(separator: "  ", maxSplits: 1)[0]
            options += names.split(separator: ", ").map { String($0.prefix(while: { $0 != " " })) }
        }
        #expect(options.contains("--fail-fast") && options.contains("-n") && options.contains("--gather"))
        for option in options {
            let inIndex = index.contains { $0.contains("`\(option)`") || $0.contains("`\(option) ") }
            #expect(inIndex, "\(option) has no row in the flag index of docs/README.md")
        }
    }

    @Test func everyPageTheHelpNamesExists() async throws {
        let help = try await passh(["--help"])
        let named = help.stdoutText.matches(of: /docs\/[a-z-]+\.md/).map { String($0.output) }
        #expect(!named.isEmpty, "passh --help names no page of docs/")
        for page in named {
            #expect(readBytes(repositoryRoot + "/" + page) != nil, "passh --help names \(page), which does not exist")
        }
    }

    @Test func consoleBlocksAreReadAsCommandsAndOutput() {
        let markdown = """
            Text.

            ```console
            $ passh web1 echo hi
            [web1] hi
            $ cat > hosts.txt <<'EOF'
            web1
            $ not a command
            EOF
            $ passh -h hosts.txt \\
                true
            ```

            ```sh
            $ not run
            ```

            - a list item:
              ```console
              $ echo indented
              indented
              ```
            """
        let (examples, problems) = ConsoleExample.examples(in: markdown, file: "page.md")
        #expect(problems.isEmpty)
        #expect(
            examples.map(\.command) == [
                "passh web1 echo hi", "cat > hosts.txt <<'EOF'\nweb1\n$ not a command\nEOF",
                "passh -h hosts.txt \n    true", "echo indented",
            ])
        #expect(examples.map(\.line) == [4, 6, 10, 20])
        #expect(examples.map(\.expected.lines) == [["[web1] hi"], [], [], ["indented"]])
        #expect(examples[0].outputLine == 5)
        let bad = ConsoleExample.examples(in: "```console\noutput first\n```\n", file: "bad.md")
        #expect(bad.problems == ["bad.md:2: a console block's lines must start with a `$ ` command"])
    }

    @Test func outputIsComparedExactlyExceptForWildcardsAndTheOrderOfHosts() {
        let plain = ExpectedOutput(["[web1] a", "[web1] b", "[web2] a", "failed at: web2"])
        #expect(plain.matches(["[web2] a", "[web1] a", "[web1] b", "failed at: web2"]))
        #expect(plain.matches(["[web1] a", "[web2] a", "[web1] b", "failed at: web2"]))
        // A host's own lines keep their order; other lines keep their place.
        #expect(!plain.matches(["[web1] b", "[web1] a", "[web2] a", "failed at: web2"]))
        #expect(!plain.matches(["failed at: web2", "[web1] a", "[web1] b", "[web2] a"]))
        #expect(!plain.matches(["[web1] a", "[web1] b", "[web2] a"]))
        #expect(!plain.matches(["[web1] a", "[web1] b", "[web2] a", "failed at: web2", "more"]))
        #expect(!plain.matches(["[web1] a", "[web1] b", "[web3] a", "failed at: web2"]))
        #expect(
            plain.mismatch(["[web1] a", "[web1] b", "[web2] a", "failed at: web3"])
                == .init(expectedIndex: 3, actual: "failed at: web3"))
        #expect(
            plain.mismatch(["[web1] a", "[web1] b", "[web2] a", "failed at: web2", "x"])
                == .init(expectedIndex: 4, actual: "x"))
        // A host's line that differs is named, whatever order the hosts came in.
        #expect(
            plain.mismatch(["[web2] a", "[web1] a", "[web1] c", "failed at: web2"])
                == .init(expectedIndex: 1, actual: "[web1] c"))
        #expect(
            plain.mismatch(["[web1] a", "[web3] a", "[web1] b", "failed at: web2"])
                == .init(expectedIndex: 2, actual: "[web3] a"))
        // A carriage return ending a line is not shown by a terminal, and not compared.
        #expect(ExpectedOutput(["[h] ssh: refused"]).matches(["[h] ssh: refused\r"]))
        #expect(!ExpectedOutput(["[h] ssh: refused"]).matches(["[h] ssh:\r refused"]))

        let wild = ExpectedOutput(["start", "…", "[web1] took … ms", "end"])
        #expect(wild.matches(["start", "[web1] took 12 ms", "end"]))
        #expect(wild.matches(["start", "x", "y", "[web1] took 3 ms", "end"]))
        #expect(!wild.matches(["start", "[web1] took 3 s", "end"]))
        #expect(!wild.matches(["start", "[web1] took 3 ms"]))
        #expect(ExpectedOutput(["a…b…c"]).matches(["a-b-b-c"]))
        #expect(!ExpectedOutput(["a…b…c"]).matches(["abc-"]))
        #expect(!ExpectedOutput(["ab…ba"]).matches(["aba"]))
        #expect(ExpectedOutput(["…"]).matches([]))
        #expect(ExpectedOutput([]).matches([]))
        #expect(!ExpectedOutput([]).matches([""]))
    }

    @Test func aSessionRunsCommandsInOrderAndIsKilledAtItsDeadline() async throws {
        let session = try DocSession()
        let outputs = try await session.run(
            [
                "cd sub 2>/dev/null || mkdir sub && cd sub && basename \"$PWD\"", "false", "echo $?", "printf 'x'",
                "echo",
            ],
            timeout: .seconds(30))
        #expect(outputs == [["sub"], [], ["1"], ["x"], [""]])

        let (sleep, marker) = uniqueSleep()
        let started = ContinuousClock.now
        let stopped = try await session.run(["echo before", sleep, "echo after"], timeout: .seconds(3))
        #expect(stopped.count == 3 && stopped[0] == ["before"] && stopped[1] == nil && stopped[2] == nil)
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(try await processesLeft(matching: marker).isEmpty)
    }

    @Test func anchorsAreGitHubs() {
        #expect(MarkdownPage.slug("Stop at the first failure") == "stop-at-the-first-failure")
        #expect(MarkdownPage.slug("`--fail-fast`: stop early") == "--fail-fast-stop-early")
        #expect(MarkdownPage.slug("Groups (`@NAME`) and [sources](x.md)") == "groups-name-and-sources")
    }
}

/// A source location in a page of the repository, for an issue about that page.
private func location(_ path: String, _ line: Int) -> SourceLocation {
    SourceLocation(fileID: "passh/" + path, filePath: repositoryRoot + "/" + path, line: max(line, 1), column: 1)
}

/// `path` without `.` and `dir/..` components.
private func normalize(_ path: String) -> String {
    var parts: [Substring] = []
    for part in path.split(separator: "/") {
        if part == "." { continue }
        if part == "..", !parts.isEmpty { parts.removeLast() } else { parts.append(part) }
    }
    return parts.joined(separator: "/")
}

private func isDirectory(_ path: String) -> Bool {
    guard let directory = opendir(path) else { return false }
    closedir(directory)
    return true
}
