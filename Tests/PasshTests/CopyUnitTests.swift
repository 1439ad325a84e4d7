import SystemPackage
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// The pieces of copying that need no host: path splitting, remote quoting, counting an archive,
/// the JSON members.
@Suite("Copy pieces")
struct CopyUnitTests {
    @Test func pathsSplitIntoParentAndName() throws {
        let cases: [(String, String, String, String)] = [
            ("/etc/app/conf.d", "/etc/app", "conf.d", "conf.d"),
            ("/etc/app/conf.d///", "/etc/app", "conf.d", "conf.d"),
            ("/srv", "/", "srv", "srv"),
            ("notes.txt", ".", "notes.txt", "notes.txt"),
            ("a/-rf", "a", "-rf", "./-rf"),
            ("~/x", "~", "x", "x"),
        ]
        for (path, parent, base, member) in cases {
            let split = try CopyPath(path)
            #expect([split.parent, split.base, split.member] == [parent, base, member], "\(path)")
        }
        for path in ["", "/", "//", ".", "..", "a/..", "a/./"] {
            #expect(throws: PasshError.self, "\(path)") { try CopyPath(path) }
        }
        #expect(
            throws: PasshError(
                .invalidOption, "\"a/x\" and \"b/x/\" have the same name, \"x\": they would land on each other")
        ) {
            try CopyPath.split(["a/x", "b/x/"])
        }
        #expect(throws: PasshError(.invalidOption, "no paths to copy")) { try CopyPath.split([]) }
    }

    @Test func remoteWordsAreQuoted() {
        #expect(RemoteShell.quote("plain") == "'plain'")
        #expect(RemoteShell.quote("it's $HOME `x` \"y\"") == #"'it'\''s $HOME `x` "y"'"#)
        #expect(RemoteShell.quote("~") == #""$HOME""#)
        #expect(RemoteShell.quote("~/a b") == #""$HOME"/'a b'"#)
        #expect(RemoteShell.quote("~user/x") == "'~user/x'")
        #expect(
            CopyPath.remoteTarArguments([try! CopyPath("/v/l'og"), try! CopyPath("-x")])
                == #"-C '/v' 'l'\''og' -C '.' './-x'"#)
    }

    @Test func theArchiveIsCounted() async throws {
        let source = "/tmp/passh-copy-unit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let made = system(
            """
            set -e; mkdir -p '\(source)/d/e'; head -c 5000 /dev/zero > '\(source)/d/five'; : > '\(source)/d/e/empty'
            ln -s five '\(source)/d/link'; ln '\(source)/d/five' '\(source)/d/hard'
            head -c 1025 /dev/zero > '\(source)/d/e/\(String(repeating: "long", count: 40))'
            """)
        defer { _ = system("rm -rf '\(source)'") }
        #expect(made == 0)
        let copy = try await CopyOperation(paths: [source + "/d"], destination: "x")
        // A hard link is a link entry, not a second copy of the bytes.
        #expect(copy.totals == TransferTotals(files: 3, bytes: 6025))
        #expect(copy.archiveSize % 512 == 0 && copy.archiveSize > 6025)
        #expect(
            copy.remoteCommand
                == "mkdir -p -- 'x' && o= && case $(tar --version 2>/dev/null) in *GNU*) o=--overwrite;; esac && tar -xpf - $o --no-same-owner -C 'x'"
        )
        await #expect(throws: PasshError(.unreadableFile, "No such file: \(source)/nope")) {
            try await CopyOperation(paths: [source + "/d", source + "/nope"], destination: "x")
        }
    }

    @Test func transfersRoundTripThroughJSONLines() async throws {
        let (writer, read) = try captureWriter()
        let sink = JSONLinesSink(writer: writer)
        let host = try Host("web1")
        let result = HostResult(
            host: host, outcome: .exited(0), duration: .milliseconds(5), transfer: TransferTotals(files: 2, bytes: 7))
        let plain = HostResult(host: try Host("web2"), outcome: .exited(1), duration: .milliseconds(5))
        await sink.hostFinished(result)
        await sink.hostFinished(plain)
        await sink.runFinished([result, plain])
        await writer.flush()
        let bytes = try read()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""duration_ns":5000000,"files":2,"bytes":7}"#))
        #expect(text.contains(#""failed_hosts":["web2"],"duration_ms":"#) && text.contains(#","files":2,"bytes":7}}"#))
        let decoded = try JSONLinesDecoder.decode(bytes)
        #expect(decoded.results.map(\.transfer) == [TransferTotals(files: 2, bytes: 7), nil])
        #expect(decoded.summary?.transfer == TransferTotals(files: 2, bytes: 7))
    }

    /// A writer into a temporary file, and a function reading back what it holds.
    private func captureWriter() throws -> (OutputWriter, () throws -> [UInt8]) {
        let path = "/tmp/passh-copy-json-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = try FileDescriptor.open(
            FilePath(path), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        unlink(path)
        let writer = OutputWriter(stdout: fd, stderr: fd)
        return (
            writer,
            {
                let size = try fd.seek(offset: 0, from: .end)
                var bytes = [UInt8](repeating: 0, count: Int(size))
                _ = try bytes.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: 0, into: $0) }
                return bytes
            }
        )
    }
}
