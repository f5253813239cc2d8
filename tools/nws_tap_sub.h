/*  nws_tap_sub - a subscriber on the hub's XPUB endpoint, for nws-tap.

    A SUB socket cannot tell when its subscriptions have reached the
    publisher; a message published before that is not delivered. So, when
    it knows the hub's publisher endpoint too, a subscriber confirms its
    subscriptions the way a gateway does: after subscribing to its topics
    it subscribes to a private topic "local/.nws-tap-<instance>/" and
    publishes control messages there (nws_tap_pub) until one comes back.
    Subscriptions travel in order over one connection, so once the last one
    works, all do (nws_tap_sub_confirmed). Then the private topic is
    dropped. Messages that arrive before that are delivered all the same.

    nws_tap_sub_next hands out data messages only: control messages are
    consumed, malformed ones counted. It also follows each origin's
    sequence numbers and says how many messages were lost before the one
    it returns (the hub drops for a subscriber that falls a million
    messages behind).

    One thread; the object owns its zmq context.
*/
#ifndef NWS_TAP_SUB_H
#define NWS_TAP_SUB_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "nws_hubmsg.h"

typedef struct nws_tap_sub_t nws_tap_sub_t;

/*  Connects to out (the hub's XPUB endpoint) and subscribes to the count
    topics (count 0: everything). With in (the hub's XSUB endpoint) not
    NULL, also starts confirming the subscriptions. Returns NULL after
    logging why.  */
nws_tap_sub_t *nws_tap_sub_new (const char *out, const char *in,
                                const char *const *topics, const size_t *lens, int count);

/*  Closes the sockets and frees. Safe on NULL and twice.  */
void nws_tap_sub_destroy (nws_tap_sub_t **self_p);

/*  Fills up to 2 poll items (ZMQ_POLLIN) and returns how many; sets
    *timeout_ms to when nws_tap_sub_next should run again even without
    input (-1: no need).  */
int nws_tap_sub_pollitems (nws_tap_sub_t *self, zmq_pollitem_t *items, long *timeout_ms);

/*  Does due work (confirmation) and returns the next data message without
    blocking: 0 with *msg filled (nws_hubmsg_close it) and *lost set to
    the number of messages of its origin missed just before it; -EAGAIN
    when none is waiting; or another negative errno.  */
int nws_tap_sub_next (nws_tap_sub_t *self, nws_hubmsg_t *msg, uint64_t *lost);

/*  1 once the subscriptions are confirmed (see above), else 0. Always 0
    without the publisher endpoint.  */
int nws_tap_sub_confirmed (nws_tap_sub_t *self);

/*  Messages that were not hub messages, dropped so far.  */
uint64_t nws_tap_sub_malformed (nws_tap_sub_t *self);

#endif
