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

    Extra endpoints (--in/--out) may be ipc:// or tcp://. A tcp endpoint
    has no authentication: whoever reaches it reads every channel and
    writes to any. So a tcp host must be a loopback address (127.x.x.x,
    [::1], or localhost, bound as 127.0.0.1) unless the config allows
    remote peers; port 0 or * picks a free port, and the endpoints
    actually bound can be read back (nws_hub_bound_in/out).

    The hub keeps <runtime-dir>/hub.json up to date for status pages:
        {"pid":N,"forwarded":N,"external":N,"dropped":N,
         "dropped_by_reason":{"frame_count":N,...},"channels":N,
         "interest":N,"endpoints":{"in":[...],"out":[...]}}
    written to a temporary file and renamed (readers never see half a
    file), at most 5 times a second and only after a change, first just
    before ready; removed when the hub is destroyed. "interest" counts the
    channels gateways mark (broadcast channels with clients of their own).

    Single-threaded: all calls from the thread that created the hub.
*/
#ifndef NWS_HUB_H
#define NWS_HUB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "nws_opts.h"

typedef struct nws_hub_t nws_hub_t;

typedef struct {
    const char *runtime_dir;        /* where the ipc endpoints and lock live */
    nws_opt_list_t extra_in;        /* more endpoints for publishers (e.g. tcp) */
    nws_opt_list_t extra_out;       /* more endpoints for subscribers */
    uint64_t grace_ms;              /* subscriptions-first window at start */
    uint64_t max_message;           /* larger payloads are dropped, bytes */
    int allow_remote;               /* accept tcp endpoints on any address */
} nws_hub_config_t;

/*  Why a message was dropped, once each: X (ID, its name in hub.json, what
    it means). nws_hub_drop_t is NWS_HUB_DROP_<ID>, in this order.  */
#define NWS_HUB_DROPS(X) \
    X (FRAME_COUNT, frame_count, "not 2 or 3 frames") \
    X (TOPIC, topic, "topic not \"<scope>/<name>/\"") \
    X (VERSION, envelope_version, "another envelope version") \
    X (ENVELOPE, envelope, "bad envelope length or field") \
    X (TOO_BIG, too_big, "payload over max_message") \
    X (NOT_UTF8, not_utf8, "3-frame text, payload not UTF-8") \
    X (OTHER, other, "a reason nws_hubmsg added since")

typedef enum {
#define NWS_HUB_DROP_ID(id, name, help) NWS_HUB_DROP_##id,
    NWS_HUB_DROPS (NWS_HUB_DROP_ID)
#undef NWS_HUB_DROP_ID
    NWS_HUB_DROP_REASONS            /* count, not a reason */
} nws_hub_drop_t;

typedef struct {
    uint64_t forwarded;             /* messages passed from XSUB to XPUB */
    uint64_t external;              /* of which arrived as [topic][payload] */
    uint64_t dropped;               /* malformed or oversized, not forwarded */
    uint64_t dropped_by [NWS_HUB_DROP_REASONS];  /* dropped, per reason */
    uint64_t channels;              /* channel topics with subscribers now */
    uint64_t interest;              /* channels with local interest now */
} nws_hub_stats_t;

/*  Checks an endpoint given for --in or --out, before anything is bound.
    Returns 0; -EINVAL if it is not ipc://PATH or tcp://HOST:PORT (PORT a
    number up to 65535 or *); or -EPERM for a tcp host that is not a
    loopback address when allow_remote is 0. Writes why into err.  */
int nws_hub_endpoint_check (const char *endpoint, int allow_remote,
                            char *err, size_t errlen);

/*  Checks every extra endpoint of config the same way. Returns 0, or the
    first error with "--in ENDPOINT: why" (or --out) written into err.
    nws_hub_new() checks too; a program calls this first to tell a usage
    error apart.  */
int nws_hub_config_check (const nws_hub_config_t *config, char *err, size_t errlen);

/*  The key of a drop reason in hub.json, e.g. "frame_count".  */
const char *nws_hub_drop_name (nws_hub_drop_t reason);

/*  Creates the hub: checks every endpoint, takes the runtime directory's
    lock and binds the XPUB endpoints. Returns NULL after logging why
    (e.g. another hub runs, a bad endpoint).  */
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

/*  The endpoints bound for publishers (in) and subscribers (out), as
    resolved by libzmq (a tcp port 0 or * replaced by the real one): index
    0 is the ipc endpoint, then the extra ones in order. NULL past the
    last. The in endpoints are bound only once nws_hub_run is ready.  */
const char *nws_hub_bound_in (nws_hub_t *self, int index);
const char *nws_hub_bound_out (nws_hub_t *self, int index);

/*  Copies the counters.  */
void nws_hub_stats (nws_hub_t *self, nws_hub_stats_t *stats);

/*  Closes the sockets and releases the lock. Safe on NULL and twice.  */
void nws_hub_destroy (nws_hub_t **self_p);

#endif
