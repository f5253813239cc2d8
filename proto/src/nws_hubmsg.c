/*  nws_hubmsg - receiving and sending hub messages on ZeroMQ sockets.  */
#include "nws_hubmsg.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "nws_limits.h"
#include "nws_log.h"

#define S_MAX_FRAMES 3

//  Receives a frame after the first of a multipart message. It is there
//  (libzmq delivers a message whole), but libzmq may still fail with EINTR
//  when a signal comes as it checks its command pipe: retried, since
//  giving up would leave the rest of the message to be read as the next.
static int
s_recv_more (zmq_msg_t *frame, void *sock)
{
    int rc;
    do
        rc = zmq_msg_recv (frame, sock, 0);
    while (rc < 0 && errno == EINTR);
    return rc;
}

//  Discards the remaining frames of a multipart message.
static void
s_drain_rest (void *sock)
{
    int more = 1;
    size_t size = sizeof more;
    while (zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &size) == 0 && more) {
        zmq_msg_t junk;
        zmq_msg_init (&junk);
        int rc = s_recv_more (&junk, sock);
        zmq_msg_close (&junk);
        if (rc < 0)
            break;
    }
}

//  Sends one frame without blocking, retrying on EINTR: a later frame that
//  gave up would leave a partial message for the next one to complete.
static int
s_send_frame (void *sock, const void *data, size_t len, int flags)
{
    while (zmq_send (sock, data, len, flags | ZMQ_DONTWAIT) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

int
nws_hubmsg_recv (void *sock, nws_hubmsg_t *msg, int flags, const char **why)
{
    zmq_msg_t frames [S_MAX_FRAMES];
    int count = 0, more = 1;
    const char *reason = NULL;

    while (more) {
        if (count == S_MAX_FRAMES) {
            s_drain_rest (sock);
            reason = "more than 3 frames";
            break;
        }
        zmq_msg_init (&frames [count]);
        int rc = count ? s_recv_more (&frames [count], sock)
                       : zmq_msg_recv (&frames [count], sock, flags);
        if (rc < 0) {
            int err = errno;
            zmq_msg_close (&frames [count]);
            while (count > 0)
                zmq_msg_close (&frames [--count]);
            return -err;
        }
        more = zmq_msg_more (&frames [count]);
        count++;
    }
    if (!reason && count < 2)
        reason = "fewer than 2 frames";
    if (!reason && nws_channel_from_topic (zmq_msg_data (&frames [0]),
                                           zmq_msg_size (&frames [0]), &msg->channel))
        reason = "topic is not <scope>/<name>/";
    if (!reason && count == 3) {
        int rc = nws_envelope_decode (zmq_msg_data (&frames [1]),
                                      zmq_msg_size (&frames [1]), &msg->env);
        if (rc == -EPROTO)
            reason = "unknown envelope version";
        else
        if (rc)
            reason = "malformed envelope";
    }
    if (reason) {
        for (int i = 0; i < count; i++)
            zmq_msg_close (&frames [i]);
        if (why)
            *why = reason;
        return -EBADMSG;
    }
    msg->external = count == 2;
    if (msg->external) {
        msg->env = (nws_envelope_t) { .kind = NWS_KIND_TEXT };
        msg->topic = frames [0];
        msg->payload = frames [1];
    }
    else {
        zmq_msg_close (&frames [1]);
        msg->topic = frames [0];
        msg->payload = frames [2];
    }
    return 0;
}

void
nws_hubmsg_close (nws_hubmsg_t *msg)
{
    zmq_msg_close (&msg->topic);
    zmq_msg_close (&msg->payload);
}

int
nws_hubmsg_send (void *sock, const void *topic, size_t topic_len,
                 const nws_envelope_t *env, const void *payload, size_t len)
{
    uint8_t header [NWS_ENVELOPE_SIZE];
    nws_envelope_encode (env, header);
    //  libzmq queues a multipart message atomically: if the first frame is
    //  accepted the rest are too (no EAGAIN), so a partial message is never
    //  sent, as long as EINTR is retried.
    int rc = s_send_frame (sock, topic, topic_len, ZMQ_SNDMORE);
    if (rc == 0)
        rc = s_send_frame (sock, header, sizeof header, ZMQ_SNDMORE);
    if (rc == 0)
        rc = s_send_frame (sock, payload, len, 0);
    return rc;
}

void *
nws_hubmsg_socket (void *zctx, int type, const char *endpoint)
{
    void *sock = zmq_socket (zctx, type);
    if (!sock) {
        nws_error ("zmq_socket: %s", zmq_strerror (errno));
        return NULL;
    }
    int hwm = NWS_HUB_HWM, linger = 0, ivl = 20, ivl_max = NWS_HUB_RECONNECT_MAX_MS;
    zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    //  Back soon after a hub restart, within the hub's grace period.
    zmq_setsockopt (sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt (sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    if (endpoint && zmq_connect (sock, endpoint) < 0) {
        nws_error ("zmq_connect %s: %s", endpoint, zmq_strerror (errno));
        zmq_close (sock);
        return NULL;
    }
    return sock;
}

int
nws_hubmsg_fd (void *sock)
{
    int fd;
    size_t size = sizeof fd;
    if (zmq_getsockopt (sock, ZMQ_FD, &fd, &size) < 0) {
        nws_error ("zmq_getsockopt ZMQ_FD: %s", zmq_strerror (errno));
        return -1;
    }
    int copy = dup (fd);
    if (copy < 0)
        nws_error ("dup: %s", strerror (errno));
    return copy;
}
