import PasshTestSupport
import Testing

/// `scripts/install`: a binary that runs without the Swift toolchain, installed into a prefix and
/// removed again without a trace — in each build of the tests, the install of the same kind: the
/// default (the native transport) in the default build, `--without-libssh` in the build without it.
@Suite("scripts/install", .serialized)
struct InstallTests {
    @Test func installsARunnableBinaryAndUninstallsEveryFile() throws {
        let prefix = temporaryPath("prefix")
        defer { shell("rm -rf \(prefix)") }
        #if LIBSSH
        let flags = ""
        #else
        let flags = "--without-libssh "
        #endif
        let install = shell("\(repositoryRoot)/scripts/install \(flags)\(prefix) >/dev/null 2>\(prefix).log; echo $?")
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

        let uninstall = shell("\(repositoryRoot)/scripts/install --uninstall \(prefix) >/dev/null 2>&1; echo $?")
        #expect(uninstall.text == "0\n")
        #expect(shell("ls -A \(prefix) 2>/dev/null | wc -l").text == "0\n", "nothing is left in the prefix")
    }
}
