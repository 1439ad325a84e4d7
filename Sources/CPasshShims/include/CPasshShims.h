// System interfaces Swift's Glibc module does not expose. Not API: used by Passh only.
#ifndef C_PASSH_SHIMS_H
#define C_PASSH_SHIMS_H

#ifdef __linux__
#include <sys/epoll.h>
/// From now on, the child of every fork() made by the calling thread starts with no signal blocked
/// (libssh's engine threads, which fork for a ProxyCommand, block most signals, and a child inherits
/// its parent thread's mask). Forks made by other threads are not touched. posix_spawn, which
/// swift-subprocess uses, is not affected (it sets the child's mask itself).
void passh_unblock_signals_in_forks_of_this_thread(void);

/// For tests: fork()s a child of the calling thread that reports whether `signal` is blocked in the
/// mask it starts with: 1 blocked, 0 not, -1 when the fork failed.
int passh_forked_child_blocks(int signal);

/// A non-blocking, close-on-exec eventfd (a counter that wakes a poll), or -1.
int passh_eventfd(void);

/// An anonymous memory file (memfd_create, close-on-exec) named `name` in /proc: a descriptor, or
/// -1 (errno set).
int passh_memfd(const char *name);

/// Names the calling thread (at most 15 bytes are kept), as `ps -L` and /proc show it: 0 or an errno.
int passh_name_this_thread(const char *name);

/// The calling thread's id in the kernel (its directory in /proc/self/task).
int passh_thread_id(void);

#endif

/// Whether the user holds Kerberos credentials OpenSSH's GSSAPI authentication could use (an
/// initiator credential, as gss_acquire_cred finds it): 1 yes, 0 no, -1 no GSS-API library here.
int passh_kerberos_credentials(void);

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start.
int passh_pipe_cloexec(int fds[2]);

/// Asks for pipe `fd` to hold `size` bytes (F_SETPIPE_SZ): the capacity granted, or -1 (errno set:
/// above /proc/sys/fs/pipe-max-size, or the user's pipe pages spent).
int passh_set_pipe_size(int fd, int size);

/// A connected, non-blocking, close-on-exec Unix-domain stream socket to `path`, or -1 (errno set;
/// EAGAIN: the listener's backlog is full — it does not accept).
int passh_unix_connect(const char *path);

/// Moves up to `length` bytes of file `from`, from `*offset` on (advanced by what moved), into
/// pipe `to` without blocking (splice, SPLICE_F_NONBLOCK): the count, 0 at end of file, or -1.
#include <sys/types.h>
ssize_t passh_splice_to_pipe(int from, long long *offset, int to, size_t length);

/// write(2) that turns a reader gone away into EPIPE without raising SIGPIPE (which would kill a
/// program embedding the library that does not ignore it).
ssize_t passh_write_nosigpipe(int fd, const void *bytes, size_t length);

/// Lets glibc's malloc make at most `count` arenas (mallopt M_ARENA_MAX): 1 when set, else 0.
int passh_limit_malloc_arenas(int count);


#endif
