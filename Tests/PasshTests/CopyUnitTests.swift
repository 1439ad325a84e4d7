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
        #expect(RemoteShell.literal("~") == "'~'")
        #expect(RemoteShell.literal("~/a") == "'~/a'")
        let command = CopyPath.remoteArchiveCommand([
            try! CopyPath("/v/l'og"), try! CopyPath("-x"), try! CopyPath("d/~"), try! CopyPath("~/h"),
        ])
        #expect(command.hasPrefix("passh_tar() { "))
        #expect(
            command.hasSuffix(
                #"; s=0; passh_tar '/v' 'l'\''og' '/v/l'\''og' || s=$?; passh_tar '.' './-x' '-x' || s=$?; "#
                    + #"passh_tar 'd' '~' 'd/~' || s=$?; passh_tar "$HOME" 'h' '~/h' || s=$?; (exit $s)"#))
    }

    /// The gather's remote command, run here by a POSIX shell with each tar a host may have, and
    /// its output unpacked: relative paths in different directories are each the one named (`-C`
    /// is cumulative in GNU tar and bsdtar, busybox tar keeps only the last); a path that is a
    /// symbolic link is fetched as what it points to, the links inside a directory staying links;
    /// a `~` is a name; a link to nothing and a file that reports a size of 0 but is not empty
    /// fail their path with a message, the others still fetched.
    @Test(arguments: [("sh", "tar"), ("sh", "bsdtar"), ("busybox sh", "busybox tar")])
    func theGatherCommandFetchesEachPathAsNamed(shell shellName: String, tar: String) throws {
        guard
            system(
                "command -v \(tar.split(separator: " ")[0]) >/dev/null && command -v \(shellName.split(separator: " ")[0]) >/dev/null"
            ) == 0
        else {
            Issue.record("\(tar) is not installed (apt-get install libarchive-tools busybox)")
            return
        }
        let work = "/tmp/passh-gather-command-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { _ = system("rm -rf '\(work)'") }
        let made = system(
            """
            set -e; mkdir -p '\(work)/home/dist' '\(work)/home/real/sub' '\(work)/home/d' '\(work)/bin' && cd '\(work)/home'
            echo app > dist/app.tar; echo top > deploy.sh; echo wrong > dist/deploy.sh; echo in-d > 'd/~'
            echo f > real/sub/f; ln -s sub/f real/inside; ln -s real dirlink; ln -s deploy.sh filelink; ln -s nowhere dangling
            chmod 0750 real; touch -d @1500000000 real
            printf '#!/bin/sh\nexec %s %s "$@"\n' "$(command -v \(tar.split(separator: " ")[0]))" '\(tar.split(separator: " ").dropFirst().joined())' > ../bin/tar
            chmod +x ../bin/tar
            """)
        try #require(made == 0)
        func gather(_ paths: [String], into root: String) throws -> (status: Int32, stderr: String) {
            let command = CopyPath.remoteArchiveCommand(try CopyPath.split(paths))
            try Array(command.utf8).withUnsafeBytes { bytes in
                let fd = try FileDescriptor.open(
                    FilePath(work + "/command"), .writeOnly, options: [.create, .truncate],
                    permissions: [.ownerReadWrite])
                defer { try? fd.close() }
                _ = try fd.writeAll(bytes)
            }
            let status = system(
                "cd '\(work)/home' && PATH='\(work)/bin':\"$PATH\" \(shellName) ../command > ../out 2> ../err")
            var extractor = try TarExtractor(root: FilePath(root), concatenated: true)
            let archive = try FileDescriptor.open(FilePath(work + "/out"), .readOnly)
            defer { try? archive.close() }
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = try buffer.withUnsafeMutableBytes { try archive.read(into: $0) }
                if count == 0 { break }
                try extractor.consume(Array(buffer[..<count]))
            }
            _ = try extractor.finish()
            let err = try FileDescriptor.open(FilePath(work + "/err"), .readOnly)
            defer { try? err.close() }
            let count = try buffer.withUnsafeMutableBytes { try err.read(into: $0) }
            return (status >> 8, String(decoding: buffer[..<count], as: UTF8.self))
        }
        let root = work + "/root"
        let fetched = try gather(["dist/app.tar", "deploy.sh", "d/~", "dirlink", "filelink"], into: root)
        #expect(fetched.status == 0)
        #expect(fetched.stderr == "")
        #expect(
            shellOutput("cd '\(root)' && find . -mindepth 1 -printf '%p %y %l\\n' | LC_ALL=C sort")
                == [
                    "./app.tar f ", "./deploy.sh f ", "./dirlink d ", "./dirlink/inside l sub/f", "./dirlink/sub d ",
                    "./dirlink/sub/f f ", "./filelink f ", "./~ f ",
                ].map { $0 + "\n" }.joined())
        #expect(
            shellOutput("cd '\(root)' && cat deploy.sh app.tar filelink '~' && stat -c '%a %Y' dirlink")
                == "top\napp\ntop\nin-d\n750 1500000000\n")

        let failed = try gather(["dangling", "/proc/cpuinfo", "deploy.sh"], into: work + "/failed")
        #expect(failed.status == 2)
        #expect(
            failed.stderr == """
                passh: dangling: No such file (a dangling symbolic link)
                passh: /proc/cpuinfo: reports a size of 0 but is not empty (a /proc or /sys file): tar would send it empty; read it with cat

                """)
        #expect(shellOutput("cd '\(work)/failed' && ls && cat deploy.sh") == "deploy.sh\ntop\n")
    }

    /// What a shell command prints.
    private func shellOutput(_ command: String) -> String {
        guard let pipe = popen(command, "r") else { return "" }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, pipe)
            if count <= 0 { break }
            output += buffer[..<count]
        }
        pclose(pipe)
        return String(decoding: output, as: UTF8.self)
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

    /// The walk that joins the per-path archives finds where each one's members end, a pax
    /// `size` record taken over the header's field (a file over 8 GiB in the pax format).
    @Test func theWalkTakesPaxSizes() throws {
        func header(_ name: String, _ type: Character, size: Int) -> [UInt8] {
            var block = [UInt8](repeating: 0, count: 512)
            block.replaceSubrange(0..<name.utf8.count, with: Array(name.utf8))
            let octal = String(size, radix: 8)
            block.replaceSubrange(
                124..<135, with: Array((String(repeating: "0", count: 11 - octal.count) + octal).utf8))
            block[156] = type.asciiValue!
            block.replaceSubrange(148..<156, with: Array(repeating: 0x20, count: 8))
            let sum = String(block.reduce(0) { $0 + Int($1) }, radix: 8)
            block.replaceSubrange(
                148..<155, with: Array((String(repeating: "0", count: 6 - sum.count) + sum).utf8) + [0])
            return block
        }
        func padded(_ bytes: [UInt8]) -> [UInt8] {
            bytes + [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
        }
        let records = Array("11 size=5\n".utf8)
        var archive = header("x", "x", size: records.count) + padded(records)
        archive += header("big", "0", size: 0) + padded(Array("12345".utf8))
        archive += header("b", "0", size: 1) + padded([1])
        let end = archive.count
        archive += [UInt8](repeating: 0, count: 1024)
        let path = "/tmp/passh-walk-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try writeBytes(path, archive)
        defer { unlink(path) }
        let fd = try FileDescriptor.open(FilePath(path), .readOnly)
        defer { try? fd.close() }
        let walked = try TarCounter.walk(fd)
        #expect(walked.end == Int64(end))
        #expect(walked.totals == TransferTotals(files: 2, bytes: 6))
    }

    private func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
        let fd = try FileDescriptor.open(
            FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        _ = try fd.writeAll(bytes)
    }

    @Test func transfersRoundTripThroughJSONLines() async throws {
        let (writer, read) = try captureWriter()
        let sink = JSONLinesSink(writer: writer)
        let host = try Host("web1")
        let result = HostResult(
            host: host, outcome: .exited(0), duration: .milliseconds(5),
            transfer: TransferTotals(files: 2, bytes: 7, skipped: 3))
        let plain = HostResult(host: try Host("web2"), outcome: .exited(1), duration: .milliseconds(5))
        await sink.hostFinished(result)
        await sink.hostFinished(plain)
        await sink.runFinished([result, plain])
        await writer.flush()
        let bytes = try read()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""duration_ns":5000000,"files":2,"bytes":7,"skipped":3}"#))
        #expect(
            text.contains(#""failed_hosts":["web2"],"duration_ms":"#)
                && text.contains(#","files":2,"bytes":7,"skipped":3}}"#))
        let decoded = try JSONLinesDecoder.decode(bytes)
        #expect(decoded.results.map(\.transfer) == [TransferTotals(files: 2, bytes: 7, skipped: 3), nil])
        #expect(decoded.summary?.transfer == TransferTotals(files: 2, bytes: 7, skipped: 3))
        // A stream written before "skipped" existed reads as none skipped.
        let older = Array(text.replacingOccurrences(of: #","skipped":3"#, with: "").utf8)
        #expect(
            try JSONLinesDecoder.decode(older).results.map(\.transfer) == [TransferTotals(files: 2, bytes: 7), nil])
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
