import PasshTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a script that interrupts passh reported.
struct Interrupted {
    var status: Int32
    var elapsedMilliseconds: Int
    var stdout: String
    var stderr: String
}

/// How soon after a signal passh must have exited: far below what a wait that should not be there
/// takes (the commands' 30 s sleeps, the 6 s connect timeout), with room for a loaded machine.
let promptExitMilliseconds = 5000

/// Starts passh on the cluster in the background, waits until its stdout has `lines` lines, sends
/// `signal`, and reports the exit status and how long passh took to exit after the signal.
///
/// `running`: also wait (at most 10 s) until that many `sleep` processes carry the marker.
/// `secondAfter`: once stdout has that many lines (the commands saying they took the first
/// signal's TERM), send `signal` again.
func interruptPassh(
    _ arguments: String, after lines: Int, signal: String, secondAfter: Int? = nil,
    running: (marker: String, count: Int)? = nil, config: String = TestCluster.config
) async throws -> Interrupted {
    let dir = temporaryPath("signal")
    // Each wait is for an event (lines in the output, processes), polled, at most 10 s.
    let script = """
        set -u
        mkdir -p \(dir); cd \(dir); : >out; : >err
        \(MasterConnectionsTrait.directory.map { "export XDG_RUNTIME_DIR=\($0)" } ?? "")
        \(passhPath) -F \(config) \(arguments) >out 2>err &
        pid=$!
        until_lines() { i=0; while [ "$(wc -l <out)" -lt $1 ] && [ $i -lt 400 ]; do sleep 0.025; i=$((i+1)); done; }
        until_lines \(lines)
        \(running.map { "j=0; while [ \"$(pgrep -c -f '^sleep \($0.marker)')\" -lt \($0.count) ] && [ $j -lt 1000 ]; do sleep 0.01; j=$((j+1)); done" } ?? "")
        start=$(date +%s%N)
        kill -\(signal) $pid
        \(secondAfter.map { "until_lines \($0); kill -\(signal) $pid" } ?? "")
        wait $pid
        status=$?
        end=$(date +%s%N)
        echo "$status $(( (end - start) / 1000000 ))" >result
        """
    defer { shell("rm -rf \(dir)") }
    try await bashScript(script)
    let result = (readText(dir + "/result") ?? "").split(separator: " ").compactMap {
        Int32($0.split(separator: "\n").first ?? "")
    }
    return Interrupted(
        status: result.first ?? -1, elapsedMilliseconds: Int(result.last ?? -1),
        stdout: readText(dir + "/out") ?? "", stderr: readText(dir + "/err") ?? "")
}

/// A command for `h1,h2` that prints `started`, then runs `sleep` ignoring SIGTERM; its shell
/// prints `termed` when SIGTERM reaches it and waits on: a command that outlives the TERM of a
/// first interrupt, and says when that TERM has come.
func termedCommand(_ sleep: String) -> String {
    #"trap "echo termed" TERM; echo started; (trap "" TERM; exec \#(sleep)) & wait; wait"#
}

func sortedLines(_ text: String) -> [String] {
    lines(Array(text.utf8)).sorted()
}

@Suite("passh on signals and a closed stdout", .needsTestCluster, .timed)
struct SignalTests {
    /// With no flags the hosts go to libssh: the signal stops their remote commands too, and
    /// nothing needs saying about them.
    @Test(
        .enabled(if: nativeByDefault, "a build without libssh: the hosts go to OpenSSH (the next test)"),
        arguments: [("INT", 130, "SIGINT"), ("TERM", 143, "SIGTERM"), ("HUP", 129, "SIGHUP")])
    func signalStopsEveryHostAndNamesTheUnfinishedHosts(signal: String, status: Int32, name: String) async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let run = try await interruptPassh(
            "h1,h2,h3 'echo started; printf partial; \(sleep)'", after: 3, signal: signal, running: (marker, 3))
        #expect(run.status == status)
        #expect(run.elapsedMilliseconds < promptExitMilliseconds)
        #expect(
            sortedLines(run.stdout) == [
                "[h1] partial", "[h1] started", "[h2] partial", "[h2] started", "[h3] partial", "[h3] started",
            ])
        #expect(run.stderr == "passh: interrupted by \(name); did not finish: h1 h2 h3\n")
        // Within the grace (0.5 s) and a second more, no remote command is left.
        #expect(try await processesLeft(matching: marker, named: "sleep", within: .seconds(5)).isEmpty)
    }

    /// Through a plain ssh, passh stops every ssh and says that the remote commands may run on.
    @Test func signalStopsEverySSHAndSaysRemoteCommandsMayRunOn() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        defer { killProcesses(matching: marker, named: "sleep") }
        let run = try await interruptPassh(
            "--transport openssh h1,h2,h3 'echo started; printf partial; \(sleep)'", after: 3, signal: "INT")
        #expect(run.status == 130)
        #expect(run.elapsedMilliseconds < promptExitMilliseconds)
        #expect(
            run.stderr
                == "passh: interrupted by SIGINT; did not finish: h1 h2 h3\npassh: ssh cannot stop a remote command: those of the stopped hosts may still run (--stop-remote or --persist stops them)\n"
        )
        #expect(try await processesLeft(matching: marker, named: "ssh").isEmpty)
    }

    @Test func secondInterruptKillsAtOnce() async throws {
        // Commands that outlive SIGTERM: the first ^C's teardown would wait out the grace (0.5 s)
        // before SIGKILL; the second ^C kills them all at once and exits. The commands send it
        // themselves as the first one's TERM reaches them (their parent is passh): a script that
        // watched the output for it was once slower than the grace on a loaded machine.
        let (sleep, marker) = uniqueSleep(seconds: 30)
        let command = #"trap "kill -INT $PPID" TERM; echo started; (trap "" TERM; exec \#(sleep)) & wait; wait"#
        let run = try await interruptPassh("--local h1,h2 '\(command)'", after: 2, signal: "INT")
        #expect(run.status == 130)
        #expect(run.elapsedMilliseconds < promptExitMilliseconds)
        #expect(run.stderr == "passh: killed every process at once\n")
        // passh exits once the KILL is sent; a loaded kernel ends the processes a moment later.
        #expect(try await processesLeft(matching: marker).isEmpty)
    }

    @Test func readerGoingAwayEndsTheRun() async throws {
        let (sleep, marker) = uniqueSleep(seconds: 30)
        defer { killProcesses(matching: marker) }  // ssh leaves them
        let script = """
            start=$(date +%s%N)
            \(passhPath) -F \(TestCluster.config) h1,h2 'seq 1 200000; \(sleep)' 2>/tmp/passh-epipe-err-$$ | head -1
            status=${PIPESTATUS[0]}
            end=$(date +%s%N)
            echo "$status $(( (end - start) / 1000000 ))"
            cat /tmp/passh-epipe-err-$$; rm -f /tmp/passh-epipe-err-$$
            """
        let dir = "/tmp/passh-epipe-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sh"
        try writeFile(dir, Array(script.utf8))
        defer { unlink(dir) }
        let output = try await bashScript("bash \(dir)").text.split(separator: "\n").map(String.init)
        #expect(output.count == 2, "the first line, then status and time; nothing on stderr")
        #expect(output.first == "[h1] 1" || output.first == "[h2] 1")
        let figures = output.last?.split(separator: " ").compactMap { Int($0) } ?? []
        #expect(figures.first == 141)
        #expect((figures.last ?? .max) < 10_000, "the run does not wait for the 30 s sleep")
        #expect(try await processesLeft(matching: marker, named: "ssh").isEmpty)
    }
}
