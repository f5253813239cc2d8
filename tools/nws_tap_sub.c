/*  nws_tap_sub - a subscriber on the hub's XPUB endpoint, for nws-tap.  */
#include "nws_tap_sub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nws_limits.h"
#include "nws_log.h"
#include "nws_tap_pub.h"

#define S_PROBE_MS 20               /* between confirmation probes */
#define S_ORIGINS 256               /* origins whose sequence is followed */

typedef struct {
    uint64_t origin;                /* instance << 32 | connection */
    uint64_t seq;                   /* last sequence number seen */
    uint64_t used;                  /* clock of the last use; 0 = free */
} s_origin_t;

struct nws_tap_sub_t {
    void *zctx;                     /* libzmq context, ours */
    void *sub;                      /* SUB, connected to the hub's XPUB */
    nws_tap_pub_t *probe;           /* confirms the subscriptions; NULL when done or unable */
    char probe_topic [NWS_TOPIC_MAX + 1];  /* "local/.nws-tap-<instance>/" */
    size_t probe_len;               /* its length */
    int64_t probe_due;              /* monotonic ms of the next probe */
    int confirmed;                  /* a probe came back */
    uint64_t malformed;             /* non-hub messages dropped */
    s_origin_t origins [S_ORIGINS]; /* sequence followers, least recently used replaced */
    uint64_t clock;                 /* counts messages, for s_origin_t.used */
};

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

nws_tap_sub_t *
nws_tap_sub_new (const char *out, const char *in,
                 const char *const *topics, const size_t *lens, int count)
{
    nws_tap_sub_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->zctx = zmq_ctx_new ();
    self->sub = self->zctx ? zmq_socket (self->zctx, ZMQ_SUB) : NULL;
    if (!self->sub) {
        nws_error ("zmq_socket: %s", zmq_strerror (errno));
        goto fail;
    }
    int hwm = NWS_HUB_HWM, linger = 0, ivl = 20, ivl_max = NWS_HUB_RECONNECT_MAX_MS;
    zmq_setsockopt (self->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (self->sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->sub, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt (self->sub, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    for (int i = 0; i < count; i++)
        zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, topics [i], lens [i]);
    if (count == 0)
        zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_connect (self->sub, out) < 0) {
        nws_error ("cannot connect to %s: %s", out, zmq_strerror (errno));
        goto fail;
    }
    if (in) {
        self->probe = nws_tap_pub_new (in, 0);
        if (!self->probe)
            goto fail;
        //  The probe topic names our instance, so no two taps share it;
        //  it is subscribed last, so it is confirmed last.
        uint32_t instance = (uint32_t) (nws_tap_pub_origin (self->probe, 1) >> 32);
        self->probe_len = (size_t) snprintf (self->probe_topic, sizeof self->probe_topic,
                                             "local/.nws-tap-%08x/", instance);
        zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, self->probe_topic, self->probe_len);
    }
    return self;
fail:
    nws_tap_sub_destroy (&self);
    return NULL;
}

void
nws_tap_sub_destroy (nws_tap_sub_t **self_p)
{
    nws_tap_sub_t *self = *self_p;
    if (!self)
        return;
    nws_tap_pub_destroy (&self->probe);
    if (self->sub)
        zmq_close (self->sub);
    if (self->zctx)
        zmq_ctx_term (self->zctx);
    free (self);
    *self_p = NULL;
}

int
nws_tap_sub_pollitems (nws_tap_sub_t *self, zmq_pollitem_t *items, long *timeout_ms)
{
    items [0] = (zmq_pollitem_t) { self->sub, 0, ZMQ_POLLIN, 0 };
    *timeout_ms = -1;
    if (!self->probe)
        return 1;
    items [1] = (zmq_pollitem_t) { nws_tap_pub_socket (self->probe), 0, ZMQ_POLLIN, 0 };
    if (nws_tap_pub_connected (self->probe)) {
        int64_t due = self->probe_due - s_now_ms ();
        *timeout_ms = due < 0 ? 0 : (long) due;
    }
    return 2;
}

//  Sends a probe when one is due and the hub takes our messages.
static void
s_probe (nws_tap_sub_t *self)
{
    static volatile sig_atomic_t never = 0;
    if (!self->probe || !nws_tap_pub_connected (self->probe))
        return;
    int64_t now = s_now_ms ();
    if (now < self->probe_due)
        return;
    self->probe_due = now + S_PROBE_MS;
    nws_tap_pub_send (self->probe, self->probe_topic, self->probe_len, NWS_KIND_BINARY,
                      NWS_FLAG_CONTROL, "", 0, &never);
}

//  A control message: ours coming back confirms the subscriptions.
static void
s_control (nws_tap_sub_t *self, nws_hubmsg_t *msg)
{
    if (!self->probe || msg->env.origin != nws_tap_pub_origin (self->probe, 1)
    ||  zmq_msg_size (&msg->topic) != self->probe_len
    ||  memcmp (zmq_msg_data (&msg->topic), self->probe_topic, self->probe_len) != 0)
        return;
    self->confirmed = 1;
    zmq_setsockopt (self->sub, ZMQ_UNSUBSCRIBE, self->probe_topic, self->probe_len);
    nws_tap_pub_destroy (&self->probe);
}

//  Follows origin's sequence; returns how many messages are missing
//  before seq (0 for the first one seen, or one seen out of order).
static uint64_t
s_track (nws_tap_sub_t *self, uint64_t origin, uint64_t seq)
{
    if (seq == 0)
        return 0;                   //  unsequenced (an outside publisher)
    self->clock++;
    int oldest = 0;
    for (int i = 0; i < S_ORIGINS; i++) {
        s_origin_t *o = &self->origins [i];
        if (o->used && o->origin == origin) {
            uint64_t lost = seq > o->seq + 1 ? seq - o->seq - 1 : 0;
            o->seq = seq;
            o->used = self->clock;
            return lost;
        }
        if (o->used < self->origins [oldest].used)
            oldest = i;
    }
    self->origins [oldest] = (s_origin_t) { origin, seq, self->clock };
    return 0;
}

int
nws_tap_sub_next (nws_tap_sub_t *self, nws_hubmsg_t *msg, uint64_t *lost)
{
    s_probe (self);
    while (1) {
        const char *why = NULL;
        int rc = nws_hubmsg_recv (self->sub, msg, ZMQ_DONTWAIT, &why);
        if (rc == -EBADMSG) {
            if (++self->malformed <= 10)
                nws_warn ("ignored a message that is not a hub message: %s", why);
            continue;
        }
        if (rc)
            return rc;
        if (msg->env.flags & NWS_FLAG_CONTROL) {
            s_control (self, msg);
            nws_hubmsg_close (msg);
            continue;
        }
        *lost = s_track (self, msg->env.origin, msg->env.seq);
        return 0;
    }
}

int
nws_tap_sub_confirmed (nws_tap_sub_t *self)
{
    return self->confirmed;
}

uint64_t
nws_tap_sub_malformed (nws_tap_sub_t *self)
{
    return self->malformed;
}
