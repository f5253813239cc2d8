/*  nws_link - one proxy link to a peer proxy.  */
#include "nws_link.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "nws_envelope.h"
#include "nws_limits.h"
#include "nws_log.h"
#include "nws_reconcile.h"
#include "nws_runtime.h"

#define S_BACKOFF_MIN_MS 100
#define S_BACKOFF_MAX_MS 5000
#define S_SINCE_MARGIN_MS 100       /* what a broken link may have missed unnoticed */
#define S_MARK_TICKS 3              /* marks after a link's last message */

typedef enum {
    S_IDLE,                         /* no address to dial yet */
    S_CONNECTING,                   /* dialing or handshaking */
    S_OPEN,                         /* reading */
    S_BACKOFF,                      /* waiting to dial again */
    S_SELF,                         /* it reached our own proxy: never again */
    S_CLOSING                       /* closed by the owner; freed on close */
} s_state_t;

static const char *s_state_names [] = {
    "idle", "connecting", "open", "backoff", "self", "closing"
};

struct nws_link_t {
    struct lws_context *context;    /* for timers */
    struct lws_vhost *vhost;        /* where connections are made */
    struct lws *wsi;                /* the connection, or NULL */
    char key [NWS_LINK_NAME_MAX];   /* name in logs and status */
    nws_channel_t channel;          /* which channel */
    char addresses [NWS_LINK_ADDRESSES][NWS_LINK_ADDRESS_MAX]; /* best first */
    int address_count;              /* used */
    int cursor;                     /* the address dialed (or open) */
    char dialed [NWS_LINK_ADDRESS_MAX]; /* that address, as dialed */
    char host [NWS_LINK_ADDRESS_MAX + 10]; /* Host header for it */
    char path [NWS_NAME_MAX + 16];  /* /broadcast/<name> */
    uint16_t port;                  /* peer port */
    int tls;                        /* dial with TLS (the network key) */
    int tls_warned;                 /* a failure was logged since it last opened */
    char own_id [NWS_PROXY_ID_LEN + 1];  /* ours, sent in the request */
    char peer [NWS_LINK_ADDRESS_MAX + 16]; /* whom it reached: id:... or at:... */
    s_state_t state;                /* see above */
    uint32_t id;                    /* for our envelopes' origin */
    uint64_t seq;                   /* last sequence number used */
    uint64_t max_message;           /* larger messages close the link */
    uint8_t *rx;                    /* message being reassembled */
    size_t rx_len, rx_cap;          /* its size and room */
    uint8_t rx_kind;                /* its kind */
    uint32_t backoff_ms;            /* next wait before dialing */
    lws_sorted_usec_list_t retry;   /* the backoff timer */
    uint64_t messages;              /* messages received */
    uint64_t connects;              /* successful handshakes */
    uint64_t dials;                 /* connections started */
    nws_link_handlers_t handlers;   /* the owner's callbacks */
    uint16_t peer_close;            /* close code the peer sent, or 0 */
    int64_t since;                  /* our host's clients on the channel since */
    int streaming;                  /* the peer gave us a stream position */
    char stream [20];               /* its stream: "<gateway>:<room>" */
    uint64_t next;                  /* index of the next message in it */
    uint64_t marked_seq;            /* seq when its marks began */
    int64_t sent_at;                /* zclock_mono when seq was used */
    int mark_ticks;                 /* marks still due */
};

static uint32_t s_next_id = 0;

static void s_dial (nws_link_t *self);

static void
s_free (nws_link_t *self)
{
    lws_sul_cancel (&self->retry);
    free (self->rx);
    free (self);
}

static void
s_on_retry (lws_sorted_usec_list_t *sul)
{
    s_dial (lws_container_of (sul, nws_link_t, retry));
}

//  The connection is gone: free a closed link, else dial again later.
static void
s_lost (nws_link_t *self, const char *why)
{
    self->wsi = NULL;
    self->rx_len = 0;
    if (self->state == S_CLOSING) {
        s_free (self);
        return;
    }
    if (self->state == S_SELF)
        return;
    //  The peer dropped us for reading too slowly, or because it lost
    //  messages itself: what we should have had is gone, and our clients
    //  must hear of it.
    if (self->state == S_OPEN && self->handlers.on_loss && !self->streaming
    && (self->peer_close == NWS_CLOSE_SLOW || self->peer_close == NWS_CLOSE_GAP)) {
        nws_warn ("link %s: the peer closed it with %u; messages were lost", self->key,
                  self->peer_close);
        self->handlers.on_loss (self->handlers.arg, self);
    }
    self->peer_close = 0;
    if (self->state == S_OPEN) {
        //  What the peer gets from now on is missed: ask for it back.
        self->since = zclock_mono () - S_SINCE_MARGIN_MS;
        nws_info ("link %s to %s closed (%s); dialing again", self->key, self->dialed, why);
        self->cursor = 0;
        self->backoff_ms = S_BACKOFF_MIN_MS;
    }
    else
    if (self->cursor + 1 < self->address_count) {
        //  That address failed: the next one, at once.
        nws_debug ("link %s: %s: %s; trying %s", self->key, self->dialed, why,
                   self->addresses [self->cursor + 1]);
        self->cursor++;
        s_dial (self);
        return;
    }
    else
    if (self->tls && !self->tls_warned) {
        //  Once, not at every retry: the likely cause is a setup to fix.
        nws_warn ("link %s: %s: %s; over TLS, so perhaps the peer has no network key or "
                  "another one (its log says); retrying", self->key, self->dialed, why);
        self->tls_warned = 1;
        self->cursor = 0;
    }
    else {
        nws_debug ("link %s: %s: %s; retry in %u ms", self->key, self->dialed, why,
                   self->backoff_ms);
        self->cursor = 0;
    }
    self->state = S_BACKOFF;
    lws_sul_schedule (self->context, 0, &self->retry, s_on_retry,
                      (lws_usec_t) self->backoff_ms * LWS_US_PER_MS);
    self->backoff_ms = self->backoff_ms * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS
                                                                : self->backoff_ms * 2;
}

//  The Host header for an address: IPv6 in brackets, without its scope.
static void
s_host_header (nws_link_t *self)
{
    const char *address = self->dialed;
    if (strchr (address, ':')) {
        size_t len = strcspn (address, "%");
        snprintf (self->host, sizeof self->host, "[%.*s]:%u", (int) len, address,
                  (unsigned) self->port);
    }
    else
        snprintf (self->host, sizeof self->host, "%s:%u", address, (unsigned) self->port);
}

static void
s_dial (nws_link_t *self)
{
    if (self->address_count == 0) {
        self->state = S_IDLE;
        return;
    }
    if (self->cursor >= self->address_count)
        self->cursor = 0;
    memcpy (self->dialed, self->addresses [self->cursor], sizeof self->dialed);
    s_host_header (self);
    struct lws_client_connect_info info;
    memset (&info, 0, sizeof info);
    info.context = self->context;
    info.vhost = self->vhost;
    info.address = self->dialed;
    info.port = self->port;
    info.path = self->path;
    info.host = self->host;
    info.local_protocol_name = NWS_LINK_PROTOCOL;
    info.opaque_user_data = self;
    //  The server has no certificate: the PSK is what both sides prove.
    if (self->tls)
        info.ssl_connection = LCCSCF_USE_SSL;
    self->state = S_CONNECTING;
    uint64_t dial = ++self->dials;
    struct lws *wsi = lws_client_connect_via_info (&info);
    if (wsi)
        self->wsi = wsi;
    else
    if (self->dials == dial && self->state == S_CONNECTING)
        //  (unless lws already reported the failure through the callback)
        s_lost (self, "cannot start a connection");
}

nws_link_t *
nws_link_new (struct lws_context *context, struct lws_vhost *vhost, const char *name,
              const nws_channel_t *channel, const char *own_id, int64_t since,
              uint64_t max_message, const nws_link_handlers_t *handlers)
{
    nws_link_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->context = context;
    self->vhost = vhost;
    snprintf (self->key, sizeof self->key, "%s", name);
    self->channel = *channel;
    snprintf (self->path, sizeof self->path, "/broadcast/%s", channel->name);
    snprintf (self->own_id, sizeof self->own_id, "%s", own_id);
    self->id = ++s_next_id;
    self->max_message = max_message;
    self->backoff_ms = S_BACKOFF_MIN_MS;
    self->handlers = *handlers;
    self->state = S_IDLE;
    self->since = since;
    return self;
}

void
nws_link_set_tls (nws_link_t *self)
{
    self->tls = 1;
}

void
nws_link_set_addresses (nws_link_t *self, uint16_t port,
                        const char (*addresses) [NWS_LINK_ADDRESS_MAX], int count)
{
    if (count > NWS_LINK_ADDRESSES)
        count = NWS_LINK_ADDRESSES;
    int same = port == self->port && count == self->address_count;
    for (int i = 0; same && i < count; i++)
        same = strcmp (addresses [i], self->addresses [i]) == 0;
    if (same)
        return;
    self->port = port;
    self->address_count = count;
    for (int i = 0; i < count; i++)
        snprintf (self->addresses [i], NWS_LINK_ADDRESS_MAX, "%s", addresses [i]);
    //  An open or dialing link carries on; a waiting one tries the news now.
    if (self->state == S_IDLE || self->state == S_BACKOFF) {
        lws_sul_cancel (&self->retry);
        self->cursor = 0;
        self->backoff_ms = S_BACKOFF_MIN_MS;
        s_dial (self);
    }
}

uint32_t
nws_link_id (nws_link_t *self)
{
    return self->id;
}

uint64_t
nws_link_next_seq (nws_link_t *self)
{
    self->sent_at = zclock_mono ();
    return ++self->seq;
}

int
nws_link_mark (nws_link_t *self, int again, uint64_t *seq, uint64_t *age_ms)
{
    if (!self->seq)
        return 0;
    if (self->seq != self->marked_seq || again) {
        self->marked_seq = self->seq;
        self->mark_ticks = S_MARK_TICKS;
    }
    if (!self->mark_ticks)
        return 0;
    self->mark_ticks--;
    *seq = self->seq;
    *age_ms = (uint64_t) (zclock_mono () - self->sent_at);
    return 1;
}

int
nws_link_is_open (nws_link_t *self)
{
    return self->state == S_OPEN;
}

const char *
nws_link_peer (nws_link_t *self)
{
    return self->peer;
}

const char *
nws_link_name (nws_link_t *self)
{
    return self->key;
}

void
nws_link_set_name (nws_link_t *self, const char *name)
{
    snprintf (self->key, sizeof self->key, "%s", name);
}

const nws_channel_t *
nws_link_channel (nws_link_t *self)
{
    return &self->channel;
}

void
nws_link_status (nws_link_t *self, nws_text_t *out)
{
    //  "peer" is the address in use (or to be tried next), as host:port.
    const char *address = self->state == S_OPEN || self->state == S_CONNECTING
                        ? self->dialed : self->address_count ? self->addresses [self->cursor] : "";
    nws_text_printf (out, "{\"key\":\"%s\",\"channel\":\"%s\",\"peer\":\"%s%s%s:%u\","
                     "\"proxy\":\"%s\",\"state\":\"%s\",\"connects\":%llu,\"messages\":%llu,"
                     "\"addresses\":[", self->key, self->channel.name,
                     strchr (address, ':') ? "[" : "", address, strchr (address, ':') ? "]" : "",
                     self->port, self->peer, s_state_names [self->state],
                     (unsigned long long) self->connects, (unsigned long long) self->messages);
    for (int i = 0; i < self->address_count; i++)
        nws_text_printf (out, "%s\"%s\"", i ? "," : "", self->addresses [i]);
    nws_text_printf (out, "]}");
}

void
nws_link_close (nws_link_t **self_p)
{
    nws_link_t *self = *self_p;
    *self_p = NULL;
    if (!self)
        return;
    if (!self->wsi) {
        s_free (self);
        return;
    }
    //  Never free under lws's feet: ask it to close, and free on the
    //  close callback.
    self->state = S_CLOSING;
    lws_set_timeout (self->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static int
s_receive (nws_link_t *self, struct lws *wsi, const void *in, size_t len)
{
    if (self->rx_len == 0)
        self->rx_kind = lws_frame_is_binary (wsi) ? NWS_KIND_BINARY : NWS_KIND_TEXT;
    if (self->rx_len + len > self->max_message) {
        nws_warn ("link %s: message larger than %llu bytes; closing the link", self->key,
                  (unsigned long long) self->max_message);
        return -1;
    }
    if (self->rx_len + len > self->rx_cap) {
        size_t cap = self->rx_cap * 2 > self->rx_len + len ? self->rx_cap * 2
                                                           : self->rx_len + len;
        uint8_t *rx = realloc (self->rx, cap);
        if (!rx)
            return -1;
        self->rx = rx;
        self->rx_cap = cap;
    }
    memcpy (self->rx + self->rx_len, in, len);
    self->rx_len += len;
    if (lws_is_final_fragment (wsi) && lws_remaining_packet_payload (wsi) == 0) {
        self->messages++;
        self->next++;
        self->handlers.on_message (self->handlers.arg, self, self->rx_kind, self->rx,
                                   self->rx_len);
        self->rx_len = 0;
    }
    return 0;
}

//  Asks to resume the stream where the last connection stopped, or, the
//  first time, for what was sent since our clients joined.
static int
s_stream_request (nws_link_t *self, struct lws *wsi, unsigned char **p, unsigned char *end)
{
    char value [64];
    if (self->streaming) {
        snprintf (value, sizeof value, "%s:%llu", self->stream, (unsigned long long) self->next);
        if (lws_add_http_header_by_name (wsi, (const unsigned char *) "x-nws-resume:",
                                         (const unsigned char *) value, (int) strlen (value),
                                         p, end))
            return -1;
    }
    int64_t ago = zclock_mono () - self->since;
    snprintf (value, sizeof value, "%lld", (long long) (ago > 0 ? ago : 0));
    return lws_add_http_header_by_name (wsi, (const unsigned char *) "x-nws-since-ms:",
                                        (const unsigned char *) value, (int) strlen (value),
                                        p, end) ? -1 : 0;
}

//  Where this connection's stream starts, from X-Nws-Stream. A link that
//  had one and cannot go on where it stopped (another stream, or a later
//  index: the peer's window passed) has lost messages. Without a stream
//  (the original proxy), any reconnection after a break may have.
static void
s_stream_start (nws_link_t *self, struct lws *wsi)
{
    static const char header [] = "x-nws-stream:";
    char value [64] = "";
    unsigned gateway, room;
    unsigned long long from;
    char extra;
    int len = lws_hdr_custom_length (wsi, header, sizeof header - 1);
    if (len > 0 && len < (int) sizeof value)
        lws_hdr_custom_copy (wsi, value, sizeof value, header, sizeof header - 1);
    if (sscanf (value, "%8x:%8x:%llu%c", &gateway, &room, &from, &extra) != 3) {
        if (self->connects > 0 && self->handlers.on_loss) {
            nws_warn ("link %s: %s came back and cannot resume: messages may be lost",
                      self->key, self->host);
            self->handlers.on_loss (self->handlers.arg, self);
        }
        self->streaming = 0;
        return;
    }
    char stream [sizeof self->stream];
    snprintf (stream, sizeof stream, "%08x:%08x", gateway, room);
    if (self->streaming && strncmp (stream, self->stream, 8) != 0)
        //  Another gateway process: the one we read from restarted, and
        //  what it had not sent us went with it and with its senders'
        //  connections; what the new one got since the break comes now.
        nws_info ("link %s: the peer's gateway is new (%s); reading it since the break",
                  self->key, stream);
    else
    if (self->streaming && (strcmp (stream, self->stream) != 0 || from != self->next)) {
        nws_warn ("link %s: cannot resume at %s:%llu (the peer has kept from %llu on): "
                  "messages were lost", self->key, self->stream, (unsigned long long) self->next,
                  from);
        if (self->handlers.on_loss)
            self->handlers.on_loss (self->handlers.arg, self);
    }
    else
    if (self->streaming)
        nws_info ("link %s: resumed at %s:%llu", self->key, stream, from);
    memcpy (self->stream, stream, sizeof stream);
    self->next = from;
    self->streaming = 1;
}

//  Learns whom the handshake reached, before any message is read.
static int
s_identify (nws_link_t *self, struct lws *wsi)
{
    char id [NWS_PROXY_ID_LEN + 2] = "";
    int len = lws_hdr_custom_length (wsi, NWS_LINK_ID_HEADER, sizeof NWS_LINK_ID_HEADER - 1);
    if (len > 0 && len < (int) sizeof id)
        lws_hdr_custom_copy (wsi, id, sizeof id, NWS_LINK_ID_HEADER, sizeof NWS_LINK_ID_HEADER - 1);
    if (nws_reconcile_identify (id, self->own_id, self->host, self->peer, sizeof self->peer)) {
        nws_info ("link %s: %s is this proxy; not linking to it", self->key, self->host);
        self->state = S_SELF;
        return -1;
    }
    s_stream_start (self, wsi);
    return 0;
}

int
nws_link_callback (struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len)
{
    nws_link_t *self = lws_get_opaque_user_data (wsi);
    (void) user;
    if (!self)
        return 0;
    switch (reason) {
        case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
            unsigned char **p = in, *end = *p + len;
            static const char name [] = "x-broadcastwebsocket-proxy:";
            if (lws_add_http_header_by_name (wsi, (const unsigned char *) name,
                                             (const unsigned char *) "true", 4, p, end))
                return -1;
            if (lws_add_http_header_by_name (wsi, (const unsigned char *) NWS_LINK_ID_HEADER,
                                             (const unsigned char *) self->own_id,
                                             (int) strlen (self->own_id), p, end))
                return -1;
            return s_stream_request (self, wsi, p, end);
        }
        case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
            return s_identify (self, wsi);
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            if (self->state == S_CLOSING)
                return -1;
            self->state = S_OPEN;
            self->tls_warned = 0;
            self->connects++;
            self->backoff_ms = S_BACKOFF_MIN_MS;
            if (self->handlers.on_open && self->handlers.on_open (self->handlers.arg, self) < 0) {
                //  The owner has let go of it: close, then free.
                self->state = S_CLOSING;
                return -1;
            }
            nws_info ("link %s open to %s (%s)", self->key, self->host, self->peer);
            return 0;
        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
            if (in && len >= 2)
                self->peer_close = (uint16_t) (((const uint8_t *) in) [0] << 8
                                               | ((const uint8_t *) in) [1]);
            return 0;
        case LWS_CALLBACK_CLIENT_RECEIVE:
            if (self->state != S_OPEN)
                return -1;
            return s_receive (self, wsi, in, len);
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
            char why [128];
            snprintf (why, sizeof why, "%.*s", in ? (int) (len < 100 ? len : 100) : 0,
                      in ? (const char *) in : "");
            //  Whatever lws calls back with later, this link is done with it.
            lws_set_opaque_user_data (wsi, NULL);
            s_lost (self, *why ? why : "connection failed");
            return 0;
        }
        case LWS_CALLBACK_CLIENT_CLOSED:
        case LWS_CALLBACK_WSI_DESTROY:
            lws_set_opaque_user_data (wsi, NULL);
            s_lost (self, "connection closed");
            return 0;
        default:
            return 0;
    }
}
