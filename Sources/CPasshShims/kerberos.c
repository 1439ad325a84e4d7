#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stddef.h>
#include "CPasshShims.h"

// The few GSS-API declarations needed (RFC 2744), so that no Kerberos headers are needed to build.
typedef uint32_t passh_om_uint32;
typedef void *passh_gss_cred_id;
typedef passh_om_uint32 (*passh_gss_acquire_cred_fn)(passh_om_uint32 *minor, void *desired_name,
    passh_om_uint32 time_req, void *desired_mechs, int cred_usage, passh_gss_cred_id *output_cred,
    void **actual_mechs, passh_om_uint32 *time_rec);
typedef passh_om_uint32 (*passh_gss_release_cred_fn)(passh_om_uint32 *minor, passh_gss_cred_id *cred);

int passh_kerberos_credentials(void) {
    // Already loaded with libssh (which links it), else loaded now; never unloaded.
    void *library = dlopen("libgssapi_krb5.so.2", RTLD_LAZY | RTLD_LOCAL);
    if (library == NULL) return -1;
    passh_gss_acquire_cred_fn acquire = (passh_gss_acquire_cred_fn)dlsym(library, "gss_acquire_cred");
    passh_gss_release_cred_fn release = (passh_gss_release_cred_fn)dlsym(library, "gss_release_cred");
    if (acquire == NULL || release == NULL) return -1;
    passh_om_uint32 minor = 0;
    passh_gss_cred_id credential = NULL;
    // GSS_C_NO_NAME, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, GSS_C_INITIATE (1).
    passh_om_uint32 major = acquire(&minor, NULL, 0xffffffffu, NULL, 1, &credential, NULL, NULL);
    if (credential != NULL) release(&minor, &credential);
    return major == 0 ? 1 : 0;
}
