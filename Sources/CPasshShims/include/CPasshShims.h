// System interfaces Swift's Glibc module does not expose. Not API: used by Passh only.
#ifndef C_PASSH_SHIMS_H
#define C_PASSH_SHIMS_H

#ifdef __linux__
#include <sys/epoll.h>
#endif

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start.
int passh_pipe_cloexec(int fds[2]);

#endif
