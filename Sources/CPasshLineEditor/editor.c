#define _GNU_SOURCE
#include "CPasshLineEditor.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

struct passh_line_editor {
    EditLine *editline;
    History *history;
    FILE *input;
    FILE *output;
    /// The pipe whose bytes end a read: its read end, its write end.
    int wake[2];
    /// The byte that came on the pipe during the current read, or 0.
    int woken;
    char *prompt;
    /// The last line read, without its newline.
    char *line;
};

static struct passh_line_editor *editor_of(EditLine *editline) {
    struct passh_line_editor *editor = NULL;
    el_get(editline, EL_CLIENTDATA, &editor);
    return editor;
}

static char *prompt_of(EditLine *editline) { return editor_of(editline)->prompt; }

/// libedit's key reader (EL_GETCFN): one character (UTF-8 decoded in the locale), 0 for the end
/// (the terminal's, or a byte on `wake`), -1 for an error.
static int read_key(EditLine *editline, wchar_t *key) {
    struct passh_line_editor *editor = editor_of(editline);
    int terminal = fileno(editor->input);
    mbstate_t state;
    memset(&state, 0, sizeof state);
    for (;;) {
        struct pollfd watched[2] = {{.fd = terminal, .events = POLLIN}, {.fd = editor->wake[0], .events = POLLIN}};
        if (poll(watched, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (watched[1].revents) {
            char bytes[64];
            ssize_t count = read(editor->wake[0], bytes, sizeof bytes);
            if (count < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            // A closed pipe ends the read as an 'e' would.
            editor->woken = count > 0 ? (unsigned char)bytes[count - 1] : 'e';
            for (ssize_t i = 0; i < count; i++) {
                if (bytes[i] == 'e') editor->woken = 'e';
            }
            return 0;
        }
        if (!watched[0].revents) continue;
        char byte;
        ssize_t count = read(terminal, &byte, 1);
        if (count < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (count <= 0) return 0;
        wchar_t wide;
        size_t used = mbrtowc(&wide, &byte, 1, &state);
        if (used == (size_t)-2) continue;  // a character of several bytes, not whole yet
        if (used == (size_t)-1) {
            memset(&state, 0, sizeof state);
            wide = (unsigned char)byte;
        }
        *key = wide;
        return 1;
    }
}

passh_line_editor *passh_line_editor_open(const char *program, int terminal, int output, int history_size) {
    struct passh_line_editor *editor = calloc(1, sizeof *editor);
    if (!editor) return NULL;
    if (pipe2(editor->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(editor);
        return NULL;
    }
    int in = fcntl(terminal, F_DUPFD_CLOEXEC, 3);
    int out = fcntl(output, F_DUPFD_CLOEXEC, 3);
    editor->input = in >= 0 ? fdopen(in, "r") : NULL;
    editor->output = out >= 0 ? fdopen(out, "w") : NULL;
    if (!editor->input && in >= 0) close(in);
    if (!editor->output && out >= 0) close(out);
    editor->prompt = strdup("");
    editor->history = history_init();
    if (editor->input && editor->output && editor->prompt && editor->history) {
        editor->editline = el_init(program, editor->input, editor->output, editor->output);
    }
    if (!editor->editline) {
        passh_line_editor_close(editor);
        return NULL;
    }
    HistEvent event;
    history(editor->history, &event, H_SETSIZE, history_size);
    el_set(editor->editline, EL_CLIENTDATA, editor);
    el_set(editor->editline, EL_EDITOR, "emacs");
    el_set(editor->editline, EL_HIST, history, editor->history);
    el_set(editor->editline, EL_PROMPT, prompt_of);
    el_set(editor->editline, EL_GETCFN, read_key);
    // As bash has them: ^U deletes up to the cursor, ^W the word before it.
    el_set(editor->editline, EL_BIND, "^U", "vi-kill-line-prev", NULL);
    el_set(editor->editline, EL_BIND, "^W", "ed-delete-prev-word", NULL);
    el_source(editor->editline, NULL);
    return editor;
}

void passh_line_editor_wake(passh_line_editor *editor, char byte) {
    // A full pipe already holds a byte that ends the read.
    ssize_t written = write(editor->wake[1], &byte, 1);
    (void)written;
}

const char *passh_line_editor_read(passh_line_editor *editor, const char *prompt, int *woken) {
    char *copy = strdup(prompt);
    if (copy) {
        free(editor->prompt);
        editor->prompt = copy;
    }
    editor->woken = 0;
    el_resize(editor->editline);  // the window may have changed while a command ran
    int count = 0;
    const char *line = el_gets(editor->editline, &count);
    *woken = editor->woken;
    if (!line || editor->woken) return NULL;
    free(editor->line);
    editor->line = strdup(line);
    if (!editor->line) return "";
    size_t length = strlen(editor->line);
    if (length > 0 && editor->line[length - 1] == '\n') editor->line[length - 1] = '\0';
    return editor->line;
}

void passh_line_editor_remember(passh_line_editor *editor, const char *line) {
    HistEvent event;
    history(editor->history, &event, H_ENTER, line);
}

void passh_line_editor_close(passh_line_editor *editor) {
    if (editor->editline) el_end(editor->editline);
    if (editor->history) history_end(editor->history);
    if (editor->input) fclose(editor->input);
    if (editor->output) fclose(editor->output);
    close(editor->wake[0]);
    close(editor->wake[1]);
    free(editor->prompt);
    free(editor->line);
    free(editor);
}
