/*  nws_hub - the broker between publishers (XSUB) and subscribers (XPUB).  */
#include "nws_hub.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <zmq.h>

#include "nws_hubmsg.h"
#include "nws_limits.h"
#include "nws_log.h"
#include "nws_runtime.h"
#include "nws_utf8.h"

#define S_BATCH 256                 /* messages forwarded per poll wake-up and side */

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
};

static void *
s_socket (nws_hub_t *self, int type)
{
    void *sock = zmq_socket (self->zctx, type);
    if (!sock) {
        nws_error ("zmq_socket: %s", zmq_strerror (errno));
        return NULL;
    }
    int hwm = NWS_HUB_HWM, linger = 0;
    zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    return sock;
}

static int
s_bind (void *sock, const char *endpoint)
{
    if (zmq_bind (sock, endpoint) == 0)
        return 0;
    int err = errno;
    nws_error ("cannot bind %s: %s", endpoint, zmq_strerror (err));
    return -err;
}

static int
s_bind_all (void *sock, const char *ipc, const nws_opt_list_t *extra)
{
    int rc = s_bind (sock, ipc);
    for (int i = 0; rc == 0 && i < extra->count; i++)
        rc = s_bind (sock, extra->items [i]);
    return rc;
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
    self->channels = zhashx_new ();
    self->interest = zhashx_new ();
    self->zctx = zmq_ctx_new ();
    if (!self->channels || !self->interest || !self->zctx)
        goto fail;
    self->xpub = s_socket (self, ZMQ_XPUB);
    self->xsub = s_socket (self, ZMQ_XSUB);
    self->events = s_socket (self, ZMQ_XPUB);
    if (!self->xpub || !self->xsub || !self->events)
        goto fail;
    //  Every subscription to the events socket asks for a snapshot.
    int verbose = 1;
    zmq_setsockopt (self->events, ZMQ_XPUB_VERBOSE, &verbose, sizeof verbose);
    if (s_bind_all (self->xpub, self->out, &config->extra_out)
    ||  s_bind (self->events, self->ev))
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

void
nws_hub_stats (nws_hub_t *self, nws_hub_stats_t *stats)
{
    *stats = self->stats;
    stats->channels = zhashx_size (self->channels);
}

//  Logs the first drops, then one in a thousand, so garbage cannot flood
//  the log.
static void
s_drop (nws_hub_t *self, const char *why)
{
    self->stats.dropped++;
    if (self->stats.dropped <= 10 || self->stats.dropped % 1000 == 0)
        nws_warn ("dropped a malformed hub message: %s (%llu dropped so far)",
                  why, (unsigned long long) self->stats.dropped);
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
        s_drop (self, why);
        return 0;
    }
    if (rc)
        return rc;
    if (zmq_msg_size (&msg.payload) > self->config.max_message) {
        s_drop (self, "payload larger than --max-message");
        nws_hubmsg_close (&msg);
        return 0;
    }
    //  Clients (browsers above all) drop the connection on a text frame
    //  that is not UTF-8: an outsider's raw bytes travel as binary, and a
    //  text message that lies about its bytes goes nowhere.
    if (msg.env.kind == NWS_KIND_TEXT
    &&  !nws_utf8_valid (zmq_msg_data (&msg.payload), zmq_msg_size (&msg.payload))) {
        if (!msg.external) {
            s_drop (self, "text payload is not valid UTF-8");
            nws_hubmsg_close (&msg);
            return 0;
        }
        msg.env.kind = NWS_KIND_BINARY;
    }
    uint8_t header [NWS_ENVELOPE_SIZE];
    nws_envelope_encode (&msg.env, header);
    //  XPUB never blocks or fails here without NODROP: a subscriber at its
    //  high-water mark loses the message, and its gateway sees the gap.
    zmq_msg_send (&msg.topic, self->xpub, ZMQ_SNDMORE);
    zmq_send (self->xpub, header, sizeof header, ZMQ_SNDMORE);
    zmq_msg_send (&msg.payload, self->xpub, 0);
    self->stats.forwarded++;
    self->stats.external += msg.external;
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
    if (s_bind_all (self->xsub, self->in, &self->config.extra_in))
        return -EADDRINUSE;
    //  Subscribe to everything upstream; XSUB re-sends this to every
    //  publisher that connects later.
    uint8_t all = 1;
    if (zmq_send (self->xsub, &all, 1, 0) < 0) {
        nws_error ("zmq_send (subscribe all): %s", zmq_strerror (errno));
        return -errno;
    }
    if (ready)
        ready (self, arg);
    while (!*stop) {
        zmq_pollitem_t items [] = {
            { self->xsub, 0, ZMQ_POLLIN, 0 },
            { self->xpub, 0, ZMQ_POLLIN, 0 },
            { self->events, 0, ZMQ_POLLIN, 0 },
        };
        int rc = zmq_poll (items, 3, 1000);
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
    }
    return 0;
}
