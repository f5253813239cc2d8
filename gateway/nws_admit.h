/*  nws_admit - who gets in: plain HTTP requests, the checks on a channel
    URL, the confirmation of a WebSocket upgrade, and the count of clients
    per peer address that --max-clients-per-address limits.

    Internal to the gateway, single-threaded. Every refusal is answered
    with its HTTP status and a reason, and counted in the gateway's
    counters.
*/
#ifndef NWS_ADMIT_H
#define NWS_ADMIT_H

#include <czmq.h>
#include <libwebsockets.h>

#include "nws_channel.h"
#include "nws_origin.h"
#include "nws_status.h"

typedef struct nws_admit_t nws_admit_t;

typedef struct {
    uint64_t max_clients;           /* WebSocket clients, 503 beyond */
    uint64_t max_per_address;       /* clients per peer address (not loopback), 429 beyond */
    uint64_t max_channels;          /* channels with clients here, 503 beyond */
} nws_admit_limits_t;

/*  Admission under limits, counting into counters (kept by the caller for
    the admission's life). Returns NULL when out of memory.  */
nws_admit_t *nws_admit_new (const nws_admit_limits_t *limits, nws_counters_t *counters);

/*  Frees it. Safe on NULL.  */
void nws_admit_destroy (nws_admit_t **self_p);

/*  Private broadcast (a network key): a peer proxy's link must come over
    TLS (the gateway's TLS vhost, where only links are served), and
    /broadcast is served to other addresses only with lan_clients.
    Refusals are 403s, counted and logged (at most 10 lines a second).  */
void nws_admit_set_private (nws_admit_t *self, int lan_clients);

/*  Web origins: a request with an Origin header (a web page's) joins a
    channel only if rules allow its origin (nws_origin_rules_allow); else
    403, counted as refused_origin and logged (at most 10 lines a second).
    Requests without one, and proxy links, are programs: not judged here.
    rules stay the caller's; NULL lets every origin in.  */
void nws_admit_set_origins (nws_admit_t *self, const nws_origin_rules_t *rules);

/*  The request's Origin header, read by nws_origin_parse into out (cap >
    NWS_ORIGIN_MAX). Returns 1 for an origin, 0 when there is none, -1
    when it is malformed or given twice (out is "").  */
int nws_admit_origin (struct lws *wsi, char *out, size_t cap);

/*  Answers an error to a request and counts it. Returns lws's callback
    result.  */
int nws_admit_error (nws_admit_t *self, struct lws *wsi, int status, const char *why);

/*  Checks a request for a channel URL (upgrade or not) and parses it into
    channel. Returns 0 if it may proceed, else the HTTP status to answer
    with, and sets *why.  */
int nws_admit_channel (struct lws *wsi, const char *path, nws_channel_t *channel,
                       const char **why);

/*  Checks a request for a status page (nws_status_page). Returns 0, or
    the HTTP status to answer with, and sets *why.  */
int nws_admit_page (struct lws *wsi, const char **why);

/*  Answers a plain HTTP request that is not for a status page: a web
    file (port goes into the JS API), else an error. Returns lws's
    callback result.  */
int nws_admit_http (nws_admit_t *self, struct lws *wsi, const char *path, uint16_t port);

/*  Before lws answers an upgrade: the channel checks, then RFC 6455's,
    then the limits, given the WebSockets open (clients) and the rooms
    open (topic -> room). Returns 0 to go on, else answers the refusal
    and returns lws's callback result for it.  */
int nws_admit_upgrade (nws_admit_t *self, struct lws *wsi, uint32_t clients, zhashx_t *rooms);

/*  Counts an accepted client of wsi's peer address, written into peer
    ("" when it is unknown). nws_admit_leave uncounts it and clears peer.  */
void nws_admit_join (nws_admit_t *self, struct lws *wsi, char *peer, size_t cap);
void nws_admit_leave (nws_admit_t *self, char *peer);

#endif
