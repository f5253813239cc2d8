/*  nws_hublink - a gateway's two sockets on the hub, inside the lws loop.

    PUB (connected to the hub's XSUB) carries what this gateway's clients
    send; SUB (connected to XPUB) subscribes to the channels that have
    clients here. The SUB socket's ZMQ_FD is edge-triggered: a dup() of it
    is adopted into lws as a raw file, and every wake-up drains the socket
    until ZMQ_EVENTS has no POLLIN (in batches, continued from a timer, so
    clients are served in between).

    Subscribing is confirmed: after ZMQ_SUBSCRIBE the link publishes a
    control message on the channel's own topic and waits, serving other
    hub messages meanwhile, until it comes back through the hub. Its return
    proves that the hub forwards the channel to us, so a client accepted
    after that misses nothing published after its handshake.

    Messages that this gateway itself published come back from the hub
    (it delivers them locally first) and are skipped here, as are control
    messages, but for NWS_CONTROL_LOST and NWS_CONTROL_MARK of other
    origins, which go to the handler. Single-threaded: the lws service thread.
*/
#ifndef NWS_HUBLINK_H
#define NWS_HUBLINK_H

#include <libwebsockets.h>
#include <stdint.h>

#include "nws_hubmsg.h"

typedef struct nws_hublink_t nws_hublink_t;

/*  Called for each valid hub message of another origin. The message is
    closed by the link after the call returns.  */
typedef void (nws_hublink_fn) (void *arg, nws_hubmsg_t *msg);

typedef struct {
    uint64_t received;              /* valid messages taken from SUB */
    uint64_t own;                   /* of which our own, skipped */
    uint64_t malformed;             /* rejected by nws_hubmsg_recv */
    uint64_t published;             /* messages sent on PUB */
    uint64_t publish_failed;        /* PUB refused a message (HWM) */
    uint64_t sync_timeouts;         /* subscriptions not confirmed in time */
    uint64_t connects;              /* handshakes with a hub (1 + restarts) */
} nws_hublink_stats_t;

/*  Connects PUB and SUB to the hub of runtime_dir (the hub may start
    later: libzmq reconnects by itself). instance is this gateway's origin
    id. Returns NULL after logging why.  */
nws_hublink_t *nws_hublink_new (const char *runtime_dir, uint32_t instance,
                                nws_hublink_fn *handler, void *arg);

/*  Adopts the SUB socket's descriptor into vhost under the protocol named
    protocol; that protocol's LWS_CALLBACK_RAW_RX_FILE must call
    nws_hublink_readable(). Returns 0 or -1.  */
int nws_hublink_attach (nws_hublink_t *self, struct lws_vhost *vhost, const char *protocol);

/*  Drains the SUB socket. Call on LWS_CALLBACK_RAW_RX_FILE.  */
void nws_hublink_readable (nws_hublink_t *self);

/*  Subscribes to topic and waits up to timeout_ms for the confirmation.
    Returns 0 when confirmed, -ETIMEDOUT (subscribed, but unconfirmed: the
    hub is down, say), or another negative errno.  */
int nws_hublink_subscribe (nws_hublink_t *self, const char *topic, size_t len,
                           int timeout_ms);

/*  Waits up to timeout_ms for the hub to confirm an existing
    subscription, as nws_hublink_subscribe does. Returns 0 or -ETIMEDOUT.  */
int nws_hublink_confirm (nws_hublink_t *self, const char *topic, size_t len, int timeout_ms);

/*  Unsubscribes from topic. Returns 0 or a negative errno.  */
int nws_hublink_unsubscribe (nws_hublink_t *self, const char *topic, size_t len);

/*  Subscribes (on = 1) or unsubscribes to a prefix without confirmation,
    e.g. an interest marker. Returns 0 or a negative errno.  */
int nws_hublink_mark (nws_hublink_t *self, const char *prefix, size_t len, int on);

/*  Publishes one message. Returns 0 or a negative errno (counted).  */
int nws_hublink_publish (nws_hublink_t *self, const char *topic, size_t topic_len,
                         const nws_envelope_t *env, const void *payload, size_t len);

/*  Counts the hub handshakes since the last call into stats.connects
    and returns how many there were. Never blocks.  */
int nws_hublink_connects (nws_hublink_t *self);

/*  Copies the counters.  */
void nws_hublink_stats (nws_hublink_t *self, nws_hublink_stats_t *stats);

/*  Closes the sockets. Safe on NULL and twice.  */
void nws_hublink_destroy (nws_hublink_t **self_p);

#endif
