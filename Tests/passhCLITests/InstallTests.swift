import PasshTestSupport
import Testing

#if LIBSSH  // once per CI run: in the default build, whose install it is; the other would only build it again

/// `scripts/install`: a binary that runs without the Swift toolchain, installed into a prefix and
/// removed again without a trace — the default install (the native transport with OpenSSH beside
/// it), as the default build of the tests has it.
///
/// The install builds passh anew (its own scratch directory, the Swift runtime linked in): the
/// largest cost of the suite. It builds with `--debug`, in about half the time of a release build
/// (the same script and static link; what is installed and removed is the same), and at a lower
/// priority: in a session of its own whose scheduling group has nice 10 (as passh gives its ssh
/// sessions that send input), it takes about a tenth of a core from the tests that want one, and
/// every idle cycle, so it runs beside all of them, timed ones too. (At nice 19 it was starved on a
/// machine shared with other builds: 15 minutes, not done.)
@Suite("scripts/install")
struct InstallTests {
    @Test func installsARunnableBinaryAndUninstallsEveryFile() async throws {
        // A relative PREFIX is relative to where the script runs (it was taken relative to the
        // repository).
        let prefix = temporaryPath("prefix")
        let parent = String(prefix[..<prefix.lastIndex(of: "/")!])
        let name = String(prefix[prefix.index(after: prefix.lastIndex(of: "/")!)...])
        defer { shell("rm -rf \(prefix)") }
        let background = "echo 10 >/proc/self/autogroup 2>/dev/null; exec nice -n 10"
        let install = try await bashScript(
            """
            cd \(parent) && setsid -w bash -c '\(background) \(repositoryRoot)/scripts/install --debug \(name)' \
                >/dev/null 2>\(prefix).log; echo $?
            """)
        #expect(install.text == "0\n", "\(readText(prefix + ".log") ?? "")")
        shell("rm -f \(prefix).log")
        #expect(
            shell("cd \(prefix) && find . -type f | sort").text == """
                ./bin/passh
                ./share/bash-completion/completions/passh
                ./share/fish/vendor_completions.d/passh.fish
                ./share/man/man1/passh.1
                ./share/passh/installed-files
                ./share/zsh/site-functions/_passh

                """)
        // No Swift runtime library is needed: none is listed, and it runs with no toolchain in reach.
        #expect(shell("ldd \(prefix)/bin/passh | grep -c libswift").text == "0\n")
        // libssh and OpenSSL come from the system's packages, in the build that has the native transport.
        #if LIBSSH
        #expect(shell("ldd \(prefix)/bin/passh | grep -c 'libssh.so.4'").text == "1\n")
        #else
        #expect(shell("ldd \(prefix)/bin/passh | grep -c 'libssh'").text == "0\n")
        #endif
        let version = shell("env -i PATH=/usr/bin:/bin \(prefix)/bin/passh --version").text
        #expect(version == shell("\(passhPath) --version").text)
        #expect(!version.isEmpty)
        let run = shell("env -i PATH=/usr/bin:/bin \(prefix)/bin/passh --local 'h[1-2]' 'echo hi' | sort")
        #expect(run.text == "[h1] hi\n[h2] hi\n")
        #expect(shell("grep -c '^.Dt PASSH 1' \(prefix)/share/man/man1/passh.1").text == "1\n")

        let uninstall = shell(
            "cd \(parent) && \(repositoryRoot)/scripts/install --uninstall \(name) >/dev/null 2>&1; echo $?")
        #expect(uninstall.text == "0\n")
        #expect(shell("ls -A \(prefix) 2>/dev/null | wc -l").text == "0\n", "nothing is left in the prefix")
    }
}

#endif

/// `scripts/install --uninstall` removes what an install puts under PREFIX, whatever its list of
/// installed files says (issue 22, item 10). No build needed: the prefix is made by hand.
@Suite("scripts/install --uninstall")
struct UninstallTests {
    @Test func removesOnlyWhatAnInstallPutsUnderThePrefix() throws {
        let root = temporaryPath("uninstall")
        let prefix = root + "/prefix"
        let outside = root + "/outside"
        defer { shell("rm -rf \(root)") }
        let made = shell(
            """
            set -e
            mkdir -p \(prefix)/bin \(prefix)/share/passh \(prefix)/share/fish/vendor_completions.d \
                \(prefix)/share/zsh/site-functions \(outside)/man/man1 \(outside)/linked \(outside)/empty
            for f in \(prefix)/bin/passh \(prefix)/share/fish/vendor_completions.d/passh.fish \
                \(prefix)/share/zsh/site-functions/_passh \(outside)/victim \(outside)/man/man1/passh.1 \
                \(outside)/linked/file \(prefix)/bin/keep-me; do echo x > "$f"; done
            ln -s \(outside)/man \(prefix)/share/man
            ln -s \(outside)/linked \(prefix)/share/link
            mkdir -p \(prefix)/share/bash-completion/completions/passh
            cat > \(prefix)/share/passh/installed-files <<EOF
            \(outside)/victim
            \(prefix)/bin/../../outside/empty/x
            \(prefix)/share/link/file
            \(prefix)/share/fish
            ../outside/victim
            \(prefix)/bin/passh
            EOF
            """)
        #expect(made.status == 0, "\(made.text)")
        let out = shell("cd \(root) && \(repositoryRoot)/scripts/install --uninstall prefix 2>&1; echo \"status $?\"")
        #expect(
            out.text == """
                scripts/install: kept \(prefix)/share/man/man1/passh.1: a directory on its way is a symbolic link or missing
                scripts/install: kept \(prefix)/share/bash-completion/completions/passh: a directory, not what the install put there
                removed passh from \(prefix)
                status 1

                """)
        // Outside the prefix, and through its symbolic links, nothing is touched.
        #expect(
            shell("cd \(outside) && find . | sort").text == """
                .
                ./empty
                ./linked
                ./linked/file
                ./man
                ./man/man1
                ./man/man1/passh.1
                ./victim

                """)
        // Inside, what the install put there is gone; the rest stays.
        #expect(
            shell("cd \(prefix) && find . | sort").text == """
                .
                ./bin
                ./bin/keep-me
                ./share
                ./share/bash-completion
                ./share/bash-completion/completions
                ./share/bash-completion/completions/passh
                ./share/link
                ./share/man

                """)
    }
}
