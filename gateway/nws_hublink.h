/*  nws_hublink - a gateway's two sockets on the hub, inside the lws loop.

    PUB (connected to the hub's XSUB) carries what this gateway's clients
    send; SUB (connected to XPUB) subscribes to the channels that have
    clients here. The SUB socket's ZMQ_FD is edge-triggered: a dup() of it
    is adopted into lws as a raw file, and every wake-up drains the socket
    until ZMQ_EVENTS has no POLLIN (in batches, continued from a timer, so
    clients are served in between).

    A subscription is confirmed by a sync: an empty control message that
    the link publishes on the channel's own topic, numbered. Its return
    through the hub proves that the hub forwards the channel to us, so a
    client accepted after that misses nothing published after its
    handshake. Nothing here waits for it: the owner sends syncs (again,
    since one can be dropped before the hub has the subscription) and is
    called back with each that returns; a sync sent before this
    subscription began proves nothing, so the owner compares numbers.

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

/*  Called for each of our own syncs that comes back, with its number.  */
typedef void (nws_hublink_sync_fn) (void *arg, const char *topic, size_t len, uint64_t seq);

typedef struct {
    uint64_t received;              /* valid messages taken from SUB */
    uint64_t own;                   /* of which our own, skipped */
    uint64_t malformed;             /* rejected by nws_hubmsg_recv */
    uint64_t published;             /* messages sent on PUB */
    uint64_t publish_failed;        /* PUB refused a message (HWM) */
    uint64_t sync_timeouts;         /* subscriptions not confirmed in time (owner's count) */
    uint64_t connects;              /* handshakes with a hub (1 + restarts) */
} nws_hublink_stats_t;

/*  Connects PUB and SUB to the hub of runtime_dir (the hub may start
    later: libzmq reconnects by itself). instance is this gateway's origin
    id. Returns NULL after logging why.  */
nws_hublink_t *nws_hublink_new (const char *runtime_dir, uint32_t instance,
                                nws_hublink_fn *handler, nws_hublink_sync_fn *on_sync,
                                void *arg);

/*  Adopts the SUB socket's descriptor into vhost under the protocol named
    protocol; that protocol's LWS_CALLBACK_RAW_RX_FILE must call
    nws_hublink_readable(). Returns 0 or -1.  */
int nws_hublink_attach (nws_hublink_t *self, struct lws_vhost *vhost, const char *protocol);

/*  Drains the SUB socket. Call on LWS_CALLBACK_RAW_RX_FILE.  */
void nws_hublink_readable (nws_hublink_t *self);

/*  Subscribes to topic. Returns 0 or a negative errno.  */
int nws_hublink_subscribe (nws_hublink_t *self, const char *topic, size_t len);

/*  Publishes a sync on topic. Returns its number (they grow).  */
uint64_t nws_hublink_sync (nws_hublink_t *self, const char *topic, size_t len);

/*  The owner gave up waiting for a sync: the hub seems down until the
    next message from it. nws_hublink_quiet() says whether it still does.  */
void nws_hublink_timed_out (nws_hublink_t *self);
int nws_hublink_quiet (nws_hublink_t *self);

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
