/*  nws_runtime - the runtime directory shared by the hub and its clients.

    The hub binds, and gateways, discovery and taps connect to:
        ipc://<dir>/hub-in    XSUB: publishers connect here
        ipc://<dir>/hub-out   XPUB: subscribers connect here
    <dir> defaults to $NWS_RUNTIME_DIR, else /run/nws for root, else
    $XDG_RUNTIME_DIR/nws, else /tmp/nws-<uid>.

    <dir>/proxy-id names this host's proxy to peer proxies: every gateway
    and nws-discovery using <dir> reads the same id, so a peer can tell
    two links to one proxy (over two addresses, say) from two proxies.
*/
#ifndef NWS_RUNTIME_H
#define NWS_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#define NWS_ENDPOINT_MAX 128        /* ipc paths are limited to 107 bytes */
#define NWS_PROXY_ID_LEN 16         /* hex digits of a proxy id */

/*  Writes the default runtime directory into buf. Returns 0 or -ENOSPC.  */
int nws_runtime_default_dir (char *buf, size_t cap);

/*  Writes "ipc://<dir>/<name>" into buf. Returns 0, or -ENAMETOOLONG when
    the socket path would not fit a Unix socket address.  */
int nws_runtime_endpoint (const char *dir, const char *name, char *buf, size_t cap);

/*  Creates dir (mode 0700) and missing parents. Returns 0, -ENOTDIR if
    something else is in the way, -EPERM if the directory belongs to
    another user or others may write to it, or another -errno.  */
int nws_runtime_prepare (const char *dir);

/*  Reads the proxy id (NWS_PROXY_ID_LEN lowercase hex digits) from
    <dir>/proxy-id into buf (cap > NWS_PROXY_ID_LEN), first creating dir
    and the file with a random id when either is missing or the file is
    not a valid id. Safe when several processes race to create it: all
    end up with the same id. Returns 0 or a negative errno.  */
int nws_runtime_proxy_id (const char *dir, char *buf, size_t cap);

/*  1 if text is a valid proxy id (exactly NWS_PROXY_ID_LEN lowercase hex
    digits, NUL-terminated), else 0.  */
int nws_runtime_proxy_id_valid (const char *text);

/*  A random number that is never 0: an origin's instance id, a stream's
    epoch. From getrandom(), else from the pid and the clock.  */
uint32_t nws_runtime_random_id (void);

#endif
