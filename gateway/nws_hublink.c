/*  nws_hublink - a gateway's PUB and SUB sockets on the hub.  */
#include "nws_hublink.h"

#include <czmq.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "nws_limits.h"
#include "nws_log.h"
#include "nws_runtime.h"

#define S_BATCH 4096                /* messages per drain before yielding to lws */

struct nws_hublink_t {
    void *zctx;                     /* libzmq context */
    void *pub;                      /* to the hub's XSUB */
    void *sub;                      /* from the hub's XPUB */
    void *monitor;                  /* PUB's handshake events */
    uint32_t instance;              /* our origin id */
    nws_hublink_fn *handler;        /* gets foreign messages */
    void *arg;                      /* for handler */
    struct lws_context *context;    /* for the drain timer, once attached */
    lws_sorted_usec_list_t sul;     /* continues a drain cut at S_BATCH */
    nws_hublink_sync_fn *on_sync;   /* gets our syncs back */
    uint64_t sync_seq;              /* numbers our sync messages */
    int hub_quiet;                  /* a sync timed out and nothing came since */
    nws_hublink_stats_t stats;      /* counters */
};

nws_hublink_t *
nws_hublink_new (const char *runtime_dir, uint32_t instance,
                 nws_hublink_fn *handler, nws_hublink_sync_fn *on_sync, void *arg)
{
    char in [NWS_ENDPOINT_MAX], out [NWS_ENDPOINT_MAX];
    if (nws_runtime_endpoint (runtime_dir, "hub-in", in, sizeof in)
    ||  nws_runtime_endpoint (runtime_dir, "hub-out", out, sizeof out)) {
        nws_error ("runtime directory path too long for a Unix socket: %s", runtime_dir);
        return NULL;
    }
    nws_hublink_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->instance = instance;
    self->handler = handler;
    self->on_sync = on_sync;
    self->arg = arg;
    self->zctx = zmq_ctx_new ();
    if (!self->zctx)
        goto fail;
    self->pub = nws_hubmsg_socket (self->zctx, ZMQ_PUB, in);
    self->sub = nws_hubmsg_socket (self->zctx, ZMQ_SUB, out);
    if (!self->pub || !self->sub)
        goto fail;
    //  libzmq reconnects silently; its monitor is how we learn that a hub
    //  came (back), so that the gateway can repeat what a dead hub lost.
    if (zmq_socket_monitor (self->pub, "inproc://hublink-monitor",
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED) < 0)
        goto fail;
    self->monitor = zmq_socket (self->zctx, ZMQ_PAIR);
    if (!self->monitor || zmq_connect (self->monitor, "inproc://hublink-monitor") < 0)
        goto fail;
    return self;
fail:
    nws_hublink_destroy (&self);
    return NULL;
}

void
nws_hublink_destroy (nws_hublink_t **self_p)
{
    nws_hublink_t *self = *self_p;
    if (!self)
        return;
    if (self->context)
        lws_sul_cancel (&self->sul);
    if (self->monitor)
        zmq_close (self->monitor);
    if (self->pub) {
        zmq_socket_monitor (self->pub, NULL, 0);
        zmq_close (self->pub);
    }
    if (self->sub)
        zmq_close (self->sub);
    if (self->zctx)
        zmq_ctx_term (self->zctx);
    free (self);
    *self_p = NULL;
}

//  1 for the controls the gateway acts on: "lost", and marks (with or
//  without an age).
static int
s_control_known (nws_hubmsg_t *msg)
{
    const void *payload = zmq_msg_data (&msg->payload);
    size_t len = zmq_msg_size (&msg->payload);
    uint64_t last, first;
    if (len == 4 && memcmp (payload, NWS_CONTROL_LOST, 4) == 0)
        return 1;
    int rc = nws_control_mark_age (payload, len, &last, &first);
    return rc == 0 || rc == -ENOENT;
}

//  Sorts one received message: confirmations, our own echoes, the rest.
static void
s_take (nws_hublink_t *self, nws_hubmsg_t *msg)
{
    self->hub_quiet = 0;
    uint32_t from = (uint32_t) (msg->env.origin >> 32);
    if (msg->env.flags & NWS_FLAG_CONTROL) {
        //  Syncs are empty (marks are not); only our own confirm anything.
        if (from == self->instance && zmq_msg_size (&msg->payload) == 0)
            self->on_sync (self->arg, zmq_msg_data (&msg->topic), zmq_msg_size (&msg->topic),
                           msg->env.seq);
        else
        if (from != self->instance && s_control_known (msg))
            self->handler (self->arg, msg);
        return;
    }
    if (from == self->instance && !msg->external) {
        self->stats.own++;
        return;
    }
    self->handler (self->arg, msg);
}

//  Reads up to limit messages. Returns 1 if the socket may hold more.
static int
s_drain (nws_hublink_t *self, int limit)
{
    for (int i = 0; i < limit; i++) {
        nws_hubmsg_t msg;
        const char *why = NULL;
        int rc = nws_hubmsg_recv (self->sub, &msg, ZMQ_DONTWAIT, &why);
        if (rc == -EBADMSG) {
            if (++self->stats.malformed <= 10)
                nws_warn ("dropped a malformed hub message: %s", why);
            continue;
        }
        if (rc == -EAGAIN)
            return 0;
        if (rc) {
            nws_error ("zmq_recv from hub: %s", zmq_strerror (-rc));
            return 0;
        }
        self->stats.received++;
        s_take (self, &msg);
        nws_hubmsg_close (&msg);
    }
    return 1;
}

static void
s_on_timer (lws_sorted_usec_list_t *sul)
{
    nws_hublink_readable (lws_container_of (sul, nws_hublink_t, sul));
}

void
nws_hublink_readable (nws_hublink_t *self)
{
    //  ZMQ_FD fires only on edges: stop only when the socket is empty, and
    //  if the batch ran out first, come back from a zero-delay timer.
    if (s_drain (self, S_BATCH) && self->context)
        lws_sul_schedule (self->context, 0, &self->sul, s_on_timer, 1);
}

int
nws_hublink_attach (nws_hublink_t *self, struct lws_vhost *vhost, const char *protocol)
{
    lws_sock_file_fd_type copy = { .filefd = nws_hubmsg_fd (self->sub) };
    if (copy.filefd < 0)
        return -1;
    struct lws *wsi = lws_adopt_descriptor_vhost (vhost, LWS_ADOPT_RAW_FILE_DESC,
                                                  copy, protocol, NULL);
    if (!wsi) {
        nws_error ("cannot adopt the hub socket into lws");
        return -1;
    }
    self->context = lws_get_context (wsi);
    nws_hublink_readable (self);
    return 0;
}

int
nws_hublink_subscribe (nws_hublink_t *self, const char *topic, size_t len)
{
    return nws_hublink_mark (self, topic, len, 1);
}

uint64_t
nws_hublink_sync (nws_hublink_t *self, const char *topic, size_t len)
{
    nws_envelope_t env = {
        .kind = NWS_KIND_BINARY,
        .flags = NWS_FLAG_CONTROL,
        .origin = (uint64_t) self->instance << 32,
        .seq = ++self->sync_seq,
    };
    nws_hubmsg_send (self->pub, topic, len, &env, "", 0);
    return env.seq;
}

int
nws_hublink_quiet (nws_hublink_t *self)
{
    return self->hub_quiet;
}

void
nws_hublink_timed_out (nws_hublink_t *self)
{
    self->stats.sync_timeouts++;
    self->hub_quiet = 1;
}

int
nws_hublink_mark (nws_hublink_t *self, const char *prefix, size_t len, int on)
{
    int rc = zmq_setsockopt (self->sub, on ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, prefix, len);
    rc = rc < 0 ? -errno : 0;
    //  Setting an option can consume the ZMQ_FD edge: drain now.
    nws_hublink_readable (self);
    return rc;
}

int
nws_hublink_unsubscribe (nws_hublink_t *self, const char *topic, size_t len)
{
    return nws_hublink_mark (self, topic, len, 0);
}

int
nws_hublink_publish (nws_hublink_t *self, const char *topic, size_t topic_len,
                     const nws_envelope_t *env, const void *payload, size_t len)
{
    int rc = nws_hubmsg_send (self->pub, topic, topic_len, env, payload, len);
    if (rc == 0)
        self->stats.published++;
    else
        self->stats.publish_failed++;
    return rc;
}

int
nws_hublink_connects (nws_hublink_t *self)
{
    int events = 0;
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    //  Each event is two frames: id and value, then the endpoint.
    while (zmq_msg_recv (&frame, self->monitor, ZMQ_DONTWAIT) >= 0)
        if (!zmq_msg_more (&frame))
            events++;
    zmq_msg_close (&frame);
    self->stats.connects += (uint64_t) events;
    return events;
}

void
nws_hublink_stats (nws_hublink_t *self, nws_hublink_stats_t *stats)
{
    *stats = self->stats;
}
