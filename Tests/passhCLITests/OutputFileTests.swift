import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A new private directory (mode 0700) for one test.
private func scratchDirectory(_ label: String) -> String {
    let path = temporaryPath(label)
    mkdir(path, 0o700)
    return path
}

/// The files passh writes: `--outdir`, `--errdir` and `--failed-to`.
@Suite("passh output files")
struct OutputFileTests {
    @Test func aHostWhoseFileCannotBeWrittenFails() async throws {
        let scratch = scratchDirectory("outfile")
        defer { shell("rm -rf \(scratch)") }
        let out = scratch + "/out"
        mkdir(out, 0o700)
        mkdir(out + "/h1", 0o700)
        try writeFile(scratch + "/target", Array("keep\n".utf8))
        symlink(scratch + "/target", out + "/h2")
        let failed = scratch + "/failed"
        let run = try await passh(["--local", "--outdir", out, "--failed-to", failed, "h1,h2,h3", "echo o"])
        #expect(run.status == 2)
        #expect(run.stdoutText == "")
        #expect(
            run.sortedStderrLines == [
                "[h1] passh: cannot write \(out)/h1: Is a directory",
                "[h2] passh: cannot write \(out)/h2: Is a symbolic link",
                "failed at: h1 h2",
            ])
        #expect(readText(scratch + "/target") == "keep\n")
        #expect(readText(out + "/h3") == "o\n")
        #expect(readText(failed) == "h1\nh2\n")
        // --max-rc: a host whose output was lost has no status to report: 255, as for ssh errors.
        let maxRC = try await passh(["--local", "--max-rc", "--outdir", out, "h1,h3", "echo o"])
        #expect(maxRC.status == 255)
        #expect(maxRC.sortedStderrLines == ["[h1] passh: cannot write \(out)/h1: Is a directory", "failed at: h1"])
    }

    @Test func dotNamesAreReportedNotDropped() async throws {
        let scratch = scratchDirectory("outfile")
        defer { shell("rm -rf \(scratch)") }
        let run = try await passh(["--local", "--errdir", scratch + "/err", "..", "echo o; echo e >&2"])
        #expect(run.status == 2)
        #expect(run.stdoutText == "[..] o\n")
        #expect(run.stderrText == "[..] passh: cannot write \(scratch)/err/..: Not a valid file name\nfailed at: ..\n")
    }

    @Test func directoriesOthersControlAreRefusedBeforeAnythingRuns() async throws {
        let scratch = scratchDirectory("outfile")
        defer { shell("rm -rf \(scratch)") }
        let open = scratch + "/open"
        mkdir(open, 0o700)
        chmod(open, 0o1777)
        let marker = scratch + "/ran"
        let refused = try await passh(["--local", "--outdir", open, "h1", "touch \(marker)"])
        #expect(refused.status == 1)
        #expect(refused.stderrText == "Not private: \(open) must be owned by you and not writable by group or others\n")
        symlink(scratch + "/elsewhere", scratch + "/link")
        let link = try await passh(["--local", "--errdir", scratch + "/link", "h1", "touch \(marker)"])
        #expect(link.status == 1)
        #expect(link.stderrText == "Not a directory: \(scratch)/link is a symbolic link\n")
        #expect(readText(marker) == nil)
        #expect(readText(scratch + "/elsewhere") == nil)
    }

    @Test func stdoutAndStderrCannotShareADirectory() async throws {
        let scratch = scratchDirectory("outfile")
        defer { shell("rm -rf \(scratch)") }
        let dir = scratch + "/d"
        let same = try await passh(["--local", "--outdir", dir, "--errdir", dir, "h1", "echo o; echo e >&2"])
        #expect(same.status == 64)
        #expect(same.stderrText == "passh: stdout and stderr cannot go into the same directory: \(dir)\n")
        let spelled = try await passh(["--local", "--outdir", dir + "/", "--errdir", scratch + "/./d", "h1", "echo o"])
        #expect(spelled.status == 64)
        #expect(
            spelled.stderrText
                == "passh: stdout and stderr cannot go into the same directory: \(dir) and \(scratch)/./d\n")
        #expect(readText(dir + "/h1") == nil)
    }

    @Test func failedToReplacesASymbolicLinkNotItsTarget() async throws {
        let scratch = scratchDirectory("outfile")
        defer { shell("rm -rf \(scratch)") }
        try writeFile(scratch + "/target", Array("keep\n".utf8))
        chmod(scratch + "/target", 0o644)
        symlink(scratch + "/target", scratch + "/failed")
        let run = try await passh(["--local", "--failed-to", scratch + "/failed", "a,b,c", "[ $PASSH_HOST != b ]"])
        #expect(run.status == 2)
        #expect(run.stderrText == "[b] passh: failed: exit 1\nfailed at: b\n")
        #expect(readText(scratch + "/target") == "keep\n")
        #expect(shell("stat -c '%F %a' \(scratch)/failed").text == "regular file 600\n")
        #expect(readText(scratch + "/failed") == "b\n")
        #expect(shell("ls -A \(scratch)").text == "failed\ntarget\n", "no temporary file is left")
    }

    @Test func failedToWriteErrorsMakeTheStatusNonZero() async throws {
        let scratch = scratchDirectory("outfile")
        defer { shell("rm -rf \(scratch)") }
        let directory = scratch + "/list"
        mkdir(directory, 0o700)
        let ok = try await passh(["--local", "--failed-to", directory, "a", "true"])
        #expect(ok.status == 1)
        #expect(ok.stderrText == "passh: cannot write \(directory): Is a directory\n")
        #expect(shell("ls -A \(scratch)").text == "list\n", "no temporary file is left")
        let missing = scratch + "/missing/list"
        let failed = try await passh(["--local", "--failed-to", missing, "a", "exit 3"])
        #expect(failed.status == 2)
        #expect(
            failed.stderrText
                == "[a] passh: failed: exit 3\nfailed at: a\npassh: cannot write \(missing): No such file or directory\n"
        )
    }

    @Test func failedToWritesIntoStreamsItCannotReplace() async throws {
        let scratch = scratchDirectory("outfile")
        defer { shell("rm -rf \(scratch)") }
        let piped = try await passh(["--local", "--failed-to", "/dev/stdout", "a,b,c", "[ $PASSH_HOST = b ]"])
        #expect(piped.status == 2)
        #expect(piped.stdoutText == "a\nc\n")
        // stdout redirected to a file: appended after the output, /dev/stdout left alone.
        let status = shell("\(passhPath) --local --failed-to /dev/stdout a 'echo x; exit 1' >\(scratch)/all 2>&1")
            .status
        #expect(status == 2)
        #expect(readText(scratch + "/all") == "[a] x\n[a] passh: failed: exit 1\nfailed at: a\na\n")
        #expect(shell("stat -c %F /dev/stdout").text == "symbolic link\n")
        mkfifo(scratch + "/fifo", 0o600)
        shell("cat \(scratch)/fifo >\(scratch)/from-fifo &")
        let fifo = try await passh(["--local", "--failed-to", scratch + "/fifo", "a", "exit 1"])
        #expect(fifo.status == 2)
        #expect(try await waitUntil { readText(scratch + "/from-fifo") == "a\n" }, "the reader got the list")
        #expect(shell("stat -c %F \(scratch)/fifo").text == "fifo\n")
    }
}
