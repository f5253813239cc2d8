/*  nws_hub - the broker between publishers (XSUB) and subscribers (XPUB).  */
#include "nws_hub.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "nws_addr.h"
#include "nws_hubmsg.h"
#include "nws_limits.h"
#include "nws_log.h"
#include "nws_runtime.h"
#include "nws_text.h"
#include "nws_utf8.h"

#define S_BATCH 256                 /* messages forwarded per poll wake-up and side */
#define S_STATUS_MS 200             /* hub.json is rewritten at most this often */
#define S_STATUS_MAX 65536          /* hub.json size limit (what the gateway reads) */
#define S_ENDPOINTS (1 + NWS_OPT_LIST_MAX)  /* ipc + extra endpoints per side */

//  Names of the drop reasons in hub.json, in nws_hub_drop_t order.
static const char *s_drop_names [NWS_HUB_DROP_REASONS] = {
#define S_DROP_NAME(id, name, help) #name,
    NWS_HUB_DROPS (S_DROP_NAME)
#undef S_DROP_NAME
};

//  nws_hubmsg's reasons (its *why strings), sorted into ours. A reason it
//  adds later lands in "other" until it is listed here.
static const struct {
    const char *why;                /* nws_hubmsg_recv's static string */
    nws_hub_drop_t reason;          /* what hub.json counts it as */
} s_hubmsg_reasons [] = {
    { "more than 3 frames", NWS_HUB_DROP_FRAME_COUNT },
    { "fewer than 2 frames", NWS_HUB_DROP_FRAME_COUNT },
    { "topic is not <scope>/<name>/", NWS_HUB_DROP_TOPIC },
    { "unknown envelope version", NWS_HUB_DROP_VERSION },
    { "malformed envelope", NWS_HUB_DROP_ENVELOPE },
};

struct nws_hub_t {
    nws_hub_config_t config;        /* copy of the caller's */
    void *zctx;                     /* libzmq context */
    void *xsub;                     /* publishers connect here */
    void *xpub;                     /* subscribers connect here */
    void *events;                   /* XPUB: interest changes, for nws-discovery */
    int lock_fd;                    /* flock on <dir>/hub.lock, -1 if none */
    char in [NWS_ENDPOINT_MAX];     /* ipc endpoint for publishers */
    char out [NWS_ENDPOINT_MAX];    /* ipc endpoint for subscribers */
    char ev [NWS_ENDPOINT_MAX];     /* ipc endpoint for interest events */
    zhashx_t *channels;             /* topic -> (void *) 1, for topics subscribed */
    zhashx_t *interest;             /* topic -> (void *) 1, channels with local clients */
    nws_hub_stats_t stats;          /* counters */
    char bound_in [S_ENDPOINTS][NWS_ENDPOINT_MAX];   /* resolved, ipc first */
    char bound_out [S_ENDPOINTS][NWS_ENDPOINT_MAX];  /* resolved, ipc first */
    int bound_in_count;             /* entries of bound_in in use */
    int bound_out_count;            /* entries of bound_out in use */
    char status_path [300];         /* <dir>/hub.json */
    int status_written;             /* we wrote hub.json (and remove it at the end) */
    int status_dirty;               /* something changed since the last write */
    int64_t status_time;            /* zclock_mono of the last write */
    int status_failed;              /* a write failed (logged once) */
};

//  ---------------------------------------------------------------------
//  Endpoints

//  Returns 1 if port is "*" or a decimal number up to 65535.
static int
s_port_valid (const char *port)
{
    if (strcmp (port, "*") == 0)
        return 1;
    size_t len = strlen (port);
    if (len == 0 || len > 5 || strspn (port, "0123456789") != len)
        return 0;
    return atoi (port) <= 65535;
}

//  Returns 1 if a tcp host (brackets already removed) is a loopback
//  address: 127.0.0.0/8, ::1 or the name localhost.
static int
s_host_loopback (const char *host, int bracketed)
{
    //  Only an IPv6 address goes in brackets.
    if (bracketed)
        return strchr (host, ':') && nws_addr_text_is_loopback (host);
    return strcmp (host, "localhost") == 0 || nws_addr_text_is_loopback (host);
}

int
nws_hub_endpoint_check (const char *endpoint, int allow_remote, char *err, size_t errlen)
{
    struct sockaddr_un addr;
    if (strlen (endpoint) >= NWS_ENDPOINT_MAX) {
        snprintf (err, errlen, "%.64s...: longer than %d bytes", endpoint, NWS_ENDPOINT_MAX - 1);
        return -EINVAL;
    }
    if (strncmp (endpoint, "ipc://", 6) == 0) {
        size_t len = strlen (endpoint + 6);
        if (len == 0 || len >= sizeof addr.sun_path) {
            snprintf (err, errlen, "%s: an ipc path must have 1 to %zu bytes",
                      endpoint, sizeof addr.sun_path - 1);
            return -EINVAL;
        }
        return 0;
    }
    if (strncmp (endpoint, "tcp://", 6) != 0) {
        snprintf (err, errlen, "%s: only ipc://PATH and tcp://HOST:PORT endpoints are supported",
                  endpoint);
        return -EINVAL;
    }
    const char *rest = endpoint + 6, *colon = strrchr (rest, ':');
    if (!colon || colon == rest || strchr (rest, ';') || !s_port_valid (colon + 1)) {
        snprintf (err, errlen, "%s: expected tcp://HOST:PORT (PORT a number or *)", endpoint);
        return -EINVAL;
    }
    char host [NWS_ENDPOINT_MAX];
    size_t len = (size_t) (colon - rest);
    int bracketed = rest [0] == '[';
    if (bracketed) {
        if (len < 3 || rest [len - 1] != ']') {
            snprintf (err, errlen, "%s: expected tcp://[IPV6]:PORT", endpoint);
            return -EINVAL;
        }
        rest++;
        len -= 2;
    }
    memcpy (host, rest, len);
    host [len] = '\0';
    if (!bracketed && strchr (host, ':')) {
        snprintf (err, errlen, "%s: write an IPv6 address in brackets, e.g. tcp://[::1]:5570",
                  endpoint);
        return -EINVAL;
    }
    if (!allow_remote && !s_host_loopback (host, bracketed)) {
        snprintf (err, errlen, "%s: not a loopback address (127.x.x.x, [::1] or localhost); "
                  "a tcp endpoint has no authentication, so other addresses need "
                  "--allow-remote", endpoint);
        return -EPERM;
    }
    return 0;
}

//  Binds sock to endpoint and writes what was bound (a tcp port 0 or *
//  resolved) into bound. libzmq binds names only as interface names, so
//  localhost is bound as 127.0.0.1; an [IPv6] host needs ZMQ_IPV6, which
//  would make an IPv4 one show as [::ffff:a.b.c.d], so it is set per bind.
static int
s_bind (void *sock, const char *endpoint, char *bound)
{
    char real [NWS_ENDPOINT_MAX + 16];
    if (strncmp (endpoint, "tcp://localhost:", 16) == 0)
        snprintf (real, sizeof real, "tcp://127.0.0.1:%s", endpoint + 16);
    else
        snprintf (real, sizeof real, "%s", endpoint);
    int ipv6 = strncmp (real, "tcp://[", 7) == 0;
    zmq_setsockopt (sock, ZMQ_IPV6, &ipv6, sizeof ipv6);
    if (zmq_bind (sock, real) < 0) {
        int err = errno;
        nws_error ("cannot bind %s: %s", endpoint, zmq_strerror (err));
        return -err;
    }
    size_t size = NWS_ENDPOINT_MAX;
    if (zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, bound, &size) < 0)
        snprintf (bound, NWS_ENDPOINT_MAX, "%.*s", NWS_ENDPOINT_MAX - 1, real);
    bound [NWS_ENDPOINT_MAX - 1] = '\0';
    return 0;
}

//  Binds the ipc endpoint, then the extra ones, recording each in bound.
static int
s_bind_all (void *sock, const char *ipc, const nws_opt_list_t *extra,
            char (*bound) [NWS_ENDPOINT_MAX], int *count)
{
    int rc = s_bind (sock, ipc, bound [0]);
    *count = rc == 0;
    for (int i = 0; rc == 0 && i < extra->count; i++) {
        rc = s_bind (sock, extra->items [i], bound [i + 1]);
        *count += rc == 0;
    }
    return rc;
}

int
nws_hub_config_check (const nws_hub_config_t *config, char *err, size_t errlen)
{
    const nws_opt_list_t *lists [2] = { &config->extra_in, &config->extra_out };
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < lists [side]->count; i++) {
            char why [300];
            int rc = nws_hub_endpoint_check (lists [side]->items [i], config->allow_remote,
                                             why, sizeof why);
            if (rc) {
                snprintf (err, errlen, "--%s %s", side ? "out" : "in", why);
                return rc;
            }
        }
    return 0;
}

//  Takes an exclusive lock so that two hubs never share a directory (the
//  second would unlink the first one's sockets). The kernel drops the lock
//  when a hub dies, so a killed hub never blocks its restart.
static int
s_lock (nws_hub_t *self)
{
    char path [300];
    snprintf (path, sizeof path, "%s/hub.lock", self->config.runtime_dir);
    self->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0) {
        nws_error ("open %s: %s", path, strerror (errno));
        return -1;
    }
    if (flock (self->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        nws_error ("another nws-hub is running on %s (%s is locked)",
                   self->config.runtime_dir, path);
        return -1;
    }
    return 0;
}

nws_hub_t *
nws_hub_new (const nws_hub_config_t *config)
{
    nws_hub_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->lock_fd = -1;
    char err [320];
    if (nws_hub_config_check (config, err, sizeof err)) {
        nws_error ("%s", err);
        goto fail;
    }
    int rc = nws_runtime_prepare (config->runtime_dir);
    if (rc) {
        nws_error ("cannot use runtime directory %s: %s", config->runtime_dir,
                   rc == -EPERM ? "it belongs to another user or others may write to it"
                                : strerror (-rc));
        goto fail;
    }
    if (nws_runtime_endpoint (config->runtime_dir, "hub-in", self->in, sizeof self->in)
    ||  nws_runtime_endpoint (config->runtime_dir, "hub-out", self->out, sizeof self->out)
    ||  nws_runtime_endpoint (config->runtime_dir, "hub-events", self->ev, sizeof self->ev)) {
        nws_error ("runtime directory path too long for a Unix socket: %s", config->runtime_dir);
        goto fail;
    }
    if (s_lock (self))
        goto fail;
    //  A hub that was killed left its hub.json: it no longer tells the truth.
    snprintf (self->status_path, sizeof self->status_path, "%s/hub.json",
              config->runtime_dir);
    unlink (self->status_path);
    self->channels = zhashx_new ();
    self->interest = zhashx_new ();
    self->zctx = zmq_ctx_new ();
    if (!self->channels || !self->interest || !self->zctx)
        goto fail;
    self->xpub = nws_hubmsg_socket (self->zctx, ZMQ_XPUB, NULL);
    self->xsub = nws_hubmsg_socket (self->zctx, ZMQ_XSUB, NULL);
    self->events = nws_hubmsg_socket (self->zctx, ZMQ_XPUB, NULL);
    if (!self->xpub || !self->xsub || !self->events)
        goto fail;
    //  Every subscription to the events socket asks for a snapshot.
    int verbose = 1;
    zmq_setsockopt (self->events, ZMQ_XPUB_VERBOSE, &verbose, sizeof verbose);
    char events_bound [NWS_ENDPOINT_MAX];
    if (s_bind_all (self->xpub, self->out, &config->extra_out,
                    self->bound_out, &self->bound_out_count)
    ||  s_bind (self->events, self->ev, events_bound))
        goto fail;
    return self;
fail:
    nws_hub_destroy (&self);
    return NULL;
}

void
nws_hub_destroy (nws_hub_t **self_p)
{
    nws_hub_t *self = *self_p;
    if (!self)
        return;
    if (self->xsub)
        zmq_close (self->xsub);
    if (self->xpub)
        zmq_close (self->xpub);
    if (self->events)
        zmq_close (self->events);
    if (self->zctx)
        zmq_ctx_term (self->zctx);
    zhashx_destroy (&self->channels);
    zhashx_destroy (&self->interest);
    if (self->status_written)
        unlink (self->status_path);
    if (self->lock_fd >= 0)
        close (self->lock_fd);
    free (self);
    *self_p = NULL;
}

const char *
nws_hub_endpoint_in (nws_hub_t *self)
{
    return self->in;
}

const char *
nws_hub_endpoint_out (nws_hub_t *self)
{
    return self->out;
}

const char *
nws_hub_endpoint_events (nws_hub_t *self)
{
    return self->ev;
}

const char *
nws_hub_bound_in (nws_hub_t *self, int index)
{
    return index >= 0 && index < self->bound_in_count ? self->bound_in [index] : NULL;
}

const char *
nws_hub_bound_out (nws_hub_t *self, int index)
{
    return index >= 0 && index < self->bound_out_count ? self->bound_out [index] : NULL;
}

const char *
nws_hub_drop_name (nws_hub_drop_t reason)
{
    return reason >= 0 && reason < NWS_HUB_DROP_REASONS ? s_drop_names [reason] : "?";
}

void
nws_hub_stats (nws_hub_t *self, nws_hub_stats_t *stats)
{
    *stats = self->stats;
    stats->channels = zhashx_size (self->channels);
    stats->interest = zhashx_size (self->interest);
}

//  ---------------------------------------------------------------------
//  hub.json

static void
s_text_endpoints (nws_text_t *text, const char *key, char (*bound) [NWS_ENDPOINT_MAX], int count)
{
    nws_text_printf (text, "\"%s\":[", key);
    for (int i = 0; i < count; i++) {
        nws_text_printf (text, i ? "," : "");
        nws_text_json_string (text, bound [i]);
    }
    nws_text_printf (text, "]");
}

//  Writes hub.json to a temporary file and renames it into place, so a
//  reader sees the old file or the new one, never a part. Returns 0 or a
//  negative errno (logged once: a full disk must not flood the log).
static int
s_status_write (nws_hub_t *self)
{
    self->status_dirty = 0;
    self->status_time = zclock_mono ();
    nws_text_t text = { 0 };
    nws_hub_stats_t stats;
    nws_hub_stats (self, &stats);
    nws_text_printf (&text, "{\"pid\":%d,\"forwarded\":%llu,\"external\":%llu,"
                     "\"dropped\":%llu,\"dropped_by_reason\":{", (int) getpid (),
                     (unsigned long long) stats.forwarded, (unsigned long long) stats.external,
                     (unsigned long long) stats.dropped);
    for (int i = 0; i < NWS_HUB_DROP_REASONS; i++)
        nws_text_printf (&text, "%s\"%s\":%llu", i ? "," : "", s_drop_names [i],
                         (unsigned long long) stats.dropped_by [i]);
    nws_text_printf (&text, "},\"channels\":%llu,\"interest\":%llu,\"endpoints\":{",
                     (unsigned long long) stats.channels, (unsigned long long) stats.interest);
    s_text_endpoints (&text, "in", self->bound_in, self->bound_in_count);
    nws_text_printf (&text, ",");
    s_text_endpoints (&text, "out", self->bound_out, self->bound_out_count);
    nws_text_printf (&text, "}}\n");

    const char *call = "format";
    int rc = text.len < S_STATUS_MAX ? nws_text_write_file (&text, self->status_path, &call)
                                     : -EFBIG;
    nws_text_free (&text);
    if (rc) {
        if (!self->status_failed)
            nws_warn ("cannot update %s (%s: %s); will retry after the next change",
                      self->status_path, call, strerror (-rc));
        self->status_failed = 1;
        return rc;
    }
    self->status_written = 1;
    self->status_failed = 0;
    return 0;
}

//  ---------------------------------------------------------------------
//  Forwarding

//  Counts a drop and logs the first ones, then one in a thousand, so
//  garbage cannot flood the log.
static void
s_drop (nws_hub_t *self, nws_hub_drop_t reason, const char *why)
{
    self->stats.dropped++;
    self->stats.dropped_by [reason]++;
    self->status_dirty = 1;
    if (self->stats.dropped <= 10 || self->stats.dropped % 1000 == 0)
        nws_warn ("dropped a malformed hub message: %s (%llu dropped so far)",
                  why, (unsigned long long) self->stats.dropped);
}

//  Sorts nws_hubmsg's reason into ours.
static nws_hub_drop_t
s_hubmsg_reason (const char *why)
{
    for (size_t i = 0; why && i < sizeof s_hubmsg_reasons / sizeof s_hubmsg_reasons [0]; i++)
        if (strcmp (why, s_hubmsg_reasons [i].why) == 0)
            return s_hubmsg_reasons [i].reason;
    return NWS_HUB_DROP_OTHER;
}

//  Forwards one message from XSUB to XPUB. Returns 0, -EAGAIN when none is
//  waiting, or another negative errno.
static int
s_forward_one (nws_hub_t *self)
{
    nws_hubmsg_t msg;
    const char *why = NULL;
    int rc = nws_hubmsg_recv (self->xsub, &msg, ZMQ_DONTWAIT, &why);
    if (rc == -EBADMSG) {
        s_drop (self, s_hubmsg_reason (why), why ? why : "malformed");
        return 0;
    }
    if (rc)
        return rc;
    if (zmq_msg_size (&msg.payload) > self->config.max_message) {
        s_drop (self, NWS_HUB_DROP_TOO_BIG, "payload larger than --max-message");
        nws_hubmsg_close (&msg);
        return 0;
    }
    //  Clients (browsers above all) drop the connection on a text frame
    //  that is not UTF-8: an outsider's raw bytes travel as binary, and a
    //  text message that lies about its bytes goes nowhere.
    if (msg.env.kind == NWS_KIND_TEXT
    &&  !nws_utf8_valid (zmq_msg_data (&msg.payload), zmq_msg_size (&msg.payload))) {
        if (!msg.external) {
            s_drop (self, NWS_HUB_DROP_NOT_UTF8, "text payload is not valid UTF-8");
            nws_hubmsg_close (&msg);
            return 0;
        }
        msg.env.kind = NWS_KIND_BINARY;
    }
    uint8_t header [NWS_ENVELOPE_SIZE];
    nws_envelope_encode (&msg.env, header);
    //  XPUB never blocks or fails here without NODROP: a subscriber at its
    //  high-water mark loses the message, and its gateway sees the gap.
    //  A signal can interrupt any frame: retry, or the message would be
    //  sent in part and the next one glued to it.
    while (zmq_msg_send (&msg.topic, self->xpub, ZMQ_SNDMORE) < 0 && errno == EINTR)
        ;
    while (zmq_send (self->xpub, header, sizeof header, ZMQ_SNDMORE) < 0 && errno == EINTR)
        ;
    while (zmq_msg_send (&msg.payload, self->xpub, 0) < 0 && errno == EINTR)
        ;
    self->stats.forwarded++;
    self->stats.external += msg.external;
    self->status_dirty = 1;
    nws_hubmsg_close (&msg);
    return 0;
}

static void
s_event (nws_hub_t *self, char sign, const char *topic)
{
    char line [NWS_TOPIC_MAX + 2];
    int n = snprintf (line, sizeof line, "%c%s", sign, topic);
    zmq_send (self->events, line, (size_t) n, ZMQ_DONTWAIT);
}

//  Tracks a channel topic or an interest marker coming or going.
static void
s_track (nws_hub_t *self, int subscribe, const uint8_t *data, size_t size)
{
    nws_channel_t channel;
    zhashx_t *set;
    size_t topic_len = size;
    if (nws_channel_from_topic (data, size, &channel) == 0)
        set = self->channels;
    else
    if (nws_channel_from_interest (data, size, &channel) == 0) {
        set = self->interest;
        topic_len = size - 1;
    }
    else
        return;                     //  a tap's wider prefix: nothing to track
    char topic [NWS_TOPIC_MAX + 1];
    memcpy (topic, data, topic_len);
    topic [topic_len] = '\0';
    int known = zhashx_lookup (set, topic) != NULL;
    if (subscribe && !known)
        zhashx_insert (set, topic, (void *) 1);
    else
    if (!subscribe && known)
        zhashx_delete (set, topic);
    else
        return;
    self->status_dirty = 1;
    nws_debug ("%s %s%s (%zu channels in use, %zu with local interest)",
               subscribe ? "subscribe" : "unsubscribe", topic,
               set == self->interest ? " (interest)" : "",
               zhashx_size (self->channels), zhashx_size (self->interest));
    if (set == self->interest)
        s_event (self, subscribe ? '+' : '-', topic);
}

//  Reads one subscription event from XPUB and updates the channel sets.
static int
s_subscription_one (nws_hub_t *self)
{
    zmq_msg_t event;
    zmq_msg_init (&event);
    if (zmq_msg_recv (&event, self->xpub, ZMQ_DONTWAIT) < 0) {
        int err = errno;
        zmq_msg_close (&event);
        return -err;
    }
    const uint8_t *data = zmq_msg_data (&event);
    size_t size = zmq_msg_size (&event);
    if (size >= 1 && (data [0] == 0 || data [0] == 1))
        s_track (self, data [0], data + 1, size - 1);
    zmq_msg_close (&event);
    return 0;
}

//  Someone subscribed to the events socket: send the whole interest set,
//  after a reset line, so a (re)started discovery starts from the truth.
static int
s_events_one (nws_hub_t *self)
{
    zmq_msg_t request;
    zmq_msg_init (&request);
    if (zmq_msg_recv (&request, self->events, ZMQ_DONTWAIT) < 0) {
        int err = errno;
        zmq_msg_close (&request);
        return -err;
    }
    int subscribe = zmq_msg_size (&request) >= 1 && *(uint8_t *) zmq_msg_data (&request) == 1;
    zmq_msg_close (&request);
    if (subscribe) {
        zmq_send (self->events, "*", 1, ZMQ_DONTWAIT);
        for (void *it = zhashx_first (self->interest); it; it = zhashx_next (self->interest))
            s_event (self, '+', zhashx_cursor (self->interest));
    }
    return 0;
}

//  Drains up to S_BATCH messages from one side. Returns 0 or a fatal errno.
static int
s_drain (nws_hub_t *self, int (*one) (nws_hub_t *))
{
    for (int i = 0; i < S_BATCH; i++) {
        int rc = one (self);
        if (rc == -EAGAIN)
            return 0;
        if (rc == -EINTR)
            return 0;
        if (rc)
            return rc;
    }
    return 0;
}

//  Lets subscribers come back before publishers are accepted: after a hub
//  restart the gateways reconnect within their reconnect interval, and a
//  message forwarded before their subscriptions arrive would be lost.
static void
s_grace (nws_hub_t *self, volatile sig_atomic_t *stop)
{
    int64_t deadline = zclock_mono () + (int64_t) self->config.grace_ms;
    while (!*stop) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        zmq_pollitem_t item = { self->xpub, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) left) > 0)
            s_drain (self, s_subscription_one);
    }
}

int
nws_hub_run (nws_hub_t *self, volatile sig_atomic_t *stop,
             void (*ready) (nws_hub_t *self, void *arg), void *arg)
{
    s_grace (self, stop);
    int rc = s_bind_all (self->xsub, self->in, &self->config.extra_in,
                         self->bound_in, &self->bound_in_count);
    if (rc)
        return rc;
    //  Subscribe to everything upstream; XSUB re-sends this to every
    //  publisher that connects later.
    uint8_t all = 1;
    if (zmq_send (self->xsub, &all, 1, 0) < 0) {
        nws_error ("zmq_send (subscribe all): %s", zmq_strerror (errno));
        return -errno;
    }
    s_status_write (self);
    if (ready)
        ready (self, arg);
    while (!*stop) {
        zmq_pollitem_t items [] = {
            { self->xsub, 0, ZMQ_POLLIN, 0 },
            { self->xpub, 0, ZMQ_POLLIN, 0 },
            { self->events, 0, ZMQ_POLLIN, 0 },
        };
        //  Wake up for a due hub.json update; otherwise at least once a
        //  second, in case a signal came just before zmq_poll.
        long timeout = 1000;
        if (self->status_dirty) {
            int64_t due = self->status_time + S_STATUS_MS - zclock_mono ();
            timeout = due <= 0 ? 0 : due < timeout ? (long) due : timeout;
        }
        rc = zmq_poll (items, 3, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            nws_error ("zmq_poll: %s", zmq_strerror (errno));
            return -errno;
        }
        if (items [1].revents & ZMQ_POLLIN)
            rc = s_drain (self, s_subscription_one);
        if (rc >= 0 && items [2].revents & ZMQ_POLLIN)
            rc = s_drain (self, s_events_one);
        if (rc >= 0 && items [0].revents & ZMQ_POLLIN)
            rc = s_drain (self, s_forward_one);
        if (rc < 0) {
            nws_error ("hub socket failed: %s", zmq_strerror (-rc));
            return rc;
        }
        if (self->status_dirty && zclock_mono () >= self->status_time + S_STATUS_MS)
            s_status_write (self);
    }
    return 0;
}
