import Passh
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Asks for a password on the controlling terminal (`/dev/tty`, whatever stdin and stderr are),
/// with echo off. ^C, SIGTERM or a hang-up while it waits cancel the task (``RunControl``): the
/// wait ends and the terminal is put back; ^\ (SIGQUIT, which passh does not trap) puts it back
/// before passh ends.
enum PasswordPrompt {
    /// The password typed (without its line end); `nil` when there is no terminal to ask on, or
    /// when the calling task is cancelled while it waits.
    static func read(prompt: String) async -> [UInt8]? {
        guard
            let tty = try? FileDescriptor.open(
                "/dev/tty", .readWrite, options: [.closeOnExec], retryOnInterrupt: true)
        else { return nil }
        defer { try? tty.close() }
        var saved = termios()
        let isTerminal = tcgetattr(tty.rawValue, &saved) == 0
        if isTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO | ECHONL)
            restoredTerminal = (tty.rawValue, saved)
            for signal in Self.signals { Glibc.signal(signal, restoreAndDie) }
            _ = tcsetattr(tty.rawValue, TCSAFLUSH, &quiet)
        }
        defer {
            if isTerminal {
                _ = tcsetattr(tty.rawValue, TCSAFLUSH, &saved)
                for signal in Self.signals { Glibc.signal(signal, SIG_DFL) }
                restoredTerminal = nil
            }
        }
        _ = try? tty.writeAll(Array(prompt.utf8))
        var line: [UInt8] = []
        var byte: UInt8 = 0
        // A byte at a time: nothing after the line end is taken from the terminal.
        let poller = Poller()
        while line.count < 4096 {
            guard await waitReadable(tty.rawValue, on: poller) else {
                _ = try? tty.writeAll(Array("\n".utf8))
                return nil
            }
            guard
                let count = try? withUnsafeMutableBytes(of: &byte, { try tty.read(into: $0, retryOnInterrupt: true) }),
                count == 1, byte != 0x0A
            else { break }
            line.append(byte)
        }
        _ = try? tty.writeAll(Array("\n".utf8))
        if line.last == 0x0D { line.removeLast() }
        return line
    }

    /// The signals passh does not trap: the terminal is put back before they end it.
    private static let signals = [SIGQUIT]
}

/// The terminal to put back if a signal ends passh while it asks (set only while it asks).
nonisolated(unsafe) private var restoredTerminal: (fd: Int32, settings: termios)?

/// A signal handler: the terminal's settings back (tcsetattr is async-signal-safe), then the
/// signal's default action.
private func restoreAndDie(_ signal: Int32) {
    if var terminal = restoredTerminal {
        _ = tcsetattr(terminal.fd, TCSAFLUSH, &terminal.settings)
        _ = write(terminal.fd, "\n", 1)
    }
    Glibc.signal(signal, SIG_DFL)
    raise(signal)
}
