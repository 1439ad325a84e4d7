import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The edges of a run, tried as an attacker or a careless operator would: stdin that is not a
/// file, output that cannot be written, limits too low, a narrow terminal.
@Suite("passh at the edges")
struct EdgeTests {
    @Test func aPipeAsStdinIsReadOnceAndGivenWholeToEveryHost() async throws {
        let out = try await bash(
            """
            \(passhPath) --local -i <(seq 1 100000) 'h[1-3]' cksum | sort
            echo "status ${PIPESTATUS[0]}"
            """)
        let sum = shell("seq 1 100000 | cksum").text.split(separator: "\n").first.map(String.init) ?? ""
        #expect(out == ["[h1] \(sum)", "[h2] \(sum)", "[h3] \(sum)", "status 0"])
    }

    /// Each read of a pipe given as `-i` used to wait in a dispatch read source of its own; making
    /// and cancelling them crashed passh in libdispatch's event loop about one run in ten (status
    /// 139). Thirty runs, six at a time, all end 0.
    @Test func aPipeAsStdinNeverCrashesPassh() async throws {
        let out = try await bash(
            """
            ulimit -c 0
            for i in $(seq 1 30); do
                { \(passhPath) --local -i <(seq 1 100000) 'h[1-3]' cksum >/dev/null 2>&1; echo "status $?"; } &
                if [ $((i % 6)) = 0 ]; then wait; fi
            done | sort | uniq -c | awk '{print $2, $3, $1}'
            """)
        #expect(out == ["status 0 30"])
    }

    @Test(.timed) func aFIFOWithNoWriterNeverHangsASignal() async throws {
        let dir = temporaryPath("fifo")
        defer { shell("rm -rf \(dir)") }
        // passh waits to open the FIFO (its thread in the kernel's wait_for_partner) when the
        // signal comes; the second time, a writer comes once passh waits.
        let waitingOnTheFIFO = """
            n=0; until grep -qs wait_for_partner /proc/$pid/task/*/wchan || [ $n -ge 400 ]; do sleep 0.025; n=$((n+1)); done
            """
        let out = try await bash(
            """
            mkdir -p \(dir); mkfifo \(dir)/f
            \(passhPath) --local -i \(dir)/f h1 'wc -c' >\(dir)/out 2>&1 &
            pid=$!
            \(waitingOnTheFIFO)
            kill -TERM $pid
            start=$(date +%s%N)
            wait $pid; status=$?
            echo "status $status $(( ($(date +%s%N) - start) / 1000000 < 2000 ))"
            \(passhPath) --local -i \(dir)/f h1,h2 'wc -c' &
            pid=$!
            \(waitingOnTheFIFO)
            echo hello >\(dir)/f
            wait $pid
            echo "status $?"
            """)
        #expect(
            out == ["status 143 1", "[h1] 6", "[h2] 6", "status 0"]
                || out == ["status 143 1", "[h2] 6", "[h1] 6", "status 0"])
    }

    @Test(arguments: [["h1"], ["--group", "h1"], ["-b", "h1"], ["--json", "h1"], ["--list-hosts", "h1"]])
    func aStdoutThatCannotBeWrittenIsAnErrorNotSilence(arguments: [String]) async throws {
        let command = arguments.contains("--list-hosts") ? "" : "'echo hi'"
        let out = try await bash(
            """
            \(passhPath) --local \(arguments.joined(separator: " ")) \(command) >/dev/full 2>&1 2>/tmp/passh-full-$$
            echo "status $?"; cat /tmp/passh-full-$$; rm -f /tmp/passh-full-$$
            """)
        #expect(out == ["status 1", "passh: cannot write to stdout: No space left on device"])
    }

    @Test(arguments: [["-b"], ["--group"], ["--list-hosts"]])
    func aReaderThatGoesAwayIsAlways141(arguments: [String]) async throws {
        let command = arguments.contains("--list-hosts") ? "" : "'seq 1 100000'"
        let hosts = arguments.contains("--list-hosts") ? "h[1-200000]" : "h[1-20]"
        let out = try await bash(
            """
            for i in 1 2 3; do
                \(passhPath) --local \(arguments.joined(separator: " ")) '\(hosts)' \(command) 2>/dev/null | head -1 >/dev/null
                echo "status ${PIPESTATUS[0]}"
            done
            """)
        #expect(out == ["status 141", "status 141", "status 141"])
    }

    @Test(.needsTestCluster) func everyFailedHostIsExplainedOnce() async throws {
        // A host name longer than exec takes (its 128 KiB limit per argument), from a host file.
        let long = String(repeating: "x", count: 200_000)
        let file = temporaryPath("long-host")
        try writeFile(file, Array("h1\n\(long)\n".utf8))
        defer { unlink(file) }
        let out = try await passhOnCluster(["--ssh", "/nonexistent", "-h", file, "true"])
        #expect(out.status == 2)
        #expect(
            out.stderrText == """
                [h1] passh: cannot run /nonexistent: no such executable
                [\(long)] passh: cannot run /nonexistent: no such executable
                failed at: h1 \(long)

                """)
        let tooLong = try await passhOnCluster(["--transport", "openssh", "-h", file, "true"])
        let lines = tooLong.stderrText.split(separator: "\n").map(String.init)
        #expect(tooLong.status == 2)
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("[\(long)] passh: cannot run ") == true)
        #expect(lines.first?.hasSuffix("Argument list too long") == true)
        // libssh refuses such a name too.
        if nativeByDefault {
            let native = try await passhOnCluster(["-h", file, "true"])
            #expect(native.status == 2)
            #expect(
                native.stderrText.split(separator: "\n").map(String.init) == [
                    "[\(long)] passh: libssh cannot use HostName \(long)", "failed at: \(long)",
                ])
        }
    }

    @Test func aLimitTooLowToRunIsRefusedBeforeAnythingStarts() async throws {
        let marker = uniqueMarker("ulimit")
        // Descriptors this test process leaked into the shell would count against the limit.
        let closeInherited = "for fd in $(ls /proc/$$/fd); do [ $fd -gt 2 ] && eval \"exec $fd>&-\" 2>/dev/null; done"
        let out = try await bash(
            """
            \(closeInherited)
            ulimit -n 16
            \(passhPath) --local 'h[1-3]' 'echo \(marker)'
            echo "status $?"
            """)
        #expect(out == ["status 1"])
        let low = try await bash(
            """
            \(closeInherited)
            ulimit -n 40
            \(passhPath) --local 'h[1-20]' 'echo ok' 2>/dev/null | wc -l
            echo "status ${PIPESTATUS[0]}"
            """)
        #expect(low == ["20", "status 0"])
    }

    @Test(.timed) func theProgressLineFitsANarrowTerminal() async throws {
        // The slow host ends once the progress line has been drawn.
        let release = Release(when: "passh: ")
        let screen = try await onTerminal(
            "stty cols 30; exec \(passhPath) --local --color never h1,slow '[ $PASSH_HOST = slow ] && { \(release.waitCommand); }; echo done'",
            release: release)
        // Each progress line drawn begins a line or follows the erasing of the one before.
        let drawn = screen.components(separatedBy: "\r\n").flatMap { $0.components(separatedBy: "\r\u{1B}[K") }
            .filter { $0.hasPrefix("passh: ") }
        #expect(!drawn.isEmpty)
        for line in drawn {
            let progress = line.split(separator: "\r").first.map(String.init) ?? line
            #expect(progress.count <= 29, "\(progress)")
        }
    }
}
