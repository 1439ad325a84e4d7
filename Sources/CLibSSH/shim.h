// libssh's API for the libssh transport (Sources/Passh/Transports/LibSSH), built only with the
// LibSSH package trait (`swift build --traits LibSSH`; Debian/Ubuntu: libssh-dev).
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
