import Passh
import PasshTestSupport
import Testing

/// `passh --json` read back by the library's decoder: no ssh, no test cluster (`--local`).
@Suite("passh --json, decoded", .needsTestCluster)
struct JSONLinesCLITests {
    @Test func theDecoderRebuildsWhatTheHostsDid() async throws {
        let command = #"""
            case $PASSH_HOST in
            ok) printf 'a\r\nb\377\nlast' ;;
            exit) echo why >&2; exit 7 ;;
            killed) kill -TERM $$ ;;
            esac
            """#
        let out = try await passh(["--json", "--local", "ok,exit,killed", command])
        #expect(out.status == 2)
        let run = try JSONLinesDecoder.decode(out.stdout, collectOutput: true)
        #expect(run.tool == "passh")
        let results = Dictionary(uniqueKeysWithValues: run.results.map { ($0.host.name, $0) })
        #expect(results["ok"]?.outcome == .exited(0))
        #expect(results["ok"]?.stdout == Array("a\r\nb".utf8) + [0xFF, 0x0A] + Array("last".utf8))
        #expect(results["exit"]?.outcome == .exited(7))
        #expect(results["exit"]?.stderr == Array("why\n".utf8))
        #expect(results["exit"]?.errorMessage == "why")
        #expect(results["killed"]?.outcome == .signaled(Signal(number: 15)))
        #expect(run.events.filter { if case .started = $0 { true } else { false } }.count == 3)
        #expect(run.summary?.failedHosts.map(\.name) == ["exit", "killed"])
    }
}
