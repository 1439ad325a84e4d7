import Passh
import SystemPackage
import Testing

@Suite("OpenSSHOptions: the ssh argument list")
struct OpenSSHOptionsTests {
    let base = ["-T", "-o", "LogLevel=INFO", "-o", "ConnectTimeout=6", "-o", "BatchMode=yes"]

    @Test func defaultsKeepHostKeyChecking() throws {
        let args = OpenSSHOptions().arguments(for: try Host("web1"), command: ["ls", "-la", "/"])
        #expect(args == base + ["--", "web1", "ls", "-la", "/"])
        #expect(!args.contains { $0.contains("StrictHostKeyChecking") })
    }

    @Test func insecureTurnsCheckingOff() throws {
        var options = OpenSSHOptions()
        options.insecure = true
        #expect(
            options.arguments(for: try Host("web1"), command: ["true"])
                == base + [
                    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "--", "web1", "true",
                ])
    }

    @Test func userOptionsComeFirstSoTheyWin() throws {
        var options = OpenSSHOptions()
        options.configFile = FilePath("/tmp/cfg")
        options.options = ["ConnectTimeout=30", "Port=2200"]
        options.connectTimeout = 9
        #expect(
            options.arguments(for: try Host("web1"), command: ["uptime"])
                == [
                    "-F", "/tmp/cfg", "-o", "ConnectTimeout=30", "-o", "Port=2200", "-T", "-o", "LogLevel=INFO",
                    "-o", "ConnectTimeout=9", "-o", "BatchMode=yes", "--", "web1", "uptime",
                ])
    }

    @Test func userAndPortBecomeFlags() throws {
        var options = OpenSSHOptions()
        options.defaultUser = "deploy"
        #expect(
            options.arguments(for: try Host("admin@[2001:db8::1]:2222"), command: ["id"])
                == base + ["-l", "admin", "-p", "2222", "--", "2001:db8::1", "id"])
        #expect(
            options.arguments(for: try Host("web1"), command: ["id"]) == base + ["-l", "deploy", "--", "web1", "id"])
    }
}
