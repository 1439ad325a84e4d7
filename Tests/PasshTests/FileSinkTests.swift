import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A new private directory (mode 0700) for one test.
private func privateTemporaryDirectory(_ label: String) -> String {
    let path = "/tmp/passh-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    mkdir(path, 0o700)
    return path
}

/// A `FileSink` whose messages go to a file; `messages()` flushes the writer and reads them back.
private struct SinkUnderTest {
    let sink: FileSink
    let writer: OutputWriter
    let stderrPath: String

    init(stdout: String?, stderr: String? = nil, scratch: String) throws {
        stderrPath = scratch + "/messages"
        let messages = try FileDescriptor.open(
            FilePath(stderrPath), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        writer = OutputWriter(stdout: .standardOutput, stderr: messages)
        sink = try FileSink(
            stdoutDirectory: stdout.map { FilePath($0) }, stderrDirectory: stderr.map { FilePath($0) },
            fallback: nil, writer: writer)
    }

    func run(_ command: String, on hosts: [String]) async throws -> [HostResult] {
        try await ParallelSSH(transport: LocalTransport()).run([command], on: hosts, sink: sink)
    }

    /// The messages written so far, sorted (hosts run in parallel).
    func messages() async -> [String] {
        await writer.flush()
        return (readText(stderrPath) ?? "").split(separator: "\n").map(String.init).sorted()
    }
}

/// Whether this process may mount a tmpfs (root, not in a restricted container).
private let canMountTmpfs: Bool = {
    let probe = privateTemporaryDirectory("tmpfs-probe")
    defer { rmdir(probe) }
    guard mount("tmpfs", probe, "tmpfs", 0, "size=64k") == 0 else { return false }
    umount(probe)
    return true
}()

@Suite("FileSink")
struct FileSinkTests {
    @Test func symbolicLinksInTheDirectoryAreNeverFollowed() async throws {
        let scratch = privateTemporaryDirectory("filesink")
        defer { shell("rm -rf \(scratch)") }
        let (out, victim) = (scratch + "/out", scratch + "/victim")
        mkdir(out, 0o700)
        mkdir(victim, 0o700)
        try writeFile(victim + "/file", Array("secret\n".utf8))
        symlink(victim + "/file", out + "/h1")
        symlink(victim + "/new", out + "/h2")  // dangling
        mkdir(out + "/h3", 0o700)
        mkfifo(out + "/h4", 0o600)
        let test = try SinkUnderTest(stdout: out, scratch: scratch)
        let results = try await test.run("echo pwned", on: ["h1", "h2", "h3", "h4", "h5"])
        #expect(results.allSatisfy { $0.isSuccess })
        #expect(readText(victim + "/file") == "secret\n")
        #expect(readText(victim + "/new") == nil)
        #expect(readText(out + "/h5") == "pwned\n")
        let messages = await test.messages()
        #expect(
            messages == [
                "[h1] passh: cannot write \(out)/h1: Is a symbolic link",
                "[h2] passh: cannot write \(out)/h2: Is a symbolic link",
                "[h3] passh: cannot write \(out)/h3: Is a directory",
                "[h4] passh: cannot write \(out)/h4: Not a regular file",
            ])
        let failures = test.sink.failures
        #expect(failures.count == 4)
        #expect(failures[try Host("h1")] == "passh: cannot write \(out)/h1: Is a symbolic link")
        #expect(failures[try Host("h5")] == nil)
    }

    @Test func filesEndUpMode0600WhateverTheOldMode() async throws {
        let scratch = privateTemporaryDirectory("filesink")
        defer { shell("rm -rf \(scratch)") }
        let out = scratch + "/out"
        mkdir(out, 0o700)
        try writeFile(out + "/h1", Array("old old old\n".utf8))
        chmod(out + "/h1", 0o644)
        let test = try SinkUnderTest(stdout: out, scratch: scratch)
        _ = try await test.run("echo new", on: ["h1"])
        #expect(readText(out + "/h1") == "new\n")
        #expect(shell("stat -c %a \(out)/h1").text == "600\n")
        let messages = await test.messages()
        #expect(messages == [])
        #expect(test.sink.failures.isEmpty)
    }

    @Test func namesThatCannotBeFilesAreReported() async throws {
        let scratch = privateTemporaryDirectory("filesink")
        defer { shell("rm -rf \(scratch)") }
        let (out, err) = (scratch + "/out", scratch + "/err")
        let long = String(repeating: "x", count: 256)
        let test = try SinkUnderTest(stdout: out, stderr: err, scratch: scratch)
        _ = try await test.run("echo o; echo e >&2", on: [".", "..", long, "ok"])
        let messages = await test.messages()
        #expect(
            messages == [
                "[..] passh: cannot write \(err)/..: Not a valid file name",
                "[..] passh: cannot write \(out)/..: Not a valid file name",
                "[.] passh: cannot write \(err)/.: Not a valid file name",
                "[.] passh: cannot write \(out)/.: Not a valid file name",
                "[\(long)] passh: cannot write \(err)/\(long): File name too long",
                "[\(long)] passh: cannot write \(out)/\(long): File name too long",
            ])
        #expect(Set(test.sink.failures.keys) == [try Host("."), try Host(".."), try Host(long)])
        #expect(test.sink.failures[try Host(".")] == "passh: cannot write \(out)/.: Not a valid file name")
        #expect(readText(out + "/ok") == "o\n" && readText(err + "/ok") == "e\n")
    }

    @Test(.enabled(if: canMountTmpfs, "needs to mount a 64 KiB tmpfs (root)"))
    func aFullDiskIsReportedOncePerHostAndStream() async throws {
        let scratch = privateTemporaryDirectory("filesink")
        defer { shell("rm -rf \(scratch)") }
        let disk = scratch + "/disk"
        mkdir(disk, 0o700)
        try #require(mount("tmpfs", disk, "tmpfs", 0, "size=64k,mode=0700") == 0)
        defer { umount(disk) }
        let out = disk + "/out"
        let test = try SinkUnderTest(stdout: out, scratch: scratch)
        // 40000 + 40000 bytes in 4000-byte lines: the second host, which starts writing once the
        // first one's file is whole, runs out of space in a later chunk.
        let aWritten =
            "i=0; while [ \"$(stat -c %s \(out)/a 2>/dev/null)\" != 40000 ] && [ $i -lt 400 ]; do sleep 0.025; i=$((i+1)); done"
        let results = try await test.run(
            "[ $PASSH_HOST = b ] && { \(aWritten); }; for i in $(seq 10); do head -c 4000 /dev/zero; done",
            on: ["a", "b"])
        #expect(results.allSatisfy { $0.isSuccess })
        let messages = await test.messages()
        #expect(messages == ["[b] passh: cannot write \(out)/b: No space left on device"])
        #expect(test.sink.failures == [try Host("b"): "passh: cannot write \(out)/b: No space left on device"])
    }

    @Test func aDirectoryOthersControlIsRefused() throws {
        let scratch = privateTemporaryDirectory("filesink")
        defer { shell("rm -rf \(scratch)") }
        let open = scratch + "/open"
        mkdir(open, 0o700)
        chmod(open, 0o1777)
        let error = #expect(throws: PasshError.self) {
            try FileSink(stdoutDirectory: FilePath(open), stderrDirectory: nil, fallback: nil)
        }
        #expect(error?.message == "Not private: \(open) must be owned by you and not writable by group or others")
        #expect(error?.code == .unreadableFile)
        chmod(open, 0o770)
        #expect(throws: PasshError.self) {
            try FileSink(stdoutDirectory: nil, stderrDirectory: FilePath(open), fallback: nil)
        }
        if getuid() == 0 {
            chmod(open, 0o700)
            chown(open, 65534, 65534)
            #expect(throws: PasshError.self) {
                try FileSink(stdoutDirectory: FilePath(open), stderrDirectory: nil, fallback: nil)
            }
        }
    }

    @Test func aSymbolicLinkAsTheDirectoryIsRefused() throws {
        let scratch = privateTemporaryDirectory("filesink")
        defer { shell("rm -rf \(scratch)") }
        mkdir(scratch + "/real", 0o700)
        symlink(scratch + "/real", scratch + "/link")
        symlink(scratch + "/missing", scratch + "/dangling")
        for link in ["link", "dangling"] {
            let error = #expect(throws: PasshError.self) {
                try FileSink(stdoutDirectory: FilePath(scratch + "/" + link), stderrDirectory: nil, fallback: nil)
            }
            #expect(error?.message == "Not a directory: \(scratch)/\(link) is a symbolic link")
        }
        #expect(readText(scratch + "/missing") == nil)
    }

    @Test func stdoutAndStderrCannotShareADirectory() throws {
        let scratch = privateTemporaryDirectory("filesink")
        defer { shell("rm -rf \(scratch)") }
        let dir = scratch + "/both"
        let name = FilePath(scratch).lastComponent!.string
        let spellings = [dir, dir + "/", scratch + "/./both", scratch + "/../\(name)/both"]
        for (out, err) in spellings.map({ (dir, $0) }) {
            let error = #expect(throws: PasshError.self) {
                try FileSink(stdoutDirectory: FilePath(out), stderrDirectory: FilePath(err), fallback: nil)
            }
            let shown = FilePath(out) == FilePath(err) ? FilePath(out).string : "\(out) and \(FilePath(err).string)"
            #expect(error?.message == "stdout and stderr cannot go into the same directory: \(shown)")
            #expect(error?.code == .invalidOption)
        }
        #expect(throws: Never.self) {
            try FileSink(stdoutDirectory: FilePath(dir), stderrDirectory: FilePath(dir + "/err"), fallback: nil)
        }
    }
}
