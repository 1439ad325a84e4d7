#if canImport(Glibc)
import Glibc
#endif

/// One step of a session driven on a pseudo-terminal (``drive(_:environment:steps:)``).
public enum PtyStep: Sendable {
    /// Wait (at most 30 s) until the terminal shows `text` after what earlier steps waited for.
    case expect(String)
    /// Type `text` (`"\u{03}"` is ^C, `"\u{04}"` ^D): at once for a ^C alone, else once the editor
    /// has the terminal (non-canonical; 10 s at most) — typed ahead in canonical mode, the kernel
    /// would take the editing keys (^U, ^W, ^D) itself.
    case type(String)
    /// Wait (at most 30 s) until `count` processes run `sleep` with `marker` in their arguments
    /// (``uniqueSleep(seconds:)``). Only the `sleep` itself counts: the shell that will run it holds
    /// the marker in its own command line before it has run what comes first (an `echo`, a `trap`).
    case sleepRunning(String, count: Int = 1)
    /// Send the program a signal.
    case signal(Int32)

    fileprivate var line: String {
        switch self {
        case .expect(let text): "expect " + hex(text)
        case .type(let text): "type " + hex(text)
        case .sleepRunning(let marker, let count): "sleep \(count) " + hex(marker)
        case .signal(let number): "signal \(number)"
        }
    }
}

private func hex(_ text: String) -> String {
    text.utf8.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// What a driven session showed, and how the program ended.
public struct PtySession: Sendable {
    /// Everything written to the terminal (`\r\n` line ends).
    public let transcript: String
    /// The exit status, or 128 + the signal that ended it; -1 when a step timed out (then the
    /// transcript ends with `TIMEOUT step`).
    public let status: Int32
    /// Whether the terminal was left in its cooked mode (canonical, echoing) when the program ended.
    public let leftTerminalCooked: Bool
}

/// Runs `arguments` (the built `passh` on the test cluster: `-F CONFIG` comes first) on a new
/// pseudo-terminal as its controlling terminal, in the foreground, and carries out `steps` one
/// after another; after the last, waits (at most 30 s) for the program to end. The driver is a
/// Python `pty.fork()` run without blocking the tests' pool.
public func drive(
    _ arguments: [String], environment: [String: String] = [:], steps: [PtyStep]
) async throws -> PtySession {
    let base = temporaryPath("pty")
    let program = """
        import os, pty, signal, sys, time, binascii
        steps = [l.split(" ", 1) for l in open(sys.argv[1]).read().splitlines()]
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(sys.argv[2], sys.argv[2:])
        data, seen = b"", 0
        def pump(timeout):
            global data
            import select
            r, _, _ = select.select([fd], [], [], timeout)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                data += chunk
            return True
        def select_ready():
            import select
            return bool(select.select([fd], [], [], 0.01)[0])
        def sleeps(marker):
            found = 0
            for p in os.listdir("/proc"):
                if p.isdigit():
                    try:
                        words = open("/proc/%s/cmdline" % p, "rb").read().split(b"\\0")
                    except OSError:
                        continue
                    if os.path.basename(words[0]) == b"sleep" and marker in b" ".join(words[1:]):
                        found += 1
            return found
        def fail(what):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sys.stdout.buffer.write(data + b"\\nTIMEOUT " + what.encode() + b"\\nstatus -1\\n")
            sys.exit(0)
        for kind, arg in steps:
            deadline = time.time() + 30
            if kind == "expect":
                want = binascii.unhexlify(arg)
                while data.find(want, seen) < 0:
                    if time.time() > deadline or not pump(0.05):
                        if data.find(want, seen) < 0:
                            fail("expect " + want.decode())
                seen = data.find(want, seen) + len(want)
            elif kind == "type":
                text = binascii.unhexlify(arg)
                if text != b"\\x03":
                    # Typed as a person types at a prompt: once the editor has the terminal (10 s at
                    # most: a shell without libedit stays canonical). Typed ahead while the terminal
                    # is canonical, the kernel takes the editing keys itself (^U erased the line, a
                    # ^D became a NUL byte once libedit took the terminal). A ^C alone is typed at
                    # once: it stops a running command, whatever the terminal's mode.
                    import termios
                    end = time.time() + 10
                    while termios.tcgetattr(fd)[3] & termios.ICANON and time.time() < end:
                        pump(0.01)
                os.write(fd, text)
            elif kind == "sleep":
                count, marker = arg.split(" ", 1)
                while sleeps(binascii.unhexlify(marker)) < int(count):
                    pump(0.02)
                    if time.time() > deadline:
                        fail("sleep " + arg)
            elif kind == "signal":
                os.kill(pid, int(arg))
        deadline = time.time() + 30
        while True:
            open_ = pump(0.05)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.time() > deadline:
                fail("exit")
            if not open_:
                time.sleep(0.02)
        end = time.time() + 1
        while time.time() < end and pump(0.01) and data[-1:] != b"":
            if not select_ready():
                break
        code = os.waitstatus_to_exitcode(status)
        import termios
        modes = termios.tcgetattr(fd)[3]
        cooked = 1 if modes & termios.ICANON and modes & termios.ECHO else 0
        sys.stdout.buffer.write(data + b"\\ncooked %d\\nstatus %d\\n" % (cooked, code if code >= 0 else 128 - code))
        """
    try writeFile(base + ".py", Array(program.utf8))
    try writeFile(base + ".steps", Array(steps.map(\.line).joined(separator: "\n").utf8))
    defer { shell("rm -f \(base).py \(base).steps") }
    let words = [base + ".steps", passhPath, "-F", TestCluster.config] + arguments
    // libedit reads no ~/.editrc of whoever runs the tests (vi keys there would change the keys).
    let env = (["EDITRC": "/dev/null"].merging(environment) { $1 }).map { "\($0.key)='\($0.value)'" }.joined(
        separator: " ")
    let output = try await bashScript(
        "env \(env) /usr/bin/python3 \(base).py " + words.map { "'" + $0 + "'" }.joined(separator: " ")
    ).text
    var lines = output.split(separator: "\n", omittingEmptySubsequences: false)
    while lines.last == "" { lines.removeLast() }
    let last = lines.popLast() ?? ""
    let status = Int32(last.dropFirst("status ".count)) ?? -1
    let cooked = status != -1 && lines.popLast() == "cooked 1"
    return PtySession(transcript: lines.joined(separator: "\n"), status: status, leftTerminalCooked: cooked)
}
