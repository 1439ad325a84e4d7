import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--copy` and `--rcopy` on the test cluster: byte-exact trees, modes, times and links; gathered
/// files only under `DIR/HOST/`; bad input refused before anything starts.
@Suite("passh --copy and --rcopy", .serialized)
struct CopyTests {
    static let cluster = TestCluster.isAvailable

    /// Every entry under `path` but `path` itself, one per line, sorted: type, mode and mtime (for
    /// a link: its target), then each regular file's SHA-256.
    static func describe(_ path: String) -> String {
        shell(
            """
            cd '\(path)' && find . -mindepth 1 \\( -type l -printf '%p %y -> %l\\n' \\) -o -printf '%p %y %m %T@\\n' | sort \
            && find . -type f -exec sha256sum {} + | sort -k 2
            """
        ).text
    }

    /// A tree with nested directories, an empty file, a 2 MB random file, a link, odd modes and
    /// old times, and a file beside it: `SRC/tree/…` and `SRC/single.txt`.
    static func makeSource(readableByAll: Bool = false) -> String {
        let source = temporaryPath("copy-src")
        let result = shell(
            """
            set -e; mkdir -p '\(source)/tree/a/b' '\(source)/tree/empty-dir' && cd '\(source)'
            : > tree/empty; head -c 2097152 /dev/urandom > tree/a/big; printf 'x\\ny' > tree/a/b/f
            printf "it's\\n" > "tree/a/b/name with 'quotes' and spaces"; echo one > single.txt
            ln -s a/big tree/link; ln -s ../missing tree/a/dangling
            chmod \(readableByAll ? "0755" : "0751") tree/a/b/f; chmod \(readableByAll ? "0644" : "0600") tree/a/big; chmod 0750 tree/a
            \(readableByAll ? "chmod 0755 tree/a '\(source)'" : "true")
            find . -depth -exec touch -h -d '2001-02-03 04:05:06' {} +
            touch -d '1999-12-31 23:59:59' tree/a/b/f
            """)
        precondition(result.status == 0, "making the source tree failed")
        return source
    }

    @Test(.enabled(if: cluster, "no OpenSSH server for scripts/testcluster"))
    func pushKeepsContentsModesTimesAndLinks() async throws {
        let source = Self.makeSource()
        defer { shell("rm -rf '\(source)'") }
        let expected = Self.describe(source)
        #expect(expected.contains("./tree/a/b/f f 751 946684799.0000000000"))
        #expect(expected.contains("./tree/link l -> a/big"))
        for host in ["h1", "h2", "h3"] {
            let base = temporaryPath("copy-dest-\(host)")
            let destination = base + "/new/dir"
            defer { shell("rm -rf '\(base)'") }
            let out = try await passhOnCluster([
                host, "--copy", source + "/tree", "--copy", source + "/single.txt/", "--dest", destination,
            ])
            #expect(out.status == 0)
            #expect(out.stdoutText == "")
            #expect(out.stderrText == "")
            #expect(Self.describe(destination) == expected)
        }
    }

    @Test(.enabled(if: cluster, "no OpenSSH server for scripts/testcluster"))
    func pushWithPersistAndJSON() async throws {
        let source = Self.makeSource()
        let destination = temporaryPath("copy-dest")
        defer { shell("rm -rf '\(source)' '\(destination)'") }
        _ = try await passhOnCluster(["--persist", "--persist-seconds", "30", "h1", "true"])
        defer { _ = shell("\(passhPath) -F \(TestCluster.config) --persist-stop h1") }
        let out = try await passhOnCluster([
            "--persist", "--json", "h1", "--copy", source + "/tree", "--dest", destination,
        ])
        #expect(out.status == 0)
        let lines = Self.withoutDurations(out.stdoutText)
        #expect(
            lines == [
                #"{"event":"start","version":2,"tool":"passh"}"#,
                #"{"event":"started","host":"h1","transport":"openssh"}"#,
                #"{"event":"finished","host":"h1","status":"ok","exit_code":0,"signal":null,"signal_number":null,"error":null,"failure":null,"started":true,"attempts":1,"duration_ms":D,"duration_ns":D,"files":4,"bytes":2097160}"#,
                #"{"event":"summary","summary":{"hosts":1,"ok":1,"failed":0,"timeout":0,"cancelled":0,"not_started":0,"failed_hosts":[],"duration_ms":D,"files":4,"bytes":2097160}}"#,
            ])
        #expect(Self.describe(destination + "/tree") == Self.describe(source + "/tree"))
    }

    /// A second copy into the same place writes the existing files in place (GNU tar's
    /// `--overwrite`): hosts sharing a destination then never lose the unlink-then-create race
    /// (bench/shared-destination shows the race itself). A link at the destination is replaced,
    /// never written through; a file the remote user may not write stays as it was, as with scp.
    @Test(.enabled(if: cluster, "no OpenSSH server for scripts/testcluster"))
    func aSecondCopyWritesInPlaceButNeverThroughALink() async throws {
        let source = temporaryPath("copy-src")
        let destination = temporaryPath("copy-dest")
        let victim = temporaryPath("copy-victim")
        let otherName = temporaryPath("copy-hard-link")
        defer { shell("rm -rf '\(source)' '\(destination)' '\(victim)' '\(otherName)'") }
        #expect(
            shell(
                "mkdir -p '\(source)/d' && echo one > '\(source)/d/f' && echo one > '\(source)/d/g' && chmod -R a+rX '\(source)'"
            ).status == 0)
        let first = try await passhOnCluster(["h1", "--copy", source + "/d", "--dest", destination])
        #expect(first.status == 0)
        #expect(first.stderrText == "")
        // Between the copies: new contents; a second name for the destination's f (written in
        // place, it shows the new contents too; unlinked and made anew, it keeps the old); the
        // destination's g turned into a link to a file the remote user could write.
        #expect(
            shell(
                """
                ln '\(destination)/d/f' '\(otherName)' && echo two > '\(source)/d/f' && echo two > '\(source)/d/g' && echo victim > '\(victim)' && chmod 0666 '\(victim)' \
                && rm '\(destination)/d/g' && ln -s '\(victim)' '\(destination)/d/g'
                """
            ).status == 0)
        let second = try await passhOnCluster(["h1", "--copy", source + "/d", "--dest", destination])
        #expect(second.status == 0)
        #expect(second.stderrText == "")
        #expect(readText(destination + "/d/f") == "two\n")
        #expect(readText(otherName) == "two\n")
        #expect(shell("stat -c %F '\(destination)/d/g'").text == "regular file\n")
        #expect(readText(destination + "/d/g") == "two\n")
        #expect(readText(victim) == "victim\n")

        #expect(shell("chmod 0444 '\(destination)/d/f' && echo three > '\(source)/d/f'").status == 0)
        let readOnly = try await passhOnCluster(["h1", "--copy", source + "/d", "--dest", destination])
        #expect(readOnly.status == 2)
        #expect(
            lines(readOnly.stderr) == [
                "[h1] tar: d/f: Cannot open: Permission denied",
                "[h1] tar: Exiting with failure status due to previous errors",
                "failed at: h1",
            ])
        #expect(readText(destination + "/d/f") == "two\n")
    }

    /// JSON lines with every duration written `D`.
    static func withoutDurations(_ text: String) -> [String] {
        text.split(separator: "\n").map { line in
            var out = ""
            var rest = Substring(line)
            while let range = rest.firstRange(of: #"_ms":"#) ?? rest.firstRange(of: #"_ns":"#) {
                out += rest[..<range.upperBound] + "D"
                rest = rest[range.upperBound...].drop { $0.isNumber }
            }
            return out + rest
        }
    }

    @Test(.enabled(if: cluster, "no OpenSSH server for scripts/testcluster"))
    func gatherLandsUnderEachHostsDirectory() async throws {
        let source = Self.makeSource(readableByAll: true)
        let destination = temporaryPath("gather")
        defer { shell("rm -rf '\(source)' '\(destination)'") }
        let out = try await passhOnCluster([
            "--json", "h1,h2,h3", "--rcopy", source + "/tree", "--rcopy", source + "/single.txt", "--dest", destination,
        ])
        #expect(out.status == 0)
        #expect(out.stderrText == "")
        let lines = Self.withoutDurations(out.stdoutText)
        #expect(lines.count == 8)
        for host in ["h1", "h2", "h3"] {
            #expect(
                lines.contains(
                    #"{"event":"finished","host":"\#(host)","status":"ok","exit_code":0,"signal":null,"signal_number":null,"error":null,"failure":null,"started":true,"attempts":1,"duration_ms":D,"duration_ns":D,"files":5,"bytes":2097164}"#
                ))
            #expect(Self.describe(destination + "/" + host) == Self.describe(source))
        }
        #expect(
            lines.last
                == #"{"event":"summary","summary":{"hosts":3,"ok":3,"failed":0,"timeout":0,"cancelled":0,"not_started":0,"failed_hosts":[],"duration_ms":D,"files":15,"bytes":6291492}}"#
        )
        #expect(shell("ls '\(destination)'").text == "h1\nh2\nh3\n")
    }

    @Test(.enabled(if: cluster, "no OpenSSH server for scripts/testcluster"))
    func aMissingRemotePathFailsWithTarsMessage() async throws {
        let source = Self.makeSource(readableByAll: true)
        let destination = temporaryPath("gather")
        defer { shell("rm -rf '\(source)' '\(destination)'") }
        let failedTo = destination + "-failed"
        defer { unlink(failedTo) }
        let out = try await passhOnCluster([
            "--failed-to", failedTo, "h1,h2", "--rcopy", source + "/nope", "--rcopy", source + "/single.txt", "--dest",
            destination,
        ])
        #expect(out.status == 2)
        #expect(out.stdoutText == "")
        let stderr = lines(out.stderr)
        #expect(stderr.last == "failed at: h1 h2")
        #expect(
            Set(stderr.dropLast()) == [
                "[h1] tar: nope: Cannot stat: No such file or directory",
                "[h1] tar: Exiting with failure status due to previous errors",
                "[h2] tar: nope: Cannot stat: No such file or directory",
                "[h2] tar: Exiting with failure status due to previous errors",
            ])
        #expect(readText(destination + "/h1/single.txt") == "one\n")
        #expect(readText(failedTo) == "h1\nh2\n")

        let mixed = try await passhOnCluster([
            "h1,refused,h3", "--rcopy", source + "/single.txt", "--dest", destination + "/mixed",
        ])
        #expect(mixed.status == 2)
        #expect(lines(mixed.stderr).last == "failed at: refused")
        #expect(readText(destination + "/mixed/h1/single.txt") == "one\n")
        #expect(readText(destination + "/mixed/h3/single.txt") == "one\n")
    }

    #if LIBSSH
    /// `--copy` over libssh: the archive goes through libssh's channel instead of an ssh process's
    /// stdin; the tree arrives byte for byte, with its modes, times and links.
    @Test(.enabled(if: cluster, "no OpenSSH server for scripts/testcluster"))
    func pushOverLibSSH() async throws {
        let source = Self.makeSource()
        defer { shell("rm -rf '\(source)'") }
        let base = temporaryPath("copy-dest-libssh")
        defer { shell("rm -rf '\(base)-h1' '\(base)-h2'") }
        for host in ["h1", "h2"] {
            let out = try await passhOnCluster([
                "--transport", "libssh", host, "--copy", source + "/tree", "--copy", source + "/single.txt", "--dest",
                base + "-" + host,
            ])
            #expect(out.status == 0)
            #expect(out.stdoutText == "")
            #expect(out.stderrText == "")
            #expect(Self.describe(base + "-" + host) == Self.describe(source))
        }
    }

    /// `--rcopy` over libssh: each host's tar stream comes through libssh's channel into
    /// `DIR/HOST/`, byte for byte.
    @Test(.enabled(if: cluster, "no OpenSSH server for scripts/testcluster"))
    func gatherOverLibSSH() async throws {
        let source = Self.makeSource(readableByAll: true)
        let destination = temporaryPath("gather-libssh")
        defer { shell("rm -rf '\(source)' '\(destination)'") }
        let out = try await passhOnCluster([
            "--transport", "libssh", "--json", "h1,h2", "--rcopy", source + "/tree", "--rcopy", source + "/single.txt",
            "--dest", destination,
        ])
        #expect(out.status == 0)
        #expect(out.stderrText == "")
        let lines = Self.withoutDurations(out.stdoutText)
        #expect(lines.count == 6)
        for host in ["h1", "h2"] {
            #expect(
                lines.contains(
                    #"{"event":"finished","host":"\#(host)","status":"ok","exit_code":0,"signal":null,"signal_number":null,"error":null,"failure":null,"started":true,"attempts":1,"duration_ms":D,"duration_ns":D,"files":5,"bytes":2097164}"#
                ))
            #expect(Self.describe(destination + "/" + host) == Self.describe(source))
        }
        #expect(shell("ls '\(destination)'").text == "h1\nh2\n")
    }
    #endif

    @Test func badInputIsRefusedBeforeAnythingStarts() async throws {
        let file = temporaryPath("copy-file")
        try writeFile(file, Array("x\n".utf8))
        defer { unlink(file) }
        for (arguments, status, message) in [
            (["h1", "--copy", file], Int32(64), "passh: --copy needs --dest DIR. (see passh --help)\n"),
            (
                ["--copy", file, "--dest", "/tmp/d", "h1", "uptime"], 64,
                "passh: --copy takes no COMMAND: got uptime. (see passh --help)\n"
            ),
            (
                ["h1", "--copy", file, "--dest", "/tmp/d", "uptime"], 64,
                "passh: --copy takes no COMMAND: got uptime. (see passh --help)\n"
            ),
            (
                ["h1", "--copy", file, "--rcopy", "x", "--dest", "/tmp/d"], 64,
                "passh: --copy and --rcopy cannot be used together. (see passh --help)\n"
            ),
            (
                ["h1", "--dest", "/tmp/d", "true"], 64,
                "passh: --dest works only with --copy or --rcopy. (see passh --help)\n"
            ),
            (
                ["-i", file, "h1", "--rcopy", "x", "--dest", "/tmp/d"], 64,
                "passh: --rcopy cannot be used with -i or -I. (see passh --help)\n"
            ),
            (
                ["h1", "--copy", "/", "--dest", "/tmp/d"], 64,
                "passh: cannot copy \"/\": name a file or a directory by its own name\n"
            ),
            (
                ["h1", "--copy", file, "--copy", "/etc/" + file.split(separator: "/").last!, "--dest", "/tmp/d"], 64,
                "passh: \"\(file)\" and \"/etc/\(file.split(separator: "/").last!)\" have the same name, \"\(file.split(separator: "/").last!)\": they would land on each other\n"
            ),
            (["h1", "--copy", "/nonexistent/x", "--dest", "/tmp/d"], 1, "No such file: /nonexistent/x\n"),
            (["h1", "--rcopy", "/etc/hostname", "--dest", file], 1, "Not a directory: \(file)\n"),
        ] {
            let (fakeSSH, log) = try recordingSSH()
            let out = try await passh(["--ssh", fakeSSH] + arguments)
            #expect(out.status == status, "\(arguments)")
            #expect(out.stderrText == message)
            #expect(readText(log) == nil)
        }
    }

    @Test func theRemoteCommandsAreQuoted() async throws {
        let file = temporaryPath("copy-file")
        try writeFile(file, Array("x\n".utf8))
        defer { unlink(file) }
        let (fakeSSH, log) = try recordingSSH()
        _ = try await passh(["--ssh", fakeSSH, "-n", "1", "h1", "--copy", file, "--dest", "it's ~/here"])
        _ = try await passh(["--ssh", fakeSSH, "h1", "--copy", file, "--preserve-owner", "--dest", "~/in/home"])
        _ = try await passh([
            "--ssh", fakeSSH, "h1", "--rcopy", "/var/log/app/", "--rcopy", "-odd name", "--rcopy", "~/x", "--dest",
            "/tmp/d",
        ])
        let options = "-T -o LogLevel=ERROR -o ConnectTimeout=6 -o BatchMode=yes -- h1"
        let gnu = "o= && case $(tar --version 2>/dev/null) in *GNU*) o=--overwrite;; esac"
        #expect(
            readText(log) == """
                \(options) mkdir -p -- 'it'\\''s ~/here' && \(gnu) && tar -xpf - $o --no-same-owner -C 'it'\\''s ~/here'
                \(options) mkdir -p -- "$HOME"/'in/home' && \(gnu) && tar -xpf - $o -C "$HOME"/'in/home'
                \(options) tar -cf - -C '/var/log' 'app' -C '.' './-odd name' -C "$HOME" 'x'

                """)
    }
}
