import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--copy` and `--rcopy` on the test cluster: byte-exact trees, modes, times and links; gathered
/// files only under `DIR/HOST/`; bad input refused before anything starts.
@Suite("passh --copy and --rcopy")
struct CopyTests {
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

    @Test(.needsTestCluster)
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

    @Test(.needsTestCluster)
    func pushWithPersistAndJSON() async throws {
        let source = Self.makeSource()
        let destination = temporaryPath("copy-dest")
        defer { shell("rm -rf '\(source)' '\(destination)'") }
        // Masters of this test's own (in its runtime directory): another test's may come and go.
        let runtime = temporaryPath("copy-runtime")
        mkdir(runtime, 0o700)
        let environment = ["XDG_RUNTIME_DIR": runtime]
        defer { shell("rm -rf \(runtime)") }
        _ = try await passhOnCluster(["--persist", "--persist-seconds", "30", "h1", "true"], environment: environment)
        defer { _ = shell("XDG_RUNTIME_DIR=\(runtime) \(passhPath) -F \(TestCluster.config) --persist-stop h1") }
        let out = try await passhOnCluster(
            ["--persist", "--json", "h1", "--copy", source + "/tree", "--dest", destination], environment: environment)
        #expect(out.status == 0)
        let lines = Self.withoutDurations(out.stdoutText)
        #expect(
            lines == [
                #"{"event":"start","version":2,"tool":"passh"}"#,
                #"{"event":"started","host":"h1","transport":"openssh"}"#,
                #"{"event":"finished","host":"h1","status":"ok","exit_code":0,"signal":null,"signal_number":null,"error":null,"failure":null,"started":true,"attempts":1,"duration_ms":D,"duration_ns":D,"files":4,"bytes":2097160,"skipped":0}"#,
                #"{"event":"summary","summary":{"hosts":1,"ok":1,"failed":0,"timeout":0,"cancelled":0,"not_started":0,"failed_hosts":[],"duration_ms":D,"files":4,"bytes":2097160,"skipped":0}}"#,
            ])
        #expect(Self.describe(destination + "/tree") == Self.describe(source + "/tree"))
    }

    /// A second copy into the same place writes the existing files in place (GNU tar's
    /// `--overwrite`): hosts sharing a destination then never lose the unlink-then-create race
    /// (bench/shared-destination shows the race itself). A link at the destination is replaced,
    /// never written through; a file the remote user may not write stays as it was, as with scp.
    @Test(.needsTestCluster)
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

    @Test(.needsTestCluster)
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
                    #"{"event":"finished","host":"\#(host)","status":"ok","exit_code":0,"signal":null,"signal_number":null,"error":null,"failure":null,"started":true,"attempts":1,"duration_ms":D,"duration_ns":D,"files":5,"bytes":2097164,"skipped":0}"#
                ))
            #expect(Self.describe(destination + "/" + host) == Self.describe(source))
        }
        #expect(
            lines.last
                == #"{"event":"summary","summary":{"hosts":3,"ok":3,"failed":0,"timeout":0,"cancelled":0,"not_started":0,"failed_hosts":[],"duration_ms":D,"files":15,"bytes":6291492,"skipped":0}}"#
        )
        #expect(shell("ls '\(destination)'").text == "h1\nh2\nh3\n")
    }

    @Test(.needsTestCluster)
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

    /// Runs passh on the test cluster from the directory `directory`: its stdout and stderr
    /// lines, then `status N`.
    static func passhIn(_ directory: String, _ arguments: [String]) -> [String] {
        let words = arguments.map {
            "'" + $0.split(separator: "'", omittingEmptySubsequences: false).joined(separator: #"'\''"#) + "'"
        }
        return shell(
            "cd '\(directory)' && '\(passhPath)' -F '\(TestCluster.config)' \(words.joined(separator: " ")) 2>&1; echo status $?"
        ).text.split(separator: "\n").map(String.init)
    }

    /// Relative paths in different directories are each the one named, both ways (`tar -C` is
    /// cumulative: `--copy dist/app.tar --copy deploy.sh` had shipped `dist/deploy.sh`), and a
    /// `~` in a path is a name.
    @Test(.needsTestCluster)
    func relativePathsInDifferentDirectoriesAreEachTheOneNamed() async throws {
        let work = temporaryPath("copy-relative")
        defer { shell("rm -rf '\(work)'") }
        let layout =
            "mkdir -p dist build/app conf d && echo app > dist/app.tar && echo top > deploy.sh && echo wrong > dist/deploy.sh"
            + " && echo bin > build/app/bin && echo toml > conf/app.toml && echo tilde > 'd/~' && chmod -R a+rX ."
        #expect(shell("mkdir -p '\(work)/src' && cd '\(work)/src' && \(layout)").status == 0)
        let destination = temporaryPath("copy-relative-dest")  // the remote user makes it
        defer { shell("rm -rf '\(destination)'") }
        let pushed = Self.passhIn(
            work + "/src",
            [
                "h1", "--copy", "dist/app.tar", "--copy", "deploy.sh", "--copy", "build/app", "--copy", "conf/app.toml",
                "--copy", "d/~", "--dest", destination,
            ])
        #expect(pushed == ["status 0"])
        #expect(
            shell("cd '\(destination)' && cat app.tar deploy.sh app/bin app.toml '~'").text
                == "app\ntop\nbin\ntoml\ntilde\n")

        // The same layout in the remote home (relative paths are relative to it).
        let marker = uniqueMarker("relative")
        defer { _ = shell("'\(passhPath)' -F '\(TestCluster.config)' h1 'rm -rf \(marker)'") }
        let made = try await passhOnCluster(["h1", "mkdir \(marker) && cd \(marker) && \(layout)"])
        #expect(made.status == 0)
        let fetched = Self.passhIn(
            work,
            [
                "h1", "--rcopy", "\(marker)/dist/app.tar", "--rcopy", "\(marker)/deploy.sh", "--rcopy",
                "\(marker)/build/app",
                "--rcopy", "\(marker)/conf/app.toml", "--rcopy", "\(marker)/d/~", "--dest", "fetched",
            ])
        #expect(fetched == ["status 0"])
        #expect(
            shell("cd '\(work)/fetched/h1' && ls -A && cat app.tar deploy.sh app/bin app.toml '~'").text
                == "app\napp.tar\napp.toml\ndeploy.sh\n~\napp\ntop\nbin\ntoml\ntilde\n")
    }

    /// A path named on the command line that is a symbolic link is copied as what it points to, as
    /// scp does (`/etc/os-release` is `../usr/lib/os-release`: fetched as a link, it dangled); the
    /// links inside a directory stay links; a link to nothing is refused.
    @Test(.needsTestCluster)
    func aLinkNamedOnTheCommandLineIsCopiedAsWhatItPointsTo() async throws {
        let work = temporaryPath("copy-links")
        defer { shell("rm -rf '\(work)'") }
        let made = shell(
            """
            set -e; mkdir -p '\(work)/src/usr/lib' '\(work)/src/etc' '\(work)/src/real/sub' && cd '\(work)/src'
            echo 'ID=test' > usr/lib/os-release && ln -s ../usr/lib/os-release etc/os-release
            echo f > real/sub/f && ln -s sub/f real/inside && ln -s real dirlink && ln -s nowhere dangling
            chmod -R a+rX '\(work)'
            """)
        #expect(made.status == 0)
        let listing = "find . -printf '%p %y %l\\n' | LC_ALL=C sort"
        let expected =
            ". d \n./dirlink d \n./dirlink/inside l sub/f\n./dirlink/sub d \n./dirlink/sub/f f \n./os-release f \n"
        let fetched = try await passhOnCluster([
            "h1", "--rcopy", work + "/src/etc/os-release", "--rcopy", work + "/src/dirlink", "--dest",
            work + "/fetched",
        ])
        #expect(fetched.status == 0)
        #expect(fetched.stderrText == "")
        #expect(shell("cd '\(work)/fetched/h1' && \(listing)").text == expected)
        #expect(readText(work + "/fetched/h1/os-release") == "ID=test\n")
        let destination = temporaryPath("copy-links-dest")  // the remote user makes it
        defer { shell("rm -rf '\(destination)'") }
        let pushed = try await passhOnCluster([
            "h1", "--copy", work + "/src/etc/os-release", "--copy", work + "/src/dirlink", "--dest", destination,
        ])
        #expect(pushed.status == 0)
        #expect(pushed.stderrText == "")
        #expect(shell("cd '\(destination)' && \(listing)").text == expected)

        let danglingFetch = try await passhOnCluster([
            "h1", "--rcopy", work + "/src/dangling", "--rcopy", work + "/src/usr", "--dest", work + "/dangling",
        ])
        #expect(danglingFetch.status == 2)
        #expect(
            lines(danglingFetch.stderr) == [
                "[h1] passh: \(work)/src/dangling: No such file (a dangling symbolic link)", "failed at: h1",
            ])
        #expect(readText(work + "/dangling/h1/usr/lib/os-release") == "ID=test\n")
        let (fakeSSH, log) = try recordingSSH()
        let danglingPush = try await passh([
            "--ssh", fakeSSH, "h1", "--copy", work + "/src/dangling", "--dest", work + "/never",
        ])
        #expect(danglingPush.status == 1)
        #expect(danglingPush.stderrText == "No such file: \(work)/src/dangling (a dangling symbolic link)\n")
        #expect(readText(log) == nil)
    }

    /// `--rcopy --dest DIR` follows the rules of `--outdir`: DIR (and each DIR/HOST) is never a
    /// symbolic link, and must be owned by the user and closed to group and others.
    @Test(.needsTestCluster)
    func theGatherDestinationMustBePrivate() async throws {
        let work = temporaryPath("gather-private")
        defer { shell("rm -rf '\(work)'") }
        #expect(
            shell(
                "mkdir -p '\(work)/elsewhere' '\(work)/open' '\(work)/theirs' '\(work)/dest/h2' && chmod 0777 '\(work)/open' '\(work)/dest/h2'"
                    + " && ln -s elsewhere '\(work)/link' && ln -s '\(work)/elsewhere' '\(work)/dest/h1'"
            ).status == 0)
        var refused = [
            (work + "/link", "Not a directory: \(work)/link is a symbolic link"),
            (work + "/open", "Not private: \(work)/open must be owned by you and not writable by group or others"),
        ]
        if geteuid() == 0 {
            chown(work + "/theirs", 65534, 65534)
            refused.append(
                (
                    work + "/theirs",
                    "Not private: \(work)/theirs must be owned by you and not writable by group or others"
                ))
        }
        for (destination, message) in refused {
            let (fakeSSH, log) = try recordingSSH()
            let out = try await passh(["--ssh", fakeSSH, "h1", "--rcopy", "/etc/hostname", "--dest", destination])
            #expect(out.status == 1)
            #expect(out.stderrText == message + "\n")
            #expect(readText(log) == nil)
        }
        // A host's directory planted as a link, or open to others: that host fails, the others go on.
        let out = try await passhOnCluster([
            "h1,h2,h3", "--rcopy", "/etc/hostname", "--dest", work + "/dest",
        ])
        #expect(out.status == 2)
        #expect(
            lines(out.stderr) == [
                "[h1] passh: Not a directory: \(work)/dest/h1 is a symbolic link",
                "[h2] passh: Not private: \(work)/dest/h2 must be owned by you and not writable by group or others",
                "failed at: h1 h2",
            ])
        #expect(shell("ls -A '\(work)/elsewhere' '\(work)/dest/h2'").text == "\(work)/dest/h2:\n\n\(work)/elsewhere:\n")
        #expect(readText(work + "/dest/h3/hostname") != nil)
    }

    /// Members the gather does not create (devices, FIFOs) are named on the host's stderr and
    /// counted in JSON; they were skipped without a word.
    @Test(.needsTestCluster)
    func skippedMembersAreReported() async throws {
        let work = temporaryPath("gather-skipped")
        defer { shell("rm -rf '\(work)'") }
        #expect(
            shell(
                "mkdir -p '\(work)/src/d' && mkfifo '\(work)/src/d/fifo' && echo x > '\(work)/src/d/file' && chmod -R a+rX '\(work)/src'"
            ).status == 0)
        let out = try await passhOnCluster(["h1", "--rcopy", work + "/src/d", "--dest", work + "/plain"])
        #expect(out.status == 0)
        #expect(lines(out.stderr) == ["[h1] passh: skipped 1 member: 'd/fifo' (a FIFO)"])
        #expect(shell("ls '\(work)/plain/h1/d'").text == "file\n")
        let json = try await passhOnCluster(["--json", "h1", "--rcopy", work + "/src/d", "--dest", work + "/json"])
        #expect(json.status == 0)
        let objects = Self.withoutDurations(json.stdoutText)
        #expect(objects.contains { $0.hasSuffix(#""files":1,"bytes":2,"skipped":1}"#) })
        #expect(objects.last?.hasSuffix(#""files":1,"bytes":2,"skipped":1}}"#) == true)
        #expect(objects.contains { $0.contains(#""stream":"stderr""#) && $0.contains("skipped 1 member") })
    }

    /// A file that reports a size of 0 but is not empty (`/proc/cpuinfo`) is refused with a
    /// message, never sent as an empty file with status ok.
    @Test(.needsTestCluster)
    func procFilesAreRefusedNotSentEmpty() async throws {
        let work = temporaryPath("gather-proc")
        defer { shell("rm -rf '\(work)'") }
        #expect(
            shell("mkdir -p '\(work)/src' && echo one > '\(work)/src/single.txt' && chmod -R a+rX '\(work)'").status
                == 0)
        let out = try await passhOnCluster([
            "h1", "--rcopy", "/proc/cpuinfo", "--rcopy", work + "/src/single.txt", "--dest", work + "/dest",
        ])
        #expect(out.status == 2)
        #expect(
            lines(out.stderr) == [
                "[h1] passh: /proc/cpuinfo: reports a size of 0 but is not empty (a /proc or /sys file): tar would send it empty; read it with cat",
                "failed at: h1",
            ])
        #expect(shell("ls '\(work)/dest/h1'").text == "single.txt\n")
        let (fakeSSH, log) = try recordingSSH()
        let push = try await passh(["--ssh", fakeSSH, "h1", "--copy", "/proc/cpuinfo", "--dest", work + "/never"])
        #expect(push.status == 1)
        #expect(
            push.stderrText
                == "Cannot copy /proc/cpuinfo: it reports a size of 0 but is not empty (a /proc or /sys file), and tar would send it empty\n"
        )
        #expect(readText(log) == nil)
    }

    /// What the local tar says while it succeeds is shown (it skips sockets), and why it failed
    /// when it fails: a full `$TMPDIR` said only `exited(2)`.
    @Test func theLocalTarIsHeard() async throws {
        let work = temporaryPath("copy-tar-says")
        defer { shell("rm -rf '\(work)'") }
        #expect(
            shell(
                "mkdir -p '\(work)/d' && echo x > '\(work)/d/f' && python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"\(work)/d/sock\")'"
            ).status == 0)
        let (fakeSSH, log) = try recordingSSH()
        let out = try await passh(["--ssh", fakeSSH, "h1", "--copy", work + "/d", "--dest", "/tmp/x"])
        #expect(out.status == 0)
        #expect(out.stderrText == "passh: tar: d/sock: socket ignored\n")
        #expect(readText(log) != nil)

        // A full temporary directory: a small file system of our own (a mount namespace). Not under
        // ThreadSanitizer: its runtime dies of SIGBUS at exit in any program whose $TMPDIR is full
        // (`passh --version` too, while the plain and AddressSanitizer builds are fine).
        guard getenv("PASSH_TEST_SANITIZER").map({ String(cString: $0) }) != "thread" else { return }
        guard shell("unshare -rm true 2>/dev/null").status == 0 else {
            Issue.record("unshare -rm is not allowed here: the full-disk case is not checked")
            return
        }
        let full = shell(
            """
            mkdir -p '\(work)/tmp' && head -c 300000 /dev/urandom > '\(work)/big' && unshare -rm sh -c \
            "mount -t tmpfs -o size=64k tmpfs '\(work)/tmp' && TMPDIR='\(work)/tmp' '\(passhPath)' --ssh '\(fakeSSH)' h1 --copy '\(work)/big' --dest x" 2>&1
            echo "status $?"
            """
        ).text
        #expect(full.hasPrefix("Cannot archive the files to copy: tar: -: "), "\(full)")
        #expect(full.hasSuffix(" (no space left in \(work)/tmp)\nstatus 1\n"), "\(full)")
    }

    /// What a gather holds does not grow with the names in the stream: 700 nested directories with
    /// 200-byte names make a 50 MB stream of names (each directory's whole path); passh had kept
    /// every directory's path until the end (100 MB and more), it keeps those it is inside (peak
    /// RSS measured: 24.6 MB, as a gather of one small file).
    @Test(.needsTestCluster)
    func gatherMemoryDoesNotGrowWithNames() async throws {
        let work = temporaryPath("gather-names")
        defer { shell("rm -rf '\(work)'") }
        let made = shell(
            """
            mkdir -p '\(work)' && cd '\(work)' && python3 -c '
            import os
            os.mkdir("deep"); os.chdir("deep")
            for i in range(700):
                os.mkdir("d" * 200); os.chdir("d" * 200)
            open("f", "w").write("x\\n")
            ' 2>&1
            """)
        #expect(made.status == 0, "\(made.text)")
        // Over ssh: the remote tar is not passh's child (GNU tar itself takes 150 MB on this tree).
        let out = try await bash(
            """
            chmod -R a+rX '\(work)' && cd '\(work)' && /usr/bin/time -f %M -o rss '\(passhPath)' -F '\(TestCluster.config)' \\
                h1 --rcopy '\(work)/deep' --dest out 2>&1
            echo "status $?"; find out -type f | wc -l
            """)
        #expect(out == ["status 0", "1"])
        // (Not in a sanitized build: its memory is the sanitizer's.)
        if getenv("PASSH_TEST_SANITIZER") == nil {
            #expect(peakKiB(work + "/rss") < 40 * 1024, "peak RSS \(peakKiB(work + "/rss")) KiB")
        }
    }

    /// A pax 1.0 sparse member (bsdtar's, and GNU tar's `--sparse-version=1.0`) leaves nothing
    /// behind once written: its map's memory is released. It was not — the map reader's arrays
    /// leaked, 32 bytes an entry (LeakSanitizer: 128 bytes for a one-entry map), so a gather's memory
    /// grew with every such member. Here a host's tar sends the same member 16 times, each with a map
    /// of 131,072 entries (the most accepted; all holes but a last byte): the gather's peak RSS is
    /// that of one member (it was 64 MiB more: 4 MiB a member). `--local`, its `tar` a script that
    /// prints the archive: passh, not the remote side, is measured.
    @Test func paxSparseMapsAreReleased() async throws {
        let work = temporaryPath("gather-sparse-maps")
        defer { shell("rm -rf '\(work)'") }
        let made = shell(
            """
            mkdir -p '\(work)/bin' && cd '\(work)' && python3 -c '
            import io, tarfile
            entries = 131072
            text = "%d\\n" % entries + "".join("%d\\n0\\n" % i for i in range(entries - 1)) + "%d\\n1\\n" % (entries - 1)
            data = text.encode() + bytes(-len(text) % 512) + b"x"
            for name, count in (("one.tar", 1), ("many.tar", 16)):
                with tarfile.open(name, "w", format=tarfile.PAX_FORMAT) as archive:
                    for _ in range(count):
                        member = tarfile.TarInfo("GNUSparseFile.0/f")
                        member.size = len(data)
                        member.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                            "GNU.sparse.name": "f", "GNU.sparse.realsize": str(entries)}
                        archive.addfile(member, io.BytesIO(data))
            ' && printf '#!/bin/sh\\nexec cat "$PASSH_TEST_ARCHIVE"\\n' > bin/tar && chmod +x bin/tar 2>&1
            """)
        #expect(made.status == 0, "\(made.text)")
        let out = try await bash(
            """
            cd '\(work)' && for archive in one many; do
                PATH="\(work)/bin:$PATH" PASSH_TEST_ARCHIVE=$archive.tar /usr/bin/time -f %M -o rss-$archive \\
                    '\(passhPath)' --local --json h1 --rcopy '\(work)/bin' --dest out-$archive 2>&1 |
                    grep '"event":"finished"' | grep -o '"status":"[a-z]*"\\|"files":[0-9]*\\|"bytes":[0-9]*' | paste -sd ' '
                echo "status ${PIPESTATUS[0]}"
                cmp <(head -c 131071 /dev/zero; printf x) out-$archive/h1/f && echo "$archive: the file, its holes"
            done
            """)
        #expect(
            out == [
                #""status":"ok" "files":1 "bytes":131072"#, "status 0", "one: the file, its holes",
                #""status":"ok" "files":16 "bytes":2097152"#, "status 0", "many: the file, its holes",
            ])
        // (Not in a sanitized build: its memory is the sanitizer's.)
        if getenv("PASSH_TEST_SANITIZER") == nil {
            let (one, many) = (peakKiB(work + "/rss-one"), peakKiB(work + "/rss-many"))
            #expect(many < one + 16 * 1024, "peak RSS \(many) KiB for 16 members, \(one) KiB for one")
        }
    }

    #if LIBSSH
    /// `--copy` over libssh: the archive goes through libssh's channel instead of an ssh process's
    /// stdin; the tree arrives byte for byte, with its modes, times and links.
    @Test(.needsTestCluster)
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
    @Test(.needsTestCluster)
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
                    #"{"event":"finished","host":"\#(host)","status":"ok","exit_code":0,"signal":null,"signal_number":null,"error":null,"failure":null,"started":true,"attempts":1,"duration_ms":D,"duration_ns":D,"files":5,"bytes":2097164,"skipped":0}"#
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
        let destination = temporaryPath("gather-quoted")
        defer { shell("rm -rf '\(destination)'") }
        _ = try await passh([
            "--ssh", fakeSSH, "h1", "--rcopy", "/var/log/app/", "--rcopy", "-odd name", "--rcopy", "~/x", "--rcopy",
            "dir/~", "--dest", destination,
        ])
        let options = "-T -o LogLevel=INFO -o ConnectTimeout=6 -o BatchMode=yes -E LOG -- h1"
        let gnu = "o= && case $(tar --version 2>/dev/null) in *GNU*) o=--overwrite;; esac"
        let logged = readText(log) ?? ""
        #expect(
            logged.hasPrefix(
                """
                \(options) mkdir -p -- 'it'\\''s ~/here' && \(gnu) && tar -xpf - $o --no-same-owner -C 'it'\\''s ~/here'
                \(options) mkdir -p -- "$HOME"/'in/home' && \(gnu) && tar -xpf - $o -C "$HOME"/'in/home'
                \(options) passh_tar() { 
                """))
        // Each path: its parent (a leading ~/ is the remote home), its name and itself, quoted; a
        // `~` anywhere else is a name.
        #expect(
            logged.hasSuffix(
                #"; s=0; passh_tar '/var/log' 'app' '/var/log/app/' || s=$?; passh_tar '.' './-odd name' '-odd name' || s=$?; "#
                    + #"passh_tar "$HOME" 'x' '~/x' || s=$?; passh_tar 'dir' '~' 'dir/~' || s=$?; (exit $s)"# + "\n"))
    }
}
