/*  nws_listener - the gateway's listening socket, opened by us.

    lws as packaged in Debian cannot share a port between processes (its
    LWS_MAX_SMP is 1, so it never sets SO_REUSEPORT). We open the socket
    ourselves with SO_REUSEPORT, adopt it into lws as a raw file, accept
    in its RX callback and hand each connection to lws as if lws had
    accepted it. Several gateway processes on one port then split the
    connections between them (the kernel balances by address hash).

    Each accepted connection's request head is read and judged here first
    (nws_head): a malformed or unacceptable one is answered with its status
    and closed, one not complete within the handshake time is closed, and
    only an acceptable one goes to lws, with the bytes read so far. Before
    that, a route function may hold it back (the gateway does while the
    hub confirms a new channel) until it is released; nothing blocks.
*/
#ifndef NWS_LISTENER_H
#define NWS_LISTENER_H

#include <libwebsockets.h>
#include <stdint.h>

typedef struct nws_listener_t nws_listener_t;

typedef struct {
    uint64_t refused;               /* request heads answered with an error */
    uint64_t timeouts;              /* closed without a complete head in time */
    uint32_t waiting;               /* connections still sending their head */
    uint32_t watches;               /* lws handles watching them (not connections) */
    uint32_t held;                  /* complete heads held by the route function */
} nws_listener_stats_t;

/*  Binds address (IPv4 or IPv6 literal; "::" is dual-stack) and port (0
    picks one) and listens. A request head may take head_max bytes and
    head_secs seconds. Returns NULL after logging why.  */
nws_listener_t *nws_listener_new (const char *address, uint16_t port,
                                  size_t head_max, int head_secs);

/*  The port bound (useful after asking for 0).  */
uint16_t nws_listener_port (nws_listener_t *self);

/*  Adopts the socket into vhost under the protocol named protocol, whose
    LWS_CALLBACK_RAW_RX_FILE must call nws_listener_accept(). Connections
    still sending their head are watched under head_protocol, whose
    callback must pass RAW_RX_FILE and RAW_CLOSE_FILE to
    nws_listener_head_event(). lws owns the descriptor from here on.
    Returns 0 or -1.  */
int nws_listener_attach (nws_listener_t *self, struct lws_vhost *vhost, const char *protocol,
                         const char *head_protocol);

/*  Accepts every waiting connection, unless admit() refuses it (then it
    is closed at once), and reads its request head (see above). Call on
    the listening socket's RAW_RX_FILE.  */
void nws_listener_accept (nws_listener_t *self, int (*admit) (void *arg), void *arg);

/*  Handles an event of a connection still sending its head. Returns what
    the lws callback should return.  */
int nws_listener_head_event (nws_listener_t *self, struct lws *wsi, int reason);

/*  Called with each complete, acceptable head's connection, path (not
    NUL-terminated, no query) and whether it is a GET. Returns NULL to
    hand the connection to lws now, else a tag: the connection waits
    until nws_listener_release() with that tag.  */
typedef void *(nws_listener_route_fn) (void *arg, int fd, const char *path, size_t len,
                                       int is_get);

void nws_listener_set_route (nws_listener_t *self, nws_listener_route_fn *route, void *arg);

/*  Connections whose first byte opens a TLS handshake (0x16) go to
    tls_vhost at once, unread, for lws to do TLS and HTTP itself; the rest
    as above. Without this call there is no TLS: such a connection is
    refused as a malformed head.  */
void nws_listener_set_tls (nws_listener_t *self, struct lws_vhost *tls_vhost);

/*  Hands every connection held under tag to lws, with tag as the opaque
    user data of its lws handle. Returns how many lws took.  */
int nws_listener_release (nws_listener_t *self, void *tag);

/*  Copies the counters.  */
void nws_listener_stats (nws_listener_t *self, nws_listener_stats_t *stats);

/*  Frees the listener (the descriptor too if never attached).  */
void nws_listener_destroy (nws_listener_t **self_p);

#endif
