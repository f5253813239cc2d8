/*  nws_runtime - the runtime directory shared by the hub and its clients.

    The hub binds, and gateways, discovery and taps connect to:
        ipc://<dir>/hub-in    XSUB: publishers connect here
        ipc://<dir>/hub-out   XPUB: subscribers connect here
    <dir> defaults to $NWS_RUNTIME_DIR, else /run/nws for root, else
    $XDG_RUNTIME_DIR/nws, else /tmp/nws-<uid>.
*/
#ifndef NWS_RUNTIME_H
#define NWS_RUNTIME_H

#include <stddef.h>

#define NWS_ENDPOINT_MAX 128        /* ipc paths are limited to 107 bytes */

/*  Writes the default runtime directory into buf. Returns 0 or -ENOSPC.  */
int nws_runtime_default_dir (char *buf, size_t cap);

/*  Writes "ipc://<dir>/<name>" into buf. Returns 0, or -ENAMETOOLONG when
    the socket path would not fit a Unix socket address.  */
int nws_runtime_endpoint (const char *dir, const char *name, char *buf, size_t cap);

/*  Creates dir (mode 0700) and missing parents. Returns 0, -ENOTDIR if
    something else is in the way, -EPERM if the directory belongs to
    another user or others may write to it, or another -errno.  */
int nws_runtime_prepare (const char *dir);

#endif
