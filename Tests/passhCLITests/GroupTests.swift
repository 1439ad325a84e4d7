import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `@groups`, `--list-groups` and `-r`, with a temporary `XDG_CONFIG_HOME`; no ssh needed.
@Suite("passh host groups")
struct GroupTests {
    /// A configuration directory holding `passh/groups` and `passh/sources` (mode 0600).
    private struct Config {
        let home = temporaryPath("config")
        var environment: [String: String] { ["XDG_CONFIG_HOME": home] }

        init(groups: String?, sources: String? = nil) throws {
            #expect(mkdir(home, 0o700) == 0 && mkdir(home + "/passh", 0o700) == 0)
            if let groups { try writeFile(home + "/passh/groups", Array(groups.utf8)) }
            if let sources { try writeFile(home + "/passh/sources", Array(sources.utf8)) }
        }

        func remove() { shell("rm -rf '\(home)'") }
    }

    private let groups = """
        # site groups
        web: web[3,1-2]
        db: db1
        all: @web,@db   # everything
        """
    private let sources = """
        # command sources
        ext: test "$GROUP" != bad || { echo "no such group: $GROUP" >&2; exit 3; }; echo "$GROUP[1-2] z1"
        ext.list: echo a b
        """

    @Test func listHostsExpandsGroupsEverywhere() async throws {
        let config = try Config(groups: groups, sources: sources)
        defer { config.remove() }
        let out = try await passh(["--list-hosts", "h1,@all,@ext:a,web2"], environment: config.environment)
        #expect(out.stderrText == "")
        #expect(out.stdoutText == "h1\nweb1\nweb2\nweb3\ndb1\na1\na2\nz1\n")
        #expect(out.status == 0)
        let file = config.home + "/hosts"
        try writeFile(file, Array("@db\nh1 # and a host\n@local:web\n".utf8))
        let excluded = try await passh(
            ["-h", file, "-x", "@web", "-x", "@ext:h", "--list-hosts"], environment: config.environment)
        #expect(excluded.stdoutText == "db1\n")
        #expect(excluded.status == 0)
    }

    @Test func listGroupsPrintsEverySourceOrOne() async throws {
        let config = try Config(groups: groups, sources: sources)
        defer { config.remove() }
        let all = try await passh(["--list-groups"], environment: config.environment)
        #expect(all.stdoutText == "@web\n@db\n@all\n@ext:a\n@ext:b\n")
        #expect(all.status == 0)
        let one = try await passh(["--list-groups", "ext"], environment: config.environment)
        #expect(one.stdoutText == "@ext:a\n@ext:b\n")
        let local = try await passh(["--list-groups", "local"], environment: config.environment)
        #expect(local.stdoutText == "@web\n@db\n@all\n")
        let unknown = try await passh(["--list-groups", "nope"], environment: config.environment)
        #expect(unknown.stderrText == "passh: unknown group source \"nope\"\n")
        #expect(unknown.status == 64)
        let misuse = try await passh(["--list-groups", "ext", "uptime"], environment: config.environment)
        #expect(
            misuse.stderrText
                == "passh: --list-groups takes at most a SOURCE: no -h, --list-hosts, --persist-stop or COMMAND. (see passh --help)\n"
        )
        #expect(misuse.status == 64)
    }

    @Test func withoutConfigurationThereAreNoGroups() async throws {
        let config = try Config(groups: nil)
        defer { config.remove() }
        let list = try await passh(["--list-groups"], environment: config.environment)
        #expect(list.stdoutText == "")
        #expect(list.status == 0)
        let out = try await passh(["--list-hosts", "h1,@web"], environment: config.environment)
        #expect(out.stderrText == "passh: unknown group \"@web\"\n")
        #expect(out.stdoutText == "")
        #expect(out.status == 64)
    }

    @Test func errorsNameTheFileAndLineAndStartNothing() async throws {
        let config = try Config(groups: groups + "\nloop: h1,@loop\nbad: @db,w[1-\n", sources: sources)
        defer { config.remove() }
        let file = config.home + "/passh/groups"
        for (hosts, message) in [
            ("@loop", "passh: \(file):5: group \"@loop\" includes itself: @loop -> @loop"),
            ("@bad", "passh: \(file):6: invalid host pattern \"w[1-\": missing ']'"),
            ("@nope", "passh: unknown group \"@nope\""),
            ("@zz:web", "passh: unknown group source \"zz\" in \"@zz:web\""),
            ("h1,@ext:bad", "passh: group source \"ext\" failed on group \"bad\": exit 3: no such group: bad"),
        ] {
            let marker = uniqueMarker("passh-group")
            let out = try await passh(
                ["--local", "-x", "@web", hosts, "touch /tmp/\(marker)"], environment: config.environment)
            #expect(out.stderrText == message + "\n", "\(hosts)")
            #expect(out.stdoutText == "")
            #expect(out.status == 64)
            #expect(access("/tmp/\(marker)", F_OK) != 0)  // nothing started
        }
    }

    @Test func refusesConfigurationOthersCanWrite() async throws {
        let config = try Config(groups: groups, sources: sources)
        defer { config.remove() }
        chmod(config.home + "/passh/sources", 0o660)
        let out = try await passh(["--list-hosts", "@web"], environment: config.environment)
        #expect(
            out.stderrText
                == "Not private: \(config.home)/passh/sources must be owned by you and writable by no one else\n")
        #expect(out.status == 1)
        // No group: not read
        let plain = try await passh(["--list-hosts", "root@web1"], environment: config.environment)
        #expect(plain.stdoutText == "root@web1\n")
        #expect(plain.status == 0)
        chmod(config.home + "/passh/sources", 0o600)
        if getuid() == 0 {
            #expect(chown(config.home + "/passh/groups", 65534, 65534) == 0)  // nobody
            let owned = try await passh(["--list-groups"], environment: config.environment)
            #expect(
                owned.stderrText
                    == "Not private: \(config.home)/passh/groups must be owned by you and writable by no one else\n")
            #expect(owned.status == 1)
        }
    }

    @Test func regroupWritesGroupsInGatheredHeaders() async throws {
        let config = try Config(groups: groups)
        defer { config.remove() }
        let command = "case $PASSH_HOST in db*) echo db;; *) echo same;; esac"
        let out = try await passh(["--local", "-b", "-r", "@web,h1,@db", command], environment: config.environment)
        #expect(
            out.stdoutText
                == "---------------\n@web,h1 (4)\n---------------\nsame\n---------------\n@db\n---------------\ndb\n")
        #expect(out.status == 0)
        let whole = try await passh(
            ["--local", "--gather", "--regroup", "@all", "echo same"], environment: config.environment)
        #expect(whole.stdoutText == "---------------\n@all (4)\n---------------\nsame\n")
        let plain = try await passh(["--local", "-b", "@all", "echo same"], environment: config.environment)
        #expect(plain.stdoutText == "---------------\ndb1,web[1-3] (4)\n---------------\nsame\n")
        let misuse = try await passh(["--local", "-r", "@all", "true"], environment: config.environment)
        #expect(misuse.stderrText == "passh: -r/--regroup works only with -b/--gather. (see passh --help)\n")
        #expect(misuse.status == 64)
    }

    /// Issue 19, item 7: a SIGTERM while a source's command runs ends passh at once, with 143, and
    /// leaves no process behind. The command runs in a process group of its own, so only the
    /// cancellation of the resolution (passh's signal handling covering it) stops it.
    @Test func aSignalWhileASourceRunsEndsPasshAndTheCommand() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let config = try Config(groups: nil, sources: "slow: \(sleep); echo h1\n")
        defer {
            config.remove()
            for pid in processes(matching: marker) { kill(pid, SIGKILL) }
        }
        let script = temporaryPath("group-signal") + ".sh"
        try writeFile(
            script,
            Array(
                """
                XDG_CONFIG_HOME=\(config.home) \(passhPath) --local @slow:x true >/dev/null 2>&1 &
                pid=$!
                i=0; while ! pgrep -f '^sleep \(marker)' >/dev/null && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
                start=$(date +%s%N)
                kill -TERM $pid
                wait $pid
                echo "$? $(( ($(date +%s%N) - start) / 1000000 ))"
                """.utf8))
        defer { unlink(script) }
        let result =
            try await bashScript("bash \(script)").text.split(separator: "\n").first?.split(separator: " ") ?? []
        #expect(result.first == "143")
        #expect((Int(result.last ?? "") ?? .max) < 8000, "ended long before the sleeps (30 s): \(result)")
        let left = try await processesLeft(matching: marker, named: "sleep")
        #expect(left.isEmpty, "the source's command is gone")
    }
}

/// `-r` with a groups file that cannot be read: refused before anything starts, not ignored.
@Suite("passh -r with a broken groups file")
struct RegroupBrokenFileTests {
    @Test func aBrokenGroupsFileIsAnErrorNotPlainFolding() async throws {
        let home = temporaryPath("config-broken")
        defer { shell("rm -rf '\(home)'") }
        #expect(mkdir(home, 0o700) == 0 && mkdir(home + "/passh", 0o700) == 0)
        try writeFile(home + "/passh/groups", Array("web: h[1-2]\nthis is not a group line\n".utf8))
        let out = try await passh(
            ["--local", "-b", "-r", "h1,h2", "echo same"], environment: ["XDG_CONFIG_HOME": home])
        #expect(out.stderrText == "passh: \(home)/passh/groups:2: expected \"NAME: PATTERNS\"\n")
        #expect(out.stdoutText == "")
        #expect(out.status == 64)
    }
}
