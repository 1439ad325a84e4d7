import Passh
import Testing

@testable import passh

/// The exit-status policy and the report, as pure functions of a run's results.
@Suite("Exit status and report")
struct ExitStatusTests {
    static let hosts = (try? ParallelSSH.hosts(["a", "b", "c"])) ?? []

    func results(_ outcomes: [HostOutcome], started: [Bool]? = nil) -> [HostResult] {
        zip(Self.hosts, outcomes).enumerated().map { index, pair in
            HostResult(host: pair.0, outcome: pair.1, started: started?[index] ?? true)
        }
    }

    @Test func everyOutcome() {
        let ok = results([.exited(0), .exited(0), .exited(0)])
        #expect(ExitStatus(results: ok).code == 0)
        let failed = results([.exited(0), .exited(3), .timedOut])
        #expect(ExitStatus(results: failed).code == 2)
        #expect(ExitStatus(results: failed).failedHosts.map(\.name) == ["b", "c"])
        #expect(ExitStatus(results: failed, maxRC: true).code == 255)
        #expect(ExitStatus(results: results([.exited(0), .exited(3), .cancelled]), maxRC: true).code == 3)
        #expect(
            ExitStatus(
                results: results([.exited(0), .failed(HostFailure(.connectionRefused, "x")), .exited(0)]), maxRC: true
            ).code == 255)
    }

    @Test func notStartedHostsAreNeitherFailedNorCounted() {
        let canary = results([.exited(1), .notStarted, .notStarted], started: [true, false, false])
        #expect(ExitStatus(results: canary).code == 2)
        #expect(ExitStatus(results: canary).failedHosts.map(\.name) == ["a"])
        #expect(
            ExitStatus(
                results: results([.exited(0), .notStarted, .notStarted], started: [true, false, false]), maxRC: true
            ).code == 0)
        var rollout = Rollout()
        rollout.canaries = 1
        let report = Report(results: canary, failedHosts: [Self.hosts[0]], rollout: rollout)
        #expect(
            report.lines == ["[a] passh: failed: exit 1", "passh: not started: b,c (canary a failed)", "failed at: a"])
    }

    @Test func aStoppedCopyWarnsOfPartialFiles() {
        let stopped = results([.exited(0), .timedOut, .failed(HostFailure(.connectionRefused, "refused"))])
        var report = Report(
            results: stopped, failedHosts: Array(Self.hosts.dropFirst()), wroteToStderr: [Self.hosts[2]])
        report.pushDestination = "/srv/app"
        #expect(
            report.lines == [
                "[b] passh: timed out", "passh: the copy was stopped on b: /srv/app there may hold partial files",
                "failed at: b c",
                "passh: ssh cannot stop a remote command: those of the stopped hosts may still run (--stop-remote or --persist stops them)",
            ])
    }

    @Test func stopsAndWriteErrors() {
        let ok = results([.exited(0), .exited(0), .exited(0)])
        #expect(ExitStatus(results: ok, stoppedBy: .signal(2)).code == 130)
        #expect(ExitStatus(results: ok, stoppedBy: .stdoutFailed, writeError: .brokenPipe).code == 141)
        #expect(ExitStatus(results: ok, stoppedBy: .stdoutFailed, writeError: .noSpace).code == 1)
        #expect(ExitStatus(results: ok, writeError: .noSpace).code == 1)
        #expect(ExitStatus(results: ok, fileError: true).code == 1)
        #expect(ExitStatus(results: results([.exited(1), .exited(0), .exited(0)]), fileError: true).code == 2)
    }

    @Test func lostOutputFailsTheHost() {
        let ok = results([.exited(0), .exited(0), .exited(0)])
        var status = ExitStatus(results: ok, outputFailed: [Self.hosts[1]])
        #expect(status.code == 2)
        #expect(status.failedHosts.map(\.name) == ["b"])
        status.maxRC = true
        #expect(status.code == 255)
    }

    @Test func reportExplainsSilentFailuresOnce() {
        let all = results(
            [.exited(3), .timedOut, .cancelled], started: [true, true, false])
        var report = Report(results: all, stoppedBy: nil, failedHosts: Self.hosts, commandTimeout: .milliseconds(1500))
        #expect(
            report.lines == [
                "[a] passh: failed: exit 3", "[b] passh: timed out after 1.5 s", "passh: not started: c",
                "failed at: a b c",
                Report.remoteCommandsMayRunOn,
            ])
        report.wroteToStderr = [Self.hosts[0], Self.hosts[1]]
        #expect(
            report.lines == [
                "[b] passh: timed out after 1.5 s", "passh: not started: c", "failed at: a b c",
                Report.remoteCommandsMayRunOn,
            ])
        report.explainHosts = false
        #expect(report.lines == ["failed at: a b c", Report.remoteCommandsMayRunOn])
        report.openSSH = false
        #expect(report.lines == ["failed at: a b c"])
        let interrupted = Report(
            results: all, stoppedBy: .signal(15), failedHosts: Self.hosts, wroteToStderr: [Self.hosts[0]])
        #expect(
            interrupted.lines == [
                "[b] passh: timed out", "failed at: a b", "passh: interrupted by SIGTERM; did not finish: c",
                Report.remoteCommandsMayRunOn,
            ])
    }

    @Test func hostKeyAdviceIsOneLinePerKind() {
        let unknown = HostOutcome.failed(HostFailure(.hostKeyUnknown, "Host key verification failed."))
        let all = results([unknown, unknown, .failed(HostFailure(.hostKeyChanged, "Host key verification failed."))])
        let report = Report(results: all, stoppedBy: nil, failedHosts: Self.hosts, wroteToStderr: Set(Self.hosts))
        #expect(
            report.lines == [
                "passh: the host keys of a,b are not known: check their fingerprints, then add them to known_hosts "
                    + "(ssh-keyscan HOST >> ~/.ssh/known_hosts), or skip the check with --insecure",
                "passh: the host key of c has changed: if that was expected, remove the old key (ssh-keygen -R c) and "
                    + "connect again; if not, someone may be posing as the host",
                "failed at: a b c",
            ])
    }
}
