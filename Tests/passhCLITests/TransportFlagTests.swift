import PasshTestSupport
import Testing

/// `--transport` / `PASSH_TRANSPORT`: which way hosts are reached.
@Suite struct TransportFlagTests {
    @Test func anUnknownTransportIsAUsageError() async throws {
        let out = try await passh(["--transport", "telnet", "h1", "true"])
        #expect(out.status == 64)
        #expect(out.stderrText == "passh: --transport telnet: the transport must be openssh or libssh. (see passh --help)\n")
    }

    #if !LIBSSH
    @Test func libSSHInABuildWithoutItSaysHowToRebuild() async throws {
        let flag = try await passh(["--transport", "libssh", "h1", "true"])
        #expect(flag.status == 64)
        #expect(flag.stderrText == """
            passh: --transport libssh: this passh was built without libssh; rebuild it with `swift build --traits LibSSH` \
            (needs libssh-dev). (see passh --help)

            """)
        let variable = try await passh(["h1", "true"], environment: ["PASSH_TRANSPORT": "libssh"])
        #expect(variable.status == 64)
        #expect(variable.stderrText.hasPrefix("passh: PASSH_TRANSPORT=libssh: this passh was built without libssh; "))
    }
    #else
    @Test(.enabled(if: TestCluster.isAvailable, "no OpenSSH server for scripts/testcluster: install openssh-server"))
    func libSSHRunsTheCommandWithTheSameOutput() async throws {
        let out = try await passhOnCluster(["--transport", "libssh", "h1,h2", "echo hi; echo oops >&2"])
        #expect(out.status == 0)
        #expect(out.stdoutText == "[h1] hi\n[h2] hi\n" || out.stdoutText == "[h2] hi\n[h1] hi\n")
        #expect(out.stderrText.contains("[h1] oops\n"))
        let variable = try await passhOnCluster(["-l", TestCluster.loginUser, "h3", "kill -TERM $$"],
                                               environment: ["PASSH_TRANSPORT": "libssh"])
        #expect(variable.status != 0)
        #expect(variable.stderrText.contains("failed: killed by SIGTERM"))
    }

    @Test func libSSHRefusesWhatItCannotDo() async throws {
        let persist = try await passh(["--transport", "libssh", "--persist", "h1", "true"])
        #expect(persist.status == 64)
        #expect(persist.stderrText == """
            passh: --persist uses OpenSSH's connection sharing (ControlMaster): it cannot be used with --transport libssh. \
            (see passh --help)

            """)
        let option = try await passh(["--transport", "libssh", "-o", "ControlMaster=auto", "h1", "true"])
        #expect(option.status == 64)
        #expect(option.stderrText == """
            passh: -o ControlMaster=auto: ControlMaster is not an option the libssh transport understands (use --transport openssh)

            """)
    }
    #endif
}
