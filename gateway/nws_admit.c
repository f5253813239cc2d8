/*  nws_admit - HTTP requests, channel checks, upgrade confirmation and
    per-address counts.  */
#include "nws_admit.h"

#include <errno.h>
#include <string.h>

#include "nws_http.h"
#include "nws_limits.h"
#include "nws_log.h"
#include "nws_proxylink.h"
#include "nws_static.h"

struct nws_admit_t {
    nws_admit_limits_t limits;      /* see nws_admit_new */
    nws_counters_t *counters;       /* the gateway's counters */
    zhashx_t *peers;                /* peer address -> clients from it, as a pointer */
    int private_broadcast;          /* a network key: see nws_admit_set_private */
    int lan_clients;                /* ... and /broadcast is open to the LAN */
    nws_log_rate_t log_rate;        /* refusals logged */
    const nws_origin_rules_t *origins; /* --allow-origin, or NULL */
};

nws_admit_t *
nws_admit_new (const nws_admit_limits_t *limits, nws_counters_t *counters)
{
    nws_admit_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->limits = *limits;
    self->counters = counters;
    self->peers = zhashx_new ();
    if (!self->peers)
        nws_admit_destroy (&self);
    return self;
}

void
nws_admit_destroy (nws_admit_t **self_p)
{
    nws_admit_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->peers);
    free (self);
    *self_p = NULL;
}

void
nws_admit_set_private (nws_admit_t *self, int lan_clients)
{
    self->private_broadcast = 1;
    self->lan_clients = lan_clients;
}

//  A private gateway's rules for channel (see nws_admit_set_private).
//  Returns 0 or 403, counts, logs and sets *why.
static int
s_private_check (nws_admit_t *self, struct lws *wsi, const nws_channel_t *channel,
                 const char **why)
{
    int link = channel->scope == NWS_SCOPE_BROADCAST && nws_proxylink_is (wsi);
    if (lws_is_ssl (wsi) && !link) {
        self->counters->refused_private++;
        *why = "over TLS this gateway serves proxy links only";
    }
    else
    if (!lws_is_ssl (wsi) && link) {
        self->counters->refused_link_nokey++;
        *why = "broadcast channels here are private: a proxy link needs the network key";
    }
    else
    if (!link && channel->scope == NWS_SCOPE_BROADCAST && !self->lan_clients
    &&  !nws_http_peer_is_loopback (wsi)) {
        self->counters->refused_private++;
        *why = "broadcast channels here are private: open to this host only";
    }
    else
        return 0;
    char peer [48] = "?";
    if (nws_log_rate (&self->log_rate, NWS_LOG_REFUSALS_PER_SEC)) {
        nws_http_peer_address (wsi, peer, sizeof peer);
        nws_info ("refused a request from %s: 403, %s", peer, *why);
    }
    return 403;
}

void
nws_admit_set_origins (nws_admit_t *self, const nws_origin_rules_t *rules)
{
    self->origins = rules;
}

//  Fragment index of the Origin header into out: its length, -1 if there
//  is no such fragment, -2 if it does not fit.
static int
s_origin_fragment (struct lws *wsi, int index, char *out, size_t cap)
{
    int len = lws_hdr_copy_fragment (wsi, out, (int) cap, WSI_TOKEN_ORIGIN, index);
    if (len < 0 && lws_hdr_fragment_length (wsi, WSI_TOKEN_ORIGIN, index) > 0)
        return -2;
    return len < 0 ? -1 : len;
}

int
nws_admit_origin (struct lws *wsi, char *out, size_t cap)
{
    char value [NWS_ORIGIN_MAX + 1], second [8];
    int len = s_origin_fragment (wsi, 0, value, sizeof value);
    if (cap)
        out [0] = '\0';
    if (len == -1)
        return 0;
    //  Two headers: which one would a browser mean? Neither is trusted.
    if (len < 0 || s_origin_fragment (wsi, 1, second, sizeof second) != -1
    ||  nws_origin_parse (value, (size_t) len, out, cap))
        return -1;
    return 1;
}

//  --allow-origin (see nws_admit_set_origins). Returns 0 or 403, counts,
//  logs and sets *why.
static int
s_origin_check (nws_admit_t *self, struct lws *wsi, const nws_channel_t *channel,
                const char **why)
{
    char origin [NWS_ORIGIN_MAX + 1];
    int found = nws_admit_origin (wsi, origin, sizeof origin);
    if (found == 0 || (channel->scope == NWS_SCOPE_BROADCAST && nws_proxylink_is (wsi))
    ||  nws_origin_rules_allow (self->origins, channel, found > 0 ? origin : NULL))
        return 0;
    self->counters->refused_origin++;
    *why = "this channel is closed to pages of your origin (--allow-origin)";
    char peer [48] = "?";
    if (nws_log_rate (&self->log_rate, NWS_LOG_REFUSALS_PER_SEC)) {
        nws_http_peer_address (wsi, peer, sizeof peer);
        nws_info ("refused a page of %s from %s on %s/%s: 403, no --allow-origin rule lets "
                  "it in", found > 0 ? origin : "a malformed Origin header", peer,
                  nws_channel_scope_str (channel->scope), channel->name);
    }
    return 403;
}

int
nws_admit_error (nws_admit_t *self, struct lws *wsi, int status, const char *why)
{
    self->counters->http_errors++;
    return nws_http_error (wsi, status, why);
}

static int
s_is_get (struct lws *wsi)
{
    return lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) > 0;
}

int
nws_admit_channel (struct lws *wsi, const char *path, nws_channel_t *channel, const char **why)
{
    int rc = nws_channel_parse_path (path, channel);
    if (rc == -ENOENT) {
        *why = "no such page";
        return 404;
    }
    if (rc) {
        *why = "invalid channel name: use 1 to 255 of A-Z a-z 0-9 . _ -";
        return 404;
    }
    if (!s_is_get (wsi)) {
        *why = "channels take GET with a WebSocket upgrade";
        return 405;
    }
    if (channel->scope == NWS_SCOPE_LOCAL && !nws_http_peer_is_loopback (wsi)) {
        *why = "local channels are open to this host only";
        return 403;
    }
    return 0;
}

int
nws_admit_page (struct lws *wsi, const char **why)
{
    if (!s_is_get (wsi)) {
        *why = "use GET";
        return 405;
    }
    if (!nws_http_request_is_local (wsi)) {
        *why = "the status pages are open to this host only, by a local name";
        return 403;
    }
    return 0;
}

int
nws_admit_http (nws_admit_t *self, struct lws *wsi, const char *path, uint16_t port)
{
    nws_channel_t channel;
    const char *why = NULL;
    const nws_static_file_t *file = nws_static_lookup (path);
    if (file) {
        int status = nws_static_check (wsi, file, &why);
        if (status)
            self->counters->http_errors++;
        return status ? nws_http_error_allow (wsi, status, why, "GET, HEAD")
                      : nws_static_respond (wsi, file, port);
    }
    int status = nws_admit_channel (wsi, path, &channel, &why);
    if (status)
        return nws_admit_error (self, wsi, status, why);
    return nws_admit_error (self, wsi, 400, "this URL takes a WebSocket upgrade");
}

static size_t
s_peer_count (nws_admit_t *self, const char *peer)
{
    return (size_t) (uintptr_t) zhashx_lookup (self->peers, peer);
}

//  RFC 6455 4.2.1, which lws 4.1 does not enforce. Returns 0 or the HTTP
//  status, and sets *why.
static int
s_handshake_check (struct lws *wsi, const char **why)
{
    char version [8] = "";
    if (lws_hdr_copy (wsi, version, sizeof version, WSI_TOKEN_VERSION) <= 0
    ||  strcmp (version, "13") != 0) {
        *why = "this server speaks WebSocket version 13";
        return 426;
    }
    if (lws_hdr_total_length (wsi, WSI_TOKEN_KEY) != 24) {
        *why = "Sec-WebSocket-Key must be 16 bytes in base64";
        return 400;
    }
    return 0;
}

//  The limits, for an upgrade to channel. Returns 0 or the HTTP status,
//  and sets *why.
static int
s_limits_check (nws_admit_t *self, struct lws *wsi, const nws_channel_t *channel,
                uint32_t clients, zhashx_t *rooms, const char **why)
{
    char peer [48];
    if (clients >= self->limits.max_clients) {
        self->counters->refused_clients++;
        *why = "too many clients on this gateway";
        return 503;
    }
    //  Local programs are this machine's own; the per-address limit is for
    //  strangers on the LAN.
    if (!nws_http_peer_is_loopback (wsi)
    &&  nws_http_peer_address (wsi, peer, sizeof peer) == 0
    &&  s_peer_count (self, peer) >= self->limits.max_per_address) {
        self->counters->refused_address++;
        *why = "too many clients from your address";
        return 429;
    }
    if (zhashx_size (rooms) >= self->limits.max_channels) {
        char key [NWS_TOPIC_MAX + 1];
        int len = nws_channel_topic (channel, key, sizeof key - 1);
        key [len] = '\0';
        if (!zhashx_lookup (rooms, key)) {
            self->counters->refused_channels++;
            *why = "too many channels on this gateway";
            return 503;
        }
    }
    return 0;
}

int
nws_admit_upgrade (nws_admit_t *self, struct lws *wsi, uint32_t clients, zhashx_t *rooms)
{
    char path [NWS_TOPIC_MAX + 16];
    nws_channel_t channel;
    const char *why = NULL;
    int status;
    if (lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) >= (int) sizeof path) {
        status = 404;
        why = "invalid channel name: too long";
    }
    else {
        lws_hdr_copy (wsi, path, sizeof path, WSI_TOKEN_GET_URI);
        status = nws_admit_channel (wsi, path, &channel, &why);
    }
    if (status == 0 && self->private_broadcast)
        status = s_private_check (self, wsi, &channel, &why);
    if (status == 0 && self->origins)
        status = s_origin_check (self, wsi, &channel, &why);
    if (status == 0)
        status = s_handshake_check (wsi, &why);
    if (status == 0)
        status = s_limits_check (self, wsi, &channel, clients, rooms, &why);
    if (status == 0)
        return 0;
    return nws_admit_error (self, wsi, status, why) ? -1 : 1;
}

static void
s_peer_adjust (nws_admit_t *self, const char *peer, int delta)
{
    size_t count = s_peer_count (self, peer) + (size_t) delta;
    if (count)
        zhashx_update (self->peers, peer, (void *) (uintptr_t) count);
    else
        zhashx_delete (self->peers, peer);
}

void
nws_admit_join (nws_admit_t *self, struct lws *wsi, char *peer, size_t cap)
{
    if (nws_http_peer_address (wsi, peer, cap) == 0)
        s_peer_adjust (self, peer, +1);
    else
        peer [0] = '\0';
}

void
nws_admit_leave (nws_admit_t *self, char *peer)
{
    if (peer [0])
        s_peer_adjust (self, peer, -1);
    peer [0] = '\0';
}
