#define _GNU_SOURCE
#include <malloc.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "CPasshShims.h"

int passh_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int passh_set_pipe_size(int fd, int size) {
    return fcntl(fd, F_SETPIPE_SZ, size);
}

int passh_unix_connect(const char *path) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(address.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

ssize_t passh_splice_to_pipe(int from, long long *offset, int to, size_t length) {
    /* A pipe whose reader is gone raises SIGPIPE, which would kill a program that embeds the
       library and does not ignore it. Block it for this call, and take back the one this call
       raised. */
    sigset_t pipe_signal, previous, pending;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
    loff_t position = *offset;
    ssize_t moved = splice(from, &position, to, NULL, length, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    int saved = errno;
    if (moved > 0) *offset = position;
    if (moved < 0 && saved == EPIPE && !was_pending) {
        struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_signal, NULL, &now) < 0 && errno == EINTR) {}
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    errno = saved;
    return moved;
}


/* In the child of a fork() made by a thread that asked for it (libssh's engine threads, which fork
   for a ProxyCommand): the forking thread's signal mask is inherited, and those threads block almost
   every signal, so the command could not be stopped by the SIGTERM its parent sends. Clear the
   mask; exec resets the handlers. The flag is per thread: the fork of any other thread of the
   program (which the library does not own) is left as it is. */
static __thread int passh_unblock_in_forked_child;

static void passh_child_unblock_signals(void) {
    if (!passh_unblock_in_forked_child) return;
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
}

static void passh_register_fork_handler(void) {
    pthread_atfork(NULL, NULL, passh_child_unblock_signals);
}

void passh_unblock_signals_in_forks_of_this_thread(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, passh_register_fork_handler);
    passh_unblock_in_forked_child = 1;
}

int passh_forked_child_blocks(int signal) {
    pid_t child = fork();
    if (child < 0) return -1;
    if (child == 0) {
        sigset_t mask;
        sigemptyset(&mask);
        pthread_sigmask(SIG_BLOCK, NULL, &mask);
        _exit(sigismember(&mask, signal) == 1 ? 1 : 0);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int passh_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

ssize_t passh_write_nosigpipe(int fd, const void *bytes, size_t length) {
    /* As passh_splice_to_pipe: a reader gone away is EPIPE here, never a SIGPIPE for the program. */
    sigset_t pipe_signal, previous, pending;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
    ssize_t written = write(fd, bytes, length);
    int saved = errno;
    if (written < 0 && saved == EPIPE && !was_pending) {
        struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_signal, NULL, &now) < 0 && errno == EINTR) {}
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    errno = saved;
    return written;
}

int passh_name_this_thread(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}

int passh_thread_id(void) {
    return (int)syscall(SYS_gettid);
}

#ifdef __linux__
int passh_memfd(const char *name) {
    return memfd_create(name, MFD_CLOEXEC);
}
#endif

int passh_limit_malloc_arenas(int count) {
    return mallopt(M_ARENA_MAX, count);
}
