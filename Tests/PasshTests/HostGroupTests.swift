import Passh
import PasshTestSupport
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@Suite("Host groups: @NAME and @SOURCE:NAME in HostList")
struct HostGroupTests {
    /// The groups of ClusterShell's examples, as the default source `local`.
    private let groups = HostGroups(sources: [
        ("local", StaticGroupSource(["web": "web[3,1-2]", "db": "db1", "all": "@web,@db,web1"])),
        ("ext", StaticGroupSource(["a": "@b,n1", "b": "n2", "c": "@local:db"])),
    ])

    /// The error `body` throws (`nil` for none, or for an error that is not a ``PasshError``).
    private func error(_ body: () async throws -> Void) async -> PasshError? {
        do {
            try await body()
            return nil
        } catch {
            return error as? PasshError
        }
    }

    /// Writes files into a new private directory, runs `body` with its path, and removes it.
    @discardableResult
    private func withDirectory<T>(_ files: [String: String], _ body: (String) async throws -> T) async throws -> T {
        let directory = temporaryPath("groups")
        #expect(mkdir(directory, 0o700) == 0)
        defer { shell("rm -rf '\(directory)'") }
        for (name, text) in files { try writeFile("\(directory)/\(name)", Array(text.utf8)) }
        return try await body(directory)
    }

    @Test func expandsNestedGroupsInOrderWithoutRepeats() async throws {
        var list = HostList(groups: groups)
        try await list.add("h1,@all,h1,root@web1")
        #expect(list.names == ["h1", "web1", "web2", "web3", "db1", "root@web1"])
    }

    @Test func excludesGroups() async throws {
        var list = HostList(groups: groups)
        try await list.exclude("@web")
        try await list.add("@all,x1")
        #expect(list.names == ["db1", "x1"])
        try await list.exclude("x1,@local:db")
        #expect(list.names == [])
    }

    @Test func namesOtherSourcesAndTheirGroups() async throws {
        var list = HostList(groups: groups)
        try await list.add("@ext:a,@ext:c")  // `@b` in source ext is ext's b; `@local:db` names the default source
        #expect(list.names == ["n2", "n1", "db1"])
    }

    @Test func withoutSourcesEveryGroupIsUnknown() async {
        var list = HostList()
        let failure = await error { try await list.add("h1,@web") }
        #expect(failure == PasshError(.invalidGroup, "unknown group \"@web\""))
        #expect(list.names == [])
    }

    @Test func refusesCyclesUnknownGroupsAndSources() async {
        let groups = HostGroups(sources: [
            ("local", StaticGroupSource(["a": "@b", "b": "x,@a", "self": "y,@self", "c": "@nope", "d": "@zz:q"]))
        ])
        var list = HostList(groups: groups)
        for (pattern, message) in [
            ("@a", "group \"b\": group \"@a\" includes itself: @a -> @b -> @a"),
            ("h1,@b", "group \"a\": group \"@b\" includes itself: @b -> @a -> @b"),
            ("@self", "group \"self\": group \"@self\" includes itself: @self -> @self"),
            ("@c", "group \"c\": unknown group \"@nope\""),
            ("@nope", "unknown group \"@nope\""),
            ("@d", "group \"d\": unknown group source \"zz\" in \"@zz:q\""),
            ("@zz:a", "unknown group source \"zz\" in \"@zz:a\""),
            (
                "@",
                "invalid group \"@\": a group name is letters, digits, '_', '-', '.' and '+', not beginning with '-'"
            ),
            (
                "@a:b:c",
                "invalid group \"@a:b:c\": a group name is letters, digits, '_', '-', '.' and '+', not beginning with '-'"
            ),
            (
                "@s.x:b",
                "invalid group \"@s.x:b\": a source name is letters, digits, '_' and '-', not beginning with '-'"
            ),
        ] {
            #expect(await error { try await list.add(pattern) } == PasshError(.invalidGroup, message), "\(pattern)")
            #expect(await error { try await list.exclude(pattern) } == PasshError(.invalidGroup, message), "\(pattern)")
        }
        #expect(list.names == [])
    }

    @Test func groupsCountTowardsTheLimitBeforeExpanding() async throws {
        let groups = HostGroups(sources: [("local", StaticGroupSource(["web": "w[1-6]", "two": "@web,@web"]))])
        var list = HostList(limit: 10, groups: groups)
        try await list.add("a1")
        #expect(
            await error { try await list.add("@two") }
                == PasshError(
                    .invalidPattern, "host pattern \"@two\" expands to 12 hosts, more than the limit of 10"))
        #expect(
            await error { try await list.add("@two,a2") }
                == PasshError(
                    .invalidPattern, "host pattern \"@two,a2\" expands to at least 12 hosts, more than the limit of 10")
        )
        #expect(
            await error { try await list.add("@web,@two") }
                == PasshError(
                    .invalidPattern,
                    "host pattern \"@web,@two\" expands to at least 12 hosts, more than the limit of 10"))
        #expect(
            await error { try await list.add("@web,b[1-5]") }
                == PasshError(
                    .invalidPattern, "host pattern \"@web,b[1-5]\" expands to 11 hosts, more than the limit of 10"))
        #expect(list.names == ["a1"])  // a call that throws leaves the list as it was
        try await list.add("@web,a1")
        #expect(list.names == ["a1", "w1", "w2", "w3", "w4", "w5", "w6"])
    }

    @Test func readsAGroupsFile() async throws {
        let text = "# site groups\nweb: web[1-2] # front\n  db :db1,db2\r\nall: @web,@db\n\nbad: w[1-\nweird: -x\n"
        try await withDirectory(["groups": text]) { directory in
            let file = try GroupFileSource(contentsOf: FilePath("\(directory)/groups"))
            #expect(file.groupNames() == ["web", "db", "all", "bad", "weird"])
            var list = HostList(groups: HostGroups(sources: [("local", file)]))
            try await list.add("@all")
            #expect(list.names == ["web1", "web2", "db1", "db2"])
            #expect(
                await error { try await list.add("@bad") }
                    == PasshError(
                        .invalidPattern, "\(directory)/groups:6: invalid host pattern \"w[1-\": missing ']'"))
            #expect(
                await error { try await list.add("@weird") }
                    == PasshError(
                        .invalidHost, "\(directory)/groups:7: invalid host \"-x\": a host must not begin with '-'"))
        }
    }

    @Test func aGroupInAHostFileNamesItsLine() async throws {
        try await withDirectory(["groups": "web: web1\nall: @web,@db\n", "hosts": "h1\n@web\n@all\n"]) { directory in
            let file = try GroupFileSource(contentsOf: FilePath("\(directory)/groups"))
            var list = HostList(groups: HostGroups(sources: [("local", file)]))
            #expect(
                await error { try await list.add(contentsOfFile: FilePath("\(directory)/hosts")) }
                    == PasshError(
                        .invalidGroup, "\(directory)/groups:2: unknown group \"@db\""))
            #expect(
                await error { try await list.add(contentsOfFile: FilePath("\(directory)/hosts2")) }
                    == PasshError(
                        .unreadableFile, "No such file: \(directory)/hosts2"))
            try writeFile("\(directory)/hosts", Array("h1\n@web\n@nope\n".utf8))
            #expect(
                await error { try await list.add(contentsOfFile: FilePath("\(directory)/hosts")) }
                    == PasshError(
                        .invalidGroup, "\(directory)/hosts:3: unknown group \"@nope\""))
            #expect(list.names == [])
        }
    }

    @Test func refusesBadLinesInAGroupsFile() async throws {
        for (text, message) in [
            ("web: web1\nweb web2\n", "groups:2: expected \"NAME: PATTERNS\""),
            (
                "w b: x\n",
                "groups:1: invalid group name \"w b\": letters, digits, '_', '-', '.' and '+', not beginning with '-'"
            ),
            (
                ": x\n",
                "groups:1: invalid group name \"\": letters, digits, '_', '-', '.' and '+', not beginning with '-'"
            ),
            ("\n\nweb:   # nothing\n", "groups:3: group \"web\" has no hosts"),
            ("web: a\ndb: b\nweb: c\n", "groups:3: group \"web\" is already defined at line 1"),
        ] {
            try await withDirectory(["groups": text]) { directory in
                #expect(
                    await error { _ = try GroupFileSource(contentsOf: FilePath("\(directory)/groups")) }
                        == PasshError(
                            .invalidGroup, "\(directory)/\(message)"))
            }
        }
    }

    @Test func refusesFilesOthersCanWrite() async throws {
        try await withDirectory(["groups": "web: web1\n", "sources": "ext: echo x\n"]) { directory in
            for name in ["groups", "sources"] {
                let path = "\(directory)/\(name)"
                let load: () throws -> Void = {
                    if name == "groups" {
                        _ = try GroupFileSource(contentsOf: FilePath(path))
                    } else {
                        _ = try CommandGroupSource.sources(contentsOf: FilePath(path))
                    }
                }
                let refused = PasshError(
                    .unreadableFile, "Not private: \(path) must be owned by you and writable by no one else")
                #expect(await error(load) == nil)
                for mode: mode_t in [0o620, 0o602, 0o660] {
                    chmod(path, mode)
                    #expect(await error(load) == refused, "mode \(String(mode, radix: 8))")
                }
                chmod(path, 0o644)  // others may read it
                #expect(await error(load) == nil)
                if getuid() == 0 {
                    #expect(chown(path, 65534, 65534) == 0)  // nobody
                    #expect(await error(load) == refused)
                }
            }
            #expect(
                await error { _ = try GroupFileSource(contentsOf: FilePath(directory)) }
                    == PasshError(
                        .unreadableFile, "Cannot read file: \(directory): not a regular file"))
        }
    }

    @Test func aCommandSourcePrintsHostsOrPatterns() async throws {
        let log = temporaryPath("source-log")
        defer { unlink(log) }
        let source = CommandGroupSource(
            name: "ext", command: "echo \"$GROUP\" >> \(log); printf \"n[1-2],m1\\n\\n  $GROUP-x y\\r\\n\"",
            listCommand: "echo \"${GROUP-no group}\" b")
        let groups = HostGroups(sources: [("local", StaticGroupSource([:])), ("ext", source)])
        var list = HostList(groups: groups)
        try await list.add("@ext:g,@ext:g")
        #expect(list.names == ["n1", "n2", "m1", "g-x", "y"])
        try await list.exclude("@ext:g")
        #expect(list.names == [])
        #expect(readText(log) == "g\n")  // asked once
        #expect(try await groups.groups() == ["@ext:no", "@ext:group", "@ext:b"])
        #expect(try await groups.groups(of: "ext") == ["@ext:no", "@ext:group", "@ext:b"])
        #expect(try await groups.groups(of: "local") == [])
    }

    @Test func aFailingSourceCommandIsAnErrorWithItsStderr() async {
        let source = CommandGroupSource(
            name: "slurm",
            command: "echo n1; echo; echo 'sinfo: error: no partition \"'$GROUP'\"' >&2; echo more >&2; exit 3",
            listCommand: "kill -9 $$")
        let silent = CommandGroupSource(name: "quiet", command: "test \"$GROUP\" = ok && echo h1; exit 0")
        let groups = HostGroups(sources: [("slurm", source), ("quiet", silent)])
        var list = HostList(groups: groups)
        #expect(
            await error { try await list.add("h1,@slurm:batch") }
                == PasshError(
                    .invalidGroup,
                    "group source \"slurm\" failed on group \"batch\": exit 3: sinfo: error: no partition \"batch\""))
        #expect(
            await error { _ = try await groups.groups() }
                == PasshError(
                    .invalidGroup, "group source \"slurm\" failed to list its groups: killed by SIGKILL"))
        #expect(
            await error { _ = try await groups.groups(of: "quiet") }
                == PasshError(
                    .invalidGroup, "group source \"quiet\" cannot list its groups: it has no list command"))
        #expect(
            await error { _ = try await groups.groups(of: "nope") }
                == PasshError(.invalidGroup, "unknown group source \"nope\""))
        #expect(
            await error { try await list.add("@quiet:nope") }
                == PasshError(.invalidGroup, "unknown group \"@quiet:nope\""))
        #expect(list.names == [])
        try? await list.add("@quiet:ok")
        #expect(list.names == ["h1"])
    }

    @Test func readsASourcesFile() async throws {
        let text = """
            # sources
            slurm: sinfo -h -N -o '%N #1' -p "$GROUP"
              cmdb.list :  curl -s https://cmdb/groups\r
            cmdb: curl -s "https://cmdb/groups/$GROUP"

            """
        try await withDirectory(["sources": text]) { directory in
            let sources = try CommandGroupSource.sources(contentsOf: FilePath("\(directory)/sources"))
            #expect(sources.map(\.name) == ["slurm", "cmdb"])
            #expect(
                sources.map(\.command) == [
                    "sinfo -h -N -o '%N #1' -p \"$GROUP\"", "curl -s \"https://cmdb/groups/$GROUP\"",
                ])
            #expect(sources.map(\.listCommand) == [nil, "curl -s https://cmdb/groups"])
        }
        for (text, message) in [
            ("slurm sinfo\n", "sources:1: expected \"NAME: COMMAND\""),
            (
                "a.b: x\n",
                "sources:1: invalid source name \"a.b\": letters, digits, '_' and '-', not beginning with '-'"
            ),
            ("local: x\n", "sources:1: the source name \"local\" is taken"),
            ("a: x\n\na:   \n", "sources:3: source \"a\" has no command"),
            ("a: x\na.list: y\na: z\n", "sources:3: \"a\" is already defined at line 1"),
            ("a: x\na.list: y\na.list: z\n", "sources:3: \"a.list\" is already defined at line 2"),
            ("b.list: y\na: x\n", "sources:1: \"b.list\" without a line \"b: COMMAND\""),
        ] {
            try await withDirectory(["sources": text]) { directory in
                #expect(
                    await error {
                        _ = try CommandGroupSource.sources(
                            contentsOf: FilePath("\(directory)/sources"), reservedNames: ["local"])
                    } == PasshError(.invalidGroup, "\(directory)/\(message)"))
            }
        }
    }

    @Test func regroupsHostSetsIntoGroups() async {
        let groups = HostGroups(sources: [
            ("local", StaticGroupSource(["web": "web[1-3]", "db": "db1", "all": "@web,@db", "bad": "@nope"])),
            ("ext", StaticGroupSource(["e": "x9"])),
        ])
        #expect(await groups.regroup(["web1", "web2", "web3", "x9"]) == "@web,x9")  // ext is not the default source
        #expect(await groups.regroup(["db1", "web1", "web2", "web3"]) == "@all")
        #expect(await groups.regroup(["web3", "db1", "web1"]) == "@db,web[1,3]")
        #expect(await groups.regroup(["web1", "web2"]) == "web[1-2]")
        #expect(await HostGroups().regroup(["h2", "h1"]) == "h[1-2]")
    }

    /// Issue 22, item 15: `@-x` reached `ansible "$GROUP"` as an option.
    @Test func aGroupNameNeverBeginsWithADash() async throws {
        let log = temporaryPath("dash-log")
        defer { unlink(log) }
        let source = CommandGroupSource(name: "ext", command: "echo \"$GROUP\" >> \(log); echo h1")
        var list = HostList(groups: HostGroups(sources: [("local", StaticGroupSource([:])), ("ext", source)]))
        for pattern in ["@ext:--become", "@-x", "h1,@ext:-x"] {
            #expect(
                await error { try await list.add(pattern) }?.message.hasSuffix(
                    "a group name is letters, digits, '_', '-', '.' and '+', not beginning with '-'") == true,
                "\(pattern)")
        }
        #expect(
            await error { try await list.add("@-s:x") }?.message
                == "invalid group \"@-s:x\": a source name is letters, digits, '_' and '-', not beginning with '-'")
        #expect(readText(log) == nil, "no command ran")
        try await withDirectory(["groups": "-x: h1\n", "sources": "-s: echo x\n"]) { directory in
            #expect(
                await error { _ = try GroupFileSource(contentsOf: FilePath("\(directory)/groups")) }?.message
                    == "\(directory)/groups:1: invalid group name \"-x\": letters, digits, '_', '-', '.' and '+', "
                    + "not beginning with '-'")
            #expect(
                await error { _ = try CommandGroupSource.sources(contentsOf: FilePath("\(directory)/sources")) }?
                    .message
                    == "\(directory)/sources:1: invalid source name \"-s\": letters, digits, '_' and '-', "
                    + "not beginning with '-'")
        }
        // A group of the source itself, named in its output, may begin with a letter only too.
        let printsDash = CommandGroupSource(name: "ext", command: "echo @-x")
        var other = HostList(groups: HostGroups(sources: [("ext", printsDash)]))
        #expect(await error { try await other.add("@ext:a") }?.message.contains("not beginning with '-'") == true)
    }

    /// Issue 22, item 15: what one source prints does not choose which other source runs.
    @Test func aSourcesOutputNamesNoOtherSource() async throws {
        let log = temporaryPath("cross-log")
        defer { unlink(log) }
        let first = CommandGroupSource(name: "one", command: "echo h1 @two:x")
        let same = CommandGroupSource(name: "same", command: "test \"$GROUP\" = a && echo @b,@same:c; echo $GROUP")
        let second = CommandGroupSource(name: "two", command: "echo ran >> \(log); echo h2")
        let groups = HostGroups(sources: [("one", first), ("two", second), ("same", same)])
        var list = HostList(groups: groups)
        #expect(
            await error { try await list.add("@one:g") }
                == PasshError(
                    .invalidGroup,
                    "group source \"one\" failed on group \"g\": it printed \"@two:x\": a source's command may name "
                        + "groups of its own source only"))
        #expect(readText(log) == nil, "the other source did not run")
        try await list.add("@same:a")
        #expect(list.names == ["b", "c", "a"])
    }

    /// Issue 22, item 14: 700,000 hosts became 583,556 without a word, the last name cut in two.
    @Test func aSourceThatPrintsTooMuchIsAnError() async throws {
        let source = CommandGroupSource(name: "big", command: "yes node0000001 | head -c 70000000")
        var list = HostList(groups: HostGroups(sources: [("big", source)]))
        #expect(
            await error { try await list.add("@big:all") }
                == PasshError(
                    .invalidGroup,
                    "group source \"big\" failed on group \"all\": it printed more than 64 MiB; the command was stopped"
                ))
        #expect(list.names == [])
        // Just under the limit, every name whole (the limit on hosts is what refuses them).
        let fits = CommandGroupSource(name: "fits", command: "yes node0000001 | head -n 100000")
        var whole = HostList(groups: HostGroups(sources: [("fits", fits)]))
        try await whole.add("@fits:all")
        #expect(whole.names == ["node0000001"])
    }

    /// Issue 19, item 7: a source's command runs through swift-subprocess; cancelling the task
    /// that resolves the group stops it (its whole process group) at once.
    @Test(.timed) func cancellingTheLookupStopsTheCommand() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let source = CommandGroupSource(name: "slow", command: "\(sleep) & \(sleep); echo h1")
        let groups = HostGroups(sources: [("slow", source)])
        let clock = ContinuousClock()
        let lookup = Task {
            var list = HostList(groups: groups)
            try await list.add("@slow:x")
            return list.names
        }
        #expect(
            try await waitForProcesses(matching: marker, named: "sleep", count: 2) == 2, "both sleeps started")
        let cancelled = clock.now
        lookup.cancel()
        let result = await lookup.result
        #expect(clock.now - cancelled < .seconds(10))
        guard case .failure(let failure) = result, let error = failure as? PasshError else {
            Issue.record("\(result)")
            return
        }
        #expect(error == PasshError(.cancelled, "group source \"slow\" failed on group \"x\": stopped (cancelled)"))
        #expect(try await processesLeft(matching: marker).isEmpty, "no process left (the shell and both sleeps)")
    }
}
