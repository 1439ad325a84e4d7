// libssh's API for the libssh transport (Sources/Passh/Transports/LibSSH), built only with the
// LibSSH package trait (`swift build --traits LibSSH`; Debian/Ubuntu: libssh-dev).
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
// OpenSSL's HMAC (libssh-dev depends on libssl-dev, and libssh links libcrypto): the hashed names of
// known_hosts (`|1|SALT|HMAC-SHA1(SALT, name)`).
#include <openssl/evp.h>
#include <openssl/hmac.h>
