#if LIBSSH
import PasshTestSupport
import Testing

@testable import Passh

#if canImport(Glibc)
import Glibc
#endif

/// The libssh engine's threads are gone — ended, their thread-local destructors run — once the
/// engine is released. A thread still ending while the program exits runs OpenSSL's destructors
/// after `exit` freed OpenSSL's locks: passh died of a segmentation fault after its last line
/// (seen once in ~120 runs of `passh @lab:small uname -s` on a loaded machine, its core showing an
/// engine thread's OpenSSL destructor beside `OPENSSL_cleanup`).
@Suite struct LibSSHEngineTests {
    @Test func releasingTheEngineWaitsForItsThreadsToEnd() async throws {
        var engine: LibSSHEngine? = LibSSHEngine(maximumHandshakes: 8)
        _ = engine!.assign()  // starts the threads
        var ids: [Int32] = []
        #expect(
            try await waitUntil {
                ids = engine!.kernelThreadIDs
                return ids.count == LibSSHEngine.threadCount
            })
        for id in ids { #expect(access("/proc/self/task/\(id)", F_OK) == 0) }
        engine = nil
        // No wait here: the release itself waited.
        for id in ids { #expect(access("/proc/self/task/\(id)", F_OK) != 0, "thread \(id) outlived the engine") }
    }
}
#endif
