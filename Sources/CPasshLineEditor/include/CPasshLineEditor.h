// The shell's line editor: libedit (BSD editline) on the terminal, whose wait for a key also ends
// when a byte comes on a pipe of its own (passh_line_editor_wake). Not API: used by the passh tool only.
#ifndef C_PASSH_LINE_EDITOR_H
#define C_PASSH_LINE_EDITOR_H

typedef struct passh_line_editor passh_line_editor;

/// An editor (emacs keys, ~/.editrc read as libedit's programs read it, `program` naming its
/// `program:` lines) reading keys from the terminal `terminal` and drawing on `output` (both
/// duplicated), its history `history_size` lines long. Its waits for a key also watch a pipe of its
/// own (close-on-exec): a byte there ends the line being read. NULL when it cannot be made.
passh_line_editor *passh_line_editor_open(const char *program, int terminal, int output, int history_size);

/// Writes `byte` to the editor's pipe (without blocking; from any thread, or a signal handler): the
/// line being read, or the next one, ends with `*woken` == `byte` (an 'e' wins over others).
void passh_line_editor_wake(passh_line_editor *editor, char byte);

/// Shows `prompt` and reads one line, the terminal in libedit's mode until it returns (and as it
/// was after). Returns the line without its newline (valid until the next call), or NULL: then
/// `*woken` is the byte that came on the pipe and ended the line (its text dropped), or 0 when the
/// terminal ended or ^D was typed on an empty line. Blocks: never on a thread that must not.
const char *passh_line_editor_read(passh_line_editor *editor, const char *prompt, int *woken);

/// Adds `line` to the history that up and down arrows walk through.
void passh_line_editor_remember(passh_line_editor *editor, const char *line);

/// Gives the terminal its modes back and frees everything.
void passh_line_editor_close(passh_line_editor *editor);

#endif
