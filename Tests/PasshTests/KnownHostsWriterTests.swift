import Dispatch
import PasshTestSupport
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// The ssh-agent messages the agent filter speaks, in memory.
@Suite("The agent protocol's messages")
struct AgentProtocolTests {
    @Test func identitiesRoundTripAndMessagesArriveInPieces() {
        let keys = [
            AgentProtocol.Identity(blob: Array("key-one".utf8), comment: Array("first".utf8)),
            AgentProtocol.Identity(blob: [0, 1, 2, 255], comment: []),
        ]
        let answer = AgentProtocol.identitiesAnswer(keys)
        #expect(AgentProtocol.identities(answer) == keys)
        #expect(AgentProtocol.identities([5]) == nil)
        var buffer = AgentProtocol.frame(answer) + AgentProtocol.frame([AgentProtocol.requestIdentities])
        let whole = buffer
        buffer = Array(whole.prefix(6))
        #expect(AgentProtocol.takeMessage(&buffer) == nil)
        buffer = whole
        #expect(AgentProtocol.takeMessage(&buffer) == answer)
        #expect(AgentProtocol.takeMessage(&buffer) == [AgentProtocol.requestIdentities])
        #expect(buffer.isEmpty)
        // A length no agent message has empties the buffer: the request is answered with a failure.
        var huge: [UInt8] = [0x7F, 0xFF, 0xFF, 0xFF, 11]
        #expect(AgentProtocol.takeMessage(&huge) == [])
        #expect(huge.isEmpty)
        let sign = [AgentProtocol.signRequest] + AgentProtocol.encode(Array("key-one".utf8)) + AgentProtocol.encode([9])
        #expect(AgentProtocol.signedKey(sign) == Array("key-one".utf8))
        #expect(AgentProtocol.signedKey([AgentProtocol.signRequest, 0, 0]) == nil)
    }
}

#if LIBSSH
/// `StrictHostKeyChecking accept-new`'s writer: many hosts at once, several writers (as several
/// passh processes) on one file.
@Suite("known_hosts: keys added at once, whole and once")
struct KnownHostsWriterTests {
    static let key = "AAAAC3NzaC1lZDI1NTE5AAAAID4AtZGu4/Enfs7QK+E2dGuMnDHGrU8j2tr7PH9qFexw"

    @Test func aThousandHostsAtOnceAddAThousandLinesOnce() throws {
        let path = temporaryPath("known-hosts-concurrent")
        defer { unlink(path) }
        try writeFile(path, Array("# a comment\nold.example ssh-ed25519 \(Self.key)".utf8))  // no last newline
        // Two writers, as two processes: each open file is locked apart.
        let writers = [LibSSHKnownHostsWriter(), LibSSHKnownHostsWriter()]
        let names = (0..<1000).map { "[host\($0).example]:2222" } + ["old.example"]
        DispatchQueue.concurrentPerform(iterations: 16) { worker in
            // Every name is added by two workers of different writers.
            for (index, name) in names.enumerated() where index % 8 == worker % 8 {
                let problem = writers[worker % 2].add(
                    name: name, keyType: "ssh-ed25519", key: Self.key, to: path, hashed: false, home: "/nonexistent")
                #expect(problem == nil)
            }
        }
        let lines = (readText(path) ?? "").split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "")
        let entries = lines.dropFirst().dropLast()
        #expect(entries.count == 1001)
        #expect(Set(entries.map { String($0.prefix { $0 != " " }) }) == Set(names))
        #expect(entries.allSatisfy { $0.hasSuffix(" ssh-ed25519 \(Self.key)") && $0.split(separator: " ").count == 3 })
    }

    @Test func hashedNamesAreOpenSSHs() throws {
        let path = temporaryPath("known-hosts-hashed")
        defer { unlink(path) }
        let writer = LibSSHKnownHostsWriter()
        for _ in 0..<2 {
            #expect(
                writer.add(name: "web1", keyType: "ssh-ed25519", key: Self.key, to: path, hashed: true, home: "/h")
                    == nil)
        }
        let lines = (readText(path) ?? "").split(separator: "\n")
        #expect(lines.count == 1)
        // ssh-keygen -F finds the host in it.
        #expect(shell("ssh-keygen -F web1 -f \(path) >/dev/null").status == 0)
        #expect(shell("ssh-keygen -F web2 -f \(path) >/dev/null").status != 0)
        // A new writer (another run) reads the hashed line and adds nothing.
        #expect(
            LibSSHKnownHostsWriter().add(
                name: "web1", keyType: "ssh-ed25519", key: Self.key, to: path, hashed: true, home: "/h")
                == nil)
        #expect((readText(path) ?? "").split(separator: "\n").count == 1)
        #expect(LibSSHKnownHostsWriter.name(hostname: "web1", port: 22) == "web1")
        #expect(LibSSHKnownHostsWriter.name(hostname: "web1", port: 2222) == "[web1]:2222")
    }

    @Test func anotherUsersLinkIsNotFollowed() throws {
        let target = temporaryPath("known-hosts-target")
        let link = temporaryPath("known-hosts-link")
        defer { unlink(target); unlink(link) }
        try writeFile(target, [])
        #expect(symlink(target, link) == 0)
        #expect(lchown(link, 65534, 65534) == 0)
        let problem = LibSSHKnownHostsWriter().add(
            name: "web1", keyType: "ssh-ed25519", key: Self.key, to: link, hashed: false, home: "/h")
        #expect(problem == "\(link) is a symbolic link of another user")
        #expect(readText(target) == "")
    }
}
#endif
