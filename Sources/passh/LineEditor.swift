import CPasshLineEditor
import Passh

#if canImport(Glibc)
import Glibc
#endif

/// The shell's line editing on a terminal: libedit (emacs keys, ↑ and ↓ through the history,
/// `~/.editrc`), its history filled from the history file.
///
/// libedit's `el_gets` blocks until a line is typed, so each ``read(prompt:)`` runs it on a thread
/// of its own, never on one of Swift's pool, and waits for it without blocking. Its key reader
/// waits on the terminal and on a pipe of its own: a byte written there ends the line being read,
/// whatever libedit is doing. ^C while editing (``interrupt()``, from the shell's signal handling)
/// writes `i` (the line is dropped, a new prompt follows); cancelling the waiting task writes `e`
/// (the read ends, and the shell with it). So the wait ends on ^C, SIGTERM, SIGHUP or cancellation
/// by construction, and libedit gives the terminal its modes back before the shell goes on.
///
/// `@unchecked Sendable`: the editor's C state is used by one thread at a time — the reading
/// thread during a read, which its caller awaits before it reads again or closes; writing a byte
/// to the pipe is safe from any thread.
final class LineEditor: @unchecked Sendable {
    enum Input: Equatable {
        /// A line, without its end.
        case line(String)
        /// ^C: the line typed so far is dropped.
        case interrupted
        /// ^D on an empty line, the terminal's end, or the task cancelled.
        case end
    }

    private let editor: OpaquePointer

    /// An editor on stdin (a terminal) drawing on stderr, or `nil` when libedit cannot make one.
    init?(history lines: [String]) {
        // Characters of several bytes (UTF-8) are read and shown as the user's locale says.
        setlocale(LC_CTYPE, "")
        guard let editor = passh_line_editor_open("passh", 0, 2, 1000) else { return nil }
        self.editor = editor
        for line in lines { remember(line) }
    }

    /// Shows `prompt` and waits for a line, without blocking a thread of Swift's pool.
    func read(prompt: String) async -> Input {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Input, Never>) in
                // A thread of its own, taking no signals (the shell's come through its dispatch sources).
                startLibraryThread(named: "passh-editor") {
                    continuation.resume(returning: self.readBlocking(prompt: prompt))
                }
            }
        } onCancel: {
            wake("e")
        }
    }

    /// Drops the line being typed: ``read(prompt:)`` returns ``Input/interrupted``. Typed
    /// between two reads, the next read returns at once (as ^C at a prompt gives a new one).
    func interrupt() { wake("i") }

    /// Adds `line` to the history ↑ walks through.
    func remember(_ line: String) { passh_line_editor_remember(editor, line) }

    /// Gives the terminal its modes back. Never while a read runs.
    func close() { passh_line_editor_close(editor) }

    private func readBlocking(prompt: String) -> Input {
        var woken: Int32 = 0
        guard let line = passh_line_editor_read(editor, prompt, &woken) else {
            return woken == Int32(UInt8(ascii: "i")) ? .interrupted : .end
        }
        return .line(String(cString: line))
    }

    private func wake(_ byte: Unicode.Scalar) { passh_line_editor_wake(editor, CChar(UInt8(ascii: byte))) }
}
