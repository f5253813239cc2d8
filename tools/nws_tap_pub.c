/*  nws_tap_pub - a publisher on the hub's XSUB endpoint, for nws-tap.  */
#include "nws_tap_pub.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "nws_envelope.h"
#include "nws_hubmsg.h"
#include "nws_limits.h"
#include "nws_log.h"
#include "nws_runtime.h"

#define S_FULL_WAIT_MS 1            /* pause before retrying a send into a full pipe */
#define S_POLL_MS 200               /* longest wait before *stop is looked at again */

struct nws_tap_pub_t {
    void *zctx;                     /* libzmq context, ours */
    void *sock;                     /* XPUB, connected to the hub's XSUB */
    uint32_t instance;              /* random, non-zero: high half of our origins */
    uint64_t seq;                   /* last data sequence number sent */
    uint64_t control_seq;           /* last control sequence number sent */
    int connected;                  /* the hub's subscription has arrived */
};

//  A random non-zero instance id, so that two taps (or a tap and a
//  gateway) practically never share an origin.
nws_tap_pub_t *
nws_tap_pub_new (const char *endpoint, int linger_ms)
{
    nws_tap_pub_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->instance = nws_runtime_random_id ();
    self->zctx = zmq_ctx_new ();
    self->sock = self->zctx ? zmq_socket (self->zctx, ZMQ_XPUB) : NULL;
    if (!self->sock) {
        nws_error ("zmq_socket: %s", zmq_strerror (errno));
        goto fail;
    }
    int hwm = NWS_HUB_HWM, nodrop = 1, ivl = 20, ivl_max = NWS_HUB_RECONNECT_MAX_MS;
    zmq_setsockopt (self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (self->sock, ZMQ_XPUB_NODROP, &nodrop, sizeof nodrop);
    zmq_setsockopt (self->sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_setsockopt (self->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt (self->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    if (zmq_connect (self->sock, endpoint) < 0) {
        nws_error ("cannot connect to %s: %s", endpoint, zmq_strerror (errno));
        goto fail;
    }
    return self;
fail:
    nws_tap_pub_destroy (&self);
    return NULL;
}

void
nws_tap_pub_destroy (nws_tap_pub_t **self_p)
{
    nws_tap_pub_t *self = *self_p;
    if (!self)
        return;
    if (self->sock)
        zmq_close (self->sock);
    if (self->zctx)
        zmq_ctx_term (self->zctx);      //  waits for the linger
    free (self);
    *self_p = NULL;
}

void *
nws_tap_pub_socket (nws_tap_pub_t *self)
{
    return self->sock;
}

int
nws_tap_pub_connected (nws_tap_pub_t *self)
{
    //  The hub's "\x01" (subscribe to everything) arrives once: after a
    //  reconnect libzmq keeps the same pipe and subscription, and does not
    //  repeat it.
    zmq_msg_t sub;
    zmq_msg_init (&sub);
    while (zmq_msg_recv (&sub, self->sock, ZMQ_DONTWAIT) >= 0)
        if (zmq_msg_size (&sub) >= 1 && *(uint8_t *) zmq_msg_data (&sub) == 1)
            self->connected = 1;
    zmq_msg_close (&sub);
    return self->connected;
}

int
nws_tap_pub_wait (nws_tap_pub_t *self, int64_t timeout_ms, volatile sig_atomic_t *stop)
{
    struct timespec start, now;
    clock_gettime (CLOCK_MONOTONIC, &start);
    while (!nws_tap_pub_connected (self)) {
        if (*stop)
            return -EINTR;
        clock_gettime (CLOCK_MONOTONIC, &now);
        int64_t spent = (now.tv_sec - start.tv_sec) * 1000
                      + (now.tv_nsec - start.tv_nsec) / 1000000;
        long wait = S_POLL_MS;
        if (timeout_ms >= 0) {
            if (spent >= timeout_ms)
                return -ETIMEDOUT;
            if (timeout_ms - spent < wait)
                wait = (long) (timeout_ms - spent);
        }
        zmq_pollitem_t item = { self->sock, 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, wait);
    }
    return 0;
}

int
nws_tap_pub_send (nws_tap_pub_t *self, const void *topic, size_t topic_len,
                  int kind, int flags, const void *payload, size_t len,
                  volatile sig_atomic_t *stop)
{
    int control = (flags & NWS_FLAG_CONTROL) != 0;
    nws_envelope_t env = {
        .kind = (uint8_t) kind,
        .flags = (uint8_t) flags,
        .origin = nws_tap_pub_origin (self, control),
        .seq = (control ? self->control_seq : self->seq) + 1,
    };
    while (1) {
        int rc = nws_hubmsg_send (self->sock, topic, topic_len, &env, payload, len);
        if (rc == 0)
            break;
        if (rc != -EAGAIN)
            return rc;
        //  XPUB reports POLLOUT even when full: there is nothing to poll
        //  for, so wait a little and try again.
        if (*stop)
            return -EINTR;
        zmq_poll (NULL, 0, S_FULL_WAIT_MS);
        nws_tap_pub_connected (self);
    }
    if (control)
        self->control_seq++;
    else
        self->seq++;
    return 0;
}

uint64_t
nws_tap_pub_origin (nws_tap_pub_t *self, int control)
{
    return (uint64_t) self->instance << 32 | (control ? 0 : 1);
}
