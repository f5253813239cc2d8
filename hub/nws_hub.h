/*  nws_hub - the broker: an XSUB socket where publishers connect and an
    XPUB socket where subscribers connect, and a loop between them.

    Every message is validated (nws_hubmsg) before it is forwarded: a bad
    one is dropped, counted and logged, and disturbs nobody. A 2-frame
    [topic][payload] message from an outside tool is forwarded as a 3-frame
    message with an origin-0 envelope, so subscribers see one format: text
    if the payload is UTF-8, else binary. A 3-frame text message whose
    payload is not UTF-8 is dropped: WebSocket clients would close on it.

    The XSUB side subscribes to everything, so publishers always send every
    message to the hub and nothing is lost to a subscription that has not
    reached a publisher yet; the XPUB side filters per subscriber. The hub
    tracks which channel topics have subscribers, and which have local
    interest (nws_channel.h's interest markers).

    A third socket, XPUB on ipc://<dir>/hub-events, tells nws-discovery
    about local interest, one single-frame text message per change:
        "+<topic>"   a channel gained local interest (e.g. "+broadcast/chat/")
        "-<topic>"   it lost it
        "*"          reset: a snapshot of "+" lines follows
    Each subscription to that socket triggers a snapshot.

    Single-threaded: all calls from the thread that created the hub.
*/
#ifndef NWS_HUB_H
#define NWS_HUB_H

#include <signal.h>
#include <stdint.h>

#include "nws_opts.h"

typedef struct nws_hub_t nws_hub_t;

typedef struct {
    const char *runtime_dir;        /* where the ipc endpoints and lock live */
    nws_opt_list_t extra_in;        /* more endpoints for publishers (e.g. tcp) */
    nws_opt_list_t extra_out;       /* more endpoints for subscribers */
    uint64_t grace_ms;              /* subscriptions-first window at start */
    uint64_t max_message;           /* larger payloads are dropped, bytes */
} nws_hub_config_t;

typedef struct {
    uint64_t forwarded;             /* messages passed from XSUB to XPUB */
    uint64_t external;              /* of which arrived as [topic][payload] */
    uint64_t dropped;               /* malformed or oversized, not forwarded */
    uint64_t channels;              /* channel topics with subscribers now */
} nws_hub_stats_t;

/*  Creates the hub: takes the runtime directory's lock and binds the XPUB
    endpoints. Returns NULL after logging why (e.g. another hub runs).  */
nws_hub_t *nws_hub_new (const nws_hub_config_t *config);

/*  Waits config->grace_ms for subscribers to (re)connect, binds the XSUB
    endpoints, calls ready(arg), then forwards until *stop is set. Returns 0
    or a negative errno on a fatal socket error.  */
int nws_hub_run (nws_hub_t *self, volatile sig_atomic_t *stop,
                 void (*ready) (nws_hub_t *self, void *arg), void *arg);

/*  The ipc endpoints publishers, subscribers and nws-discovery use.  */
const char *nws_hub_endpoint_in (nws_hub_t *self);
const char *nws_hub_endpoint_out (nws_hub_t *self);
const char *nws_hub_endpoint_events (nws_hub_t *self);

/*  Copies the counters.  */
void nws_hub_stats (nws_hub_t *self, nws_hub_stats_t *stats);

/*  Closes the sockets and releases the lock. Safe on NULL and twice.  */
void nws_hub_destroy (nws_hub_t **self_p);

#endif
