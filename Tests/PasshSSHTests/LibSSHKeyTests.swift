#if LIBSSH
@testable import Passh
import PasshTestSupport
import Testing

@Suite("The libssh transport reads each key file once", .needsTestCluster)
struct LibSSHKeyTests {
    @Test func keyFilesAreReadOncePerTransportNotPerHost() async throws {
        let transport = try LibSSHTransport(options: TransportKind.libSSHOptions)
        let passh = ParallelSSH(transport: transport)
        let hosts = (1...40).map { "h\($0)" }
        let first = try await passh.run(["true"], on: hosts)
        let firstOK = first.allSatisfy { $0.isSuccess }
        #expect(firstOK)
        let read = transport.keys.filesRead.load(ordering: .relaxed)
        // The configuration's key, and at most the three default files that exist here.
        #expect((1...4).contains(read))
        let second = try await passh.run(["true"], on: hosts)
        let secondOK = second.allSatisfy { $0.isSuccess }
        #expect(secondOK)
        #expect(transport.keys.filesRead.load(ordering: .relaxed) == read)
    }
}
#endif
