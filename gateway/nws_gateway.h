/*  nws_gateway - the HTTP/WebSocket server: clients in, hub out and back.

    One process serves /local/<name> and /broadcast/<name>. A message from
    a client is published to the hub once and delivered at once to the
    other clients of its channel in this process; messages of other origins
    arrive from the hub and are fanned out the same way. Every client has a
    bounded send queue of shared frames (nws_frame).

    Single-threaded on the lws service thread. main() owns the gateway.
*/
#ifndef NWS_GATEWAY_H
#define NWS_GATEWAY_H

#include <signal.h>
#include <stdint.h>

#include "nws_netkey.h"
#include "nws_origin.h"

typedef struct nws_gateway_t nws_gateway_t;

typedef struct {
    const char *bind;               /* listen address, "::" = all, dual-stack */
    uint64_t port;                  /* 0 = any free port */
    const char *runtime_dir;        /* the hub's runtime directory */
    uint64_t max_message;           /* bytes; larger closes the sender (1009) */
    uint64_t queue_msgs;            /* per-client send queue, messages */
    uint64_t queue_bytes;           /* per-client send queue, bytes */
    uint64_t max_clients;           /* WebSocket clients, 503 beyond */
    uint64_t max_per_address;       /* WebSocket clients per peer address, 429 beyond */
    uint64_t max_channels;          /* channels with clients here, 503 beyond */
    uint64_t ping_secs;             /* ping a client silent this long */
    uint64_t idle_secs;             /* drop a client silent this long (pongs count) */
    uint64_t sync_ms;               /* wait for a new subscription, at most */
    uint64_t replay_ms;             /* broadcast messages kept for peer links */
    uint64_t replay_bytes;          /* ... at most this much per channel */
    nws_netkey_t *key;              /* network key: private broadcast; NULL = open;
                                       the caller's, kept until destroy */
    int lan_clients;                /* with a key, serve /broadcast to other addresses */
    const nws_origin_rules_t *origins; /* --allow-origin: which web pages may join what;
                                       NULL = all; the caller's, kept until destroy */
} nws_gateway_config_t;

/*  Binds the port, creates the lws context and connects to the hub.
    Returns NULL after logging why.  */
nws_gateway_t *nws_gateway_new (const nws_gateway_config_t *config);

/*  The port listened on.  */
uint16_t nws_gateway_port (nws_gateway_t *self);

/*  Serves until *stop is set. Returns 0.  */
int nws_gateway_run (nws_gateway_t *self, volatile sig_atomic_t *stop);

/*  Closes every connection and frees the gateway. Safe on NULL and twice.  */
void nws_gateway_destroy (nws_gateway_t **self_p);

#endif
