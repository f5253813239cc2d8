/*  nws_hubmsg - receiving and sending hub messages on ZeroMQ sockets.

    A hub message is 3 frames, [topic][envelope][payload] (see
    nws_channel.h and nws_envelope.h), or 2 frames, [topic][payload], from
    an outside publisher: that is read as a text message of origin 0.
    Anything else is consumed whole and rejected with a reason, so one bad
    message never desynchronises the socket.

    A received message owns its frames until nws_hubmsg_close(). Not
    thread-safe beyond the usual rule: one thread per zmq socket.
*/
#ifndef NWS_HUBMSG_H
#define NWS_HUBMSG_H

#include <zmq.h>

#include "nws_channel.h"
#include "nws_envelope.h"

typedef struct {
    zmq_msg_t topic;                /* frame 1, as received */
    zmq_msg_t payload;              /* last frame, untouched */
    nws_channel_t channel;          /* parsed from the topic */
    nws_envelope_t env;             /* frame 2, or a text/origin-0 default */
    int external;                   /* 1 if it arrived as [topic][payload] */
} nws_hubmsg_t;

/*  Receives one whole message from sock (flags: 0 or ZMQ_DONTWAIT).
    Returns 0 with *msg filled (close it afterwards); -EAGAIN if none is
    waiting; -EBADMSG if it was malformed (consumed and freed; *why says
    why, a static string); or another negative errno from libzmq.  */
int nws_hubmsg_recv (void *sock, nws_hubmsg_t *msg, int flags, const char **why);

/*  Frees the frames of a received message.  */
void nws_hubmsg_close (nws_hubmsg_t *msg);

/*  Sends [topic][envelope][payload] without blocking. Returns 0, or a
    negative errno (-EAGAIN at the high-water mark).  */
int nws_hubmsg_send (void *sock, const void *topic, size_t topic_len,
                     const nws_envelope_t *env, const void *payload, size_t len);

/*  A socket of type on zctx with the hub's settings: high-water marks of
    NWS_HUB_HWM, no linger, reconnection within NWS_HUB_RECONNECT_MAX_MS;
    connected to endpoint unless it is NULL. Returns NULL after logging
    why.  */
void *nws_hubmsg_socket (void *zctx, int type, const char *endpoint);

/*  A dup() of sock's ZMQ_FD, for an event loop that closes what it is
    given (libzmq keeps its own). Edge-triggered: drain the socket until
    ZMQ_EVENTS has no POLLIN on every wake-up. Returns -1 after logging.  */
int nws_hubmsg_fd (void *sock);

#endif
