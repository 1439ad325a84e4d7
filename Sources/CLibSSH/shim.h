// libssh's API for the libssh transport (Sources/Passh/Transports/LibSSH), built only with the
// LibSSH package trait (`swift build --traits LibSSH`; Debian/Ubuntu: libssh-dev).
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
// OpenSSL (libssh's own crypto library), for hashed known_hosts names: HMAC-SHA1 and a salt.
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
