/*  nws_tap_pub - a publisher on the hub's XSUB endpoint, for nws-tap.

    It connects an XPUB socket (not a PUB) to the hub: the hub's XSUB
    subscribes to everything on every publisher it accepts, and an XPUB
    receives that subscription. So the publisher knows for certain when the
    hub will take its messages (nws_tap_pub_connected), where a PUB would
    silently drop what it sent before the connection and subscription were
    in place. With ZMQ_XPUB_NODROP a full pipe makes a send wait instead of
    dropping; the socket lingers up to linger_ms at destroy so that what
    was queued still reaches the hub.

    After that first subscription, a hub restart loses nothing sent
    meanwhile: a connecting libzmq socket keeps its pipe (and the hub's
    subscription on it) across reconnects, so messages wait in the pipe,
    up to the high-water mark, and go to the new hub once it accepts
    publishers. Only what the old hub had already taken is lost.

    Messages are 3-frame hub messages: origin = a random non-zero 32-bit
    instance id << 32 | 1, sequence numbers from 1. Control messages (flag
    NWS_FLAG_CONTROL) use connection 0 and a sequence of their own, as a
    gateway's do, so they never break the data sequence.

    One thread; the object owns its zmq context.
*/
#ifndef NWS_TAP_PUB_H
#define NWS_TAP_PUB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nws_tap_pub_t nws_tap_pub_t;

/*  Connects to endpoint (e.g. ipc://<dir>/hub-in). Returns NULL after
    logging why (a malformed endpoint, no memory).  */
nws_tap_pub_t *nws_tap_pub_new (const char *endpoint, int linger_ms);

/*  Lingers (see above), closes the socket and frees. Safe on NULL and
    twice.  */
void nws_tap_pub_destroy (nws_tap_pub_t **self_p);

/*  The XPUB socket, to poll for ZMQ_POLLIN while waiting for the hub.  */
void *nws_tap_pub_socket (nws_tap_pub_t *self);

/*  Reads what the hub sent (its subscription) without blocking. Returns 1
    once the hub has subscribed (and stays 1, see above), else 0.  */
int nws_tap_pub_connected (nws_tap_pub_t *self);

/*  Waits up to timeout_ms (negative: forever) for the hub. Returns 0,
    -ETIMEDOUT, or -EINTR when *stop was set.  */
int nws_tap_pub_wait (nws_tap_pub_t *self, int64_t timeout_ms, volatile sig_atomic_t *stop);

/*  Sends [topic][envelope][payload] with the given kind and flags (0 or
    NWS_FLAG_CONTROL), waiting while the pipe to the hub is full. Returns
    0, -EINTR when *stop was set while waiting, or another negative errno.  */
int nws_tap_pub_send (nws_tap_pub_t *self, const void *topic, size_t topic_len,
                      int kind, int flags, const void *payload, size_t len,
                      volatile sig_atomic_t *stop);

/*  The origin its data (control 0) or control (control 1) messages carry.  */
uint64_t nws_tap_pub_origin (nws_tap_pub_t *self, int control);

#endif
