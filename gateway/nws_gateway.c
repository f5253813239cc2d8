/*  nws_gateway - the HTTP/WebSocket server: clients in, hub out and back.  */
#include "nws_gateway.h"

#include <czmq.h>
#include <ev.h>
#include <errno.h>
#include <libwebsockets.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "nws_channel.h"
#include "nws_http.h"
#include "nws_hublink.h"
#include "nws_limits.h"
#include "nws_listener.h"
#include "nws_log.h"
#include "nws_neigh.h"
#include "nws_room.h"
#include "nws_rxpool.h"
#include "nws_runtime.h"
#include "nws_utf8.h"
#include "nws_static.h"

typedef struct {
    uint64_t accepted;              /* WebSocket handshakes completed */
    uint64_t refused_full;          /* connections over --max-clients */
    uint64_t messages_in;           /* messages received from clients */
    uint64_t deliveries;            /* messages queued to clients */
    uint64_t hub_messages;          /* messages of other origins from the hub */
    uint64_t unrouted;              /* hub messages for channels without clients here */
    uint64_t proxy_ignored;         /* messages sent by proxy links (they only read) */
    uint64_t closed_too_big;        /* clients closed with 1009 */
    uint64_t closed_slow;           /* clients closed with NWS_CLOSE_SLOW */
    uint64_t closed_gap;            /* clients closed with NWS_CLOSE_GAP */
    uint64_t closed_idle;           /* clients dropped after --idle-secs of silence */
    uint64_t closed_bad_utf8;       /* clients closed with 1007 by us */
    uint64_t closed_bad_close;      /* clients closed with 1002 for a bad close frame */
    uint64_t closed_protocol;       /* clients lws closed with 1002 (protocol error) */
    uint64_t gaps;                  /* sequence gaps seen on the hub */
    uint64_t http_errors;           /* HTTP requests answered 4xx or 5xx */
    uint64_t refused_clients;       /* upgrades refused: --max-clients */
    uint64_t refused_address;       /* upgrades refused: --max-clients-per-address */
    uint64_t refused_channels;      /* upgrades refused: --max-channels */
    uint64_t replayed;              /* messages sent to peer proxy links from the replay ring */
    uint64_t departed_marks;        /* marks sent for clients that had left */
} s_counters_t;

//  A client that left while its marks were still due: they go on for it,
//  so that a receiver notices lost messages that nothing followed.
typedef struct {
    char topic [NWS_TOPIC_MAX];     /* its channel's topic */
    size_t topic_len;               /* bytes used */
    uint64_t origin;                /* its origin */
    uint64_t seq;                   /* its last sequence number */
    int64_t sent_at;                /* when it sent that */
    int ticks;                      /* marks still to send */
} s_departed_t;

struct nws_gateway_t {
    nws_gateway_config_t config;    /* copy of the caller's */
    uint32_t instance;              /* random origin id of this process */
    char proxy_id [NWS_PROXY_ID_LEN + 1]; /* this host's proxy id, told to peer proxies */
    struct lws_context *context;    /* lws */
    struct ev_loop *loop;           /* libev, epoll: lws's own poll() walks every descriptor */
    ev_prepare turn;                /* before each wait for events: s_on_turn */
    ev_idle idle;                   /* when no event is waiting: s_on_idle */
    nws_session_t *corked;          /* sessions with frames queued, not yet written */
    int corked_turns;               /* loop turns since they were first queued */
    struct lws_vhost *vhost;        /* the one vhost */
    nws_listener_t *listener;       /* our SO_REUSEPORT socket */
    nws_hublink_t *hub;             /* PUB/SUB on the hub */
    zhashx_t *rooms;                /* topic -> nws_room_t */
    zhashx_t *peers;                /* peer address -> clients from it, as a pointer */
    zlistx_t *departed;             /* s_departed_t: senders gone, marks still due */
    zlistx_t *confirming;           /* nws_room_t: new rooms waiting for a sync */
    zlistx_t *confirming_next;      /* spare, swapped with confirming */
    lws_sorted_usec_list_t confirm_timer; /* resends syncs, ends waits */
    uint32_t next_id;               /* for session ids */
    uint32_t connections;           /* sockets open, HTTP or WebSocket */
    uint32_t sessions;              /* WebSockets open */
    s_counters_t counters;          /* see above */
    int64_t started;                /* zclock_mono at start, ms */
    lws_retry_bo_t idle_policy;     /* all zero: lws's own keepalive off */
    int64_t next_sweep;             /* zclock_mono of the next keepalive sweep */
    lws_sorted_usec_list_t tick;    /* bounds the wait for a stop signal */
};

#define S_PROTOCOL_MAIN    "nws"
#define S_PROTOCOL_LISTEN  "nws-listen"
#define S_PROTOCOL_HUB     "nws-hub"
#define S_PROTOCOL_HEAD    "nws-head"
#define S_HEAD_MAX 8192             /* request head bytes; lws's max_http_header_data too */
#define S_CLOSE_GRACE_SECS 5        /* to send a close frame to a stuck reader */
#define S_TICK_MS 200               /* longest wait to notice a stop signal */
#define S_BATCH_BYTES 262144        /* most bytes of small frames sent in one write */
#define S_READ_BYTES 262144         /* lws's read buffer (one per thread): caps every read */
#define S_CORK_TURNS 32             /* loop turns that queued frames wait, at most */
#define S_RX_BUFFER 16384           /* lws rx buffer per connection: lws reads this much per loop turn */
#define S_SYNC_RESEND_MS 5          /* a sync can be dropped before the hub has our subscription */
#define S_QUIET_SYNC_MS 20          /* wait for a new channel's sync while the hub seems down */
#define S_RX_RESERVE 65536          /* most reserved for a message before it arrives */
#define S_MARK_TICKS 3              /* sweeps that repeat a sender's mark */
#define S_MARK_SLACK_MS 250         /* a mark's age is trusted to within this */

static nws_gateway_t *
s_gateway (struct lws *wsi)
{
    return lws_context_user (lws_get_context (wsi));
}

//  ---------------------------------------------------------------------
//  Rooms

static void s_on_confirm_timer (lws_sorted_usec_list_t *sul);

//  Starts confirming room's new subscription: a sync now and every
//  S_SYNC_RESEND_MS until one returns (s_on_hub_sync) or the wait ends
//  (s_on_confirm_timer). Nothing waits meanwhile; the listener holds the
//  room's first connections.
static void
s_room_confirm (nws_gateway_t *self, nws_room_t *room)
{
    int64_t now = zclock_mono ();
    int64_t wait = (int64_t) self->config.sync_ms;
    if (nws_hublink_quiet (self->hub) && wait > S_QUIET_SYNC_MS)
        wait = S_QUIET_SYNC_MS;
    room->sync_from = nws_hublink_sync (self->hub, room->topic, room->topic_len);
    room->sync_deadline = now + wait;
    room->sync_resend = now + S_SYNC_RESEND_MS;
    if (zlistx_add_end (self->confirming, room)) {
        room->confirming = 1;
        lws_sul_schedule (self->context, 0, &self->confirm_timer, s_on_confirm_timer,
                          S_SYNC_RESEND_MS * LWS_US_PER_MS);
    }
}

//  Opens the room of channel (key: its topic as a string) and subscribes;
//  it is unconfirmed until a sync returns. Returns NULL when out of memory.
static nws_room_t *
s_room_open (nws_gateway_t *self, const nws_channel_t *channel, const char *key)
{
    nws_room_t *room = nws_room_new (channel);
    if (!room)
        return NULL;
    zhashx_insert (self->rooms, key, room);
    room->unconfirmed = 1;
    nws_hublink_subscribe (self->hub, room->topic, room->topic_len);
    s_room_confirm (self, room);
    nws_debug ("room %s opened", room->key);
    return room;
}

static nws_room_t *
s_room_find (nws_gateway_t *self, const nws_channel_t *channel, char *key, size_t cap)
{
    int len = nws_channel_topic (channel, key, cap - 1);
    key [len] = '\0';
    return zhashx_lookup (self->rooms, key);
}

//  Finds the room of channel, opening it if needed (a connection that the
//  listener did not hold: its client is unsure of what it missed if the
//  room is still unconfirmed). Returns NULL when out of memory.
static nws_room_t *
s_room_require (nws_gateway_t *self, const nws_channel_t *channel)
{
    char key [NWS_TOPIC_MAX + 1];
    nws_room_t *room = s_room_find (self, channel, key, sizeof key);
    return room ? room : s_room_open (self, channel, key);
}

//  Frees the room once nobody is in it or on the way in.
static void
s_room_release (nws_gateway_t *self, nws_room_t *room)
{
    if (room->first || room->joining || room->held || room->arriving || room->confirming)
        return;
    nws_hublink_unsubscribe (self->hub, room->topic, room->topic_len);
    nws_debug ("room %s closed", room->key);
    zhashx_delete (self->rooms, room->key);
    nws_room_destroy (&room);
}

//  A connection that the listener held for a room (the room is its lws
//  handle's opaque user data) got to the handshake, or died on the way.
static void
s_arrived (nws_gateway_t *self, struct lws *wsi)
{
    nws_room_t *room = lws_get_opaque_user_data (wsi);
    if (!room)
        return;
    lws_set_opaque_user_data (wsi, NULL);
    room->arriving--;
    s_room_release (self, room);
}

//  One of our syncs came back. Only one sent since the room's
//  confirmation began counts: an older one (from an earlier room of the
//  same channel, say) says nothing about this subscription.
static void
s_on_hub_sync (void *arg, const char *topic, size_t len, uint64_t seq)
{
    nws_gateway_t *self = arg;
    char key [NWS_TOPIC_MAX + 1];
    if (len >= sizeof key)
        return;
    memcpy (key, topic, len);
    key [len] = '\0';
    nws_room_t *room = zhashx_lookup (self->rooms, key);
    if (!room || !room->sync_from || seq < room->sync_from)
        return;
    room->sync_from = 0;
    room->unconfirmed = 0;
    if (room->confirming)
        //  Its held connections go in from the timer, not from inside
        //  the hub link's drain.
        lws_sul_schedule (self->context, 0, &self->confirm_timer, s_on_confirm_timer, 0);
    else
        nws_info ("hub confirmed the subscription to %s", room->key);
}

//  Resends the syncs of new rooms, gives up on those past their wait, and
//  lets in the connections held for rooms that are done.
static void
s_on_confirm_timer (lws_sorted_usec_list_t *sul)
{
    nws_gateway_t *self = lws_container_of (sul, nws_gateway_t, confirm_timer);
    int64_t now = zclock_mono ();
    nws_room_t *room;
    while ((room = zlistx_detach (self->confirming, NULL))) {
        if (room->sync_from && now >= room->sync_deadline) {
            room->sync_from = 0;
            nws_hublink_timed_out (self->hub);
            nws_warn ("hub did not confirm the subscription to %s in time (is nws-hub running?)",
                      room->key);
        }
        else
        if (room->sync_from && now >= room->sync_resend) {
            nws_hublink_sync (self->hub, room->topic, room->topic_len);
            room->sync_resend = now + S_SYNC_RESEND_MS;
        }
        if (room->sync_from) {
            zlistx_add_end (self->confirming_next, room);
            continue;
        }
        room->confirming = 0;
        room->held = 0;
        room->arriving += (uint32_t) nws_listener_release (self->listener, room);
        s_room_release (self, room);
    }
    zlistx_t *swap = self->confirming;
    self->confirming = self->confirming_next;
    self->confirming_next = swap;
    if (zlistx_size (self->confirming))
        lws_sul_schedule (self->context, 0, &self->confirm_timer, s_on_confirm_timer,
                          S_SYNC_RESEND_MS * LWS_US_PER_MS);
}

//  A new connection's head is complete. One for a channel whose room is
//  new waits in the listener until the hub confirms the room: that keeps
//  s_on_filter's promise without blocking anyone. Everything else, good
//  or bad, goes on to lws at once.
static void *
s_route (void *arg, int fd, const char *path, size_t len, int is_get)
{
    nws_gateway_t *self = arg;
    char buf [NWS_TOPIC_MAX + 16], key [NWS_TOPIC_MAX + 1];
    nws_channel_t channel;
    if (!is_get || len >= sizeof buf)
        return NULL;
    memcpy (buf, path, len);
    buf [len] = '\0';
    if (nws_channel_parse_path (buf, &channel)
    ||  (channel.scope == NWS_SCOPE_LOCAL && !nws_http_fd_is_loopback (fd)))
        return NULL;
    nws_room_t *room = s_room_find (self, &channel, key, sizeof key);
    if (!room) {
        if (zhashx_size (self->rooms) >= self->config.max_channels
        ||  self->sessions >= self->config.max_clients)
            return NULL;            //  lws refuses it, with its status
        room = s_room_open (self, &channel, key);
    }
    if (!room || !room->confirming)
        return NULL;
    room->held++;
    return room;
}

//  ---------------------------------------------------------------------
//  Clients per peer address

static size_t
s_peer_count (nws_gateway_t *self, const char *peer)
{
    return (size_t) (uintptr_t) zhashx_lookup (self->peers, peer);
}

static void
s_peer_adjust (nws_gateway_t *self, const char *peer, int delta)
{
    size_t count = s_peer_count (self, peer) + (size_t) delta;
    if (count)
        zhashx_update (self->peers, peer, (void *) (uintptr_t) count);
    else
        zhashx_delete (self->peers, peer);
}

//  ---------------------------------------------------------------------
//  Sessions

//  Decides to close a session with code; the close frame goes out from
//  its next WRITEABLE callback (never a free in the middle of a fan-out),
//  or the connection is dropped if the peer reads nothing for a while.
static void
s_session_close (nws_session_t *session, uint16_t code, const char *reason)
{
    if (session->state != NWS_SESSION_OPEN)
        return;
    session->state = NWS_SESSION_CLOSING;
    session->close_code = code;
    session->close_reason = reason;
    nws_queue_clear (&session->queue);
    lws_set_timeout (session->wsi, PENDING_TIMEOUT_CLOSE_SEND, S_CLOSE_GRACE_SECS);
    lws_callback_on_writable (session->wsi);
}

//  Frames were queued for session: they go out when the loop has no more
//  events waiting (or after S_CORK_TURNS turns), with all that is queued
//  for it by then, in one write (s_flush). No poll for writability first:
//  most sockets can take it at once.
static void
s_session_cork (nws_gateway_t *self, nws_session_t *session)
{
    if (session->corked)
        return;
    if (!self->corked)
        ev_idle_start (self->loop, &self->idle);
    session->corked = 1;
    session->cork_prev = NULL;
    session->cork_next = self->corked;
    if (self->corked)
        self->corked->cork_prev = session;
    self->corked = session;
}

static void
s_session_uncork (nws_gateway_t *self, nws_session_t *session)
{
    if (!session->corked)
        return;
    if (session->cork_prev)
        session->cork_prev->cork_next = session->cork_next;
    else
        self->corked = session->cork_next;
    if (session->cork_next)
        session->cork_next->cork_prev = session->cork_prev;
    session->corked = 0;
}

//  Queues frame to every open member but except; proxy links get only
//  messages that did not come from a proxy.
static void
s_room_deliver (nws_gateway_t *self, nws_room_t *room, nws_frame_t *frame,
                nws_session_t *except, int from_proxy)
{
    room->messages++;
    //  What peer proxies get is kept a while, for those that link late or
    //  come back (nws_replay.h).
    if (room->channel.scope == NWS_SCOPE_BROADCAST && !from_proxy) {
        int64_t now = zclock_mono ();
        nws_replay_push (&room->replay, frame, now);
        nws_replay_trim (&room->replay, now, (int64_t) self->config.replay_ms,
                         self->config.replay_bytes, NWS_REPLAY_MAX_MSGS);
    }
    for (nws_session_t *s = room->first; s; s = s->next) {
        if (s == except || s->state != NWS_SESSION_OPEN || (from_proxy && s->is_proxy)
        ||  s->shadowed)
            continue;
        int was_empty = s->queue.count == 0;
        int rc = nws_queue_push (&s->queue, frame, (uint32_t) self->config.queue_msgs,
                                 self->config.queue_bytes);
        if (rc) {
            self->counters.closed_slow++;
            nws_info ("closing a client of %s: send queue full (%u messages, %zu bytes)",
                      room->key, s->queue.count, s->queue.bytes);
            s_session_close (s, NWS_CLOSE_SLOW, "send queue full: reading too slowly");
            continue;
        }
        self->counters.deliveries++;
        if (was_empty)
            s_session_cork (self, s);
    }
}

//  Tells the hub (and through it nws-discovery) when a broadcast channel
//  gains its first or loses its last client of our own: proxy links do not
//  count, so two proxies never keep each other's adverts alive.
static void
s_room_interest (nws_gateway_t *self, nws_room_t *room, int on)
{
    if (room->channel.scope != NWS_SCOPE_BROADCAST)
        return;
    char marker [NWS_TOPIC_MAX + 1];
    int len = nws_channel_interest (&room->channel, marker, sizeof marker);
    if (len > 0)
        nws_hublink_mark (self->hub, marker, (size_t) len, on);
}

static void
s_departed_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  A sender whose marks are still due leaves: they go on without it.
static void
s_session_depart (nws_gateway_t *self, nws_room_t *room, nws_session_t *session)
{
    if (session->is_proxy || !session->seq
    ||  (session->seq == session->marked_seq && !session->mark_ticks))
        return;
    s_departed_t *departed = calloc (1, sizeof *departed);
    if (!departed)
        return;
    memcpy (departed->topic, room->topic, room->topic_len);
    departed->topic_len = room->topic_len;
    departed->origin = (uint64_t) self->instance << 32 | session->id;
    departed->seq = session->seq;
    departed->sent_at = session->sent_at;
    departed->ticks = S_MARK_TICKS;
    zlistx_add_end (self->departed, departed);
}

static void
s_session_leave (nws_gateway_t *self, nws_session_t *session)
{
    nws_room_t *room = session->room;
    if (room) {
        if (session->joining) {
            room->joining--;
            session->joining = 0;
        }
        else {
            s_session_depart (self, room, session);
            nws_room_remove (room, session);
            self->sessions--;
            if (!session->is_proxy && room->clients == 0)
                s_room_interest (self, room, 0);
        }
        session->room = NULL;
        s_room_release (self, room);
    }
    if (session->peer [0]) {
        s_peer_adjust (self, session->peer, -1);
        session->peer [0] = '\0';
    }
    s_session_uncork (self, session);
    nws_queue_clear (&session->queue);
    nws_frame_unref (&session->rx);
}

//  A whole message arrived from a client: to the hub once, and to the
//  other members here directly.
static void
s_session_message (nws_gateway_t *self, nws_session_t *session)
{
    nws_frame_t *frame = session->rx;
    session->rx = NULL;
    nws_room_t *room = session->room;
    if (session->is_proxy) {
        //  The dialing side of a proxy link only reads (the original's convention; README, "Broadcast across the LAN").
        self->counters.proxy_ignored++;
        nws_frame_unref (&frame);
        return;
    }
    self->counters.messages_in++;
    session->sent_at = zclock_mono ();
    nws_envelope_t env = {
        .kind = frame->kind,
        .origin = (uint64_t) self->instance << 32 | session->id,
        .seq = ++session->seq,
    };
    nws_hublink_publish (self->hub, room->topic, room->topic_len, &env,
                         nws_frame_payload (frame), frame->len);
    s_room_deliver (self, room, frame, session, 0);
    nws_frame_unref (&frame);
}

//  Appends one piece of a client's message; dispatches it when complete.
//  Returns -1 to close the connection.
static int
s_session_receive (nws_gateway_t *self, nws_session_t *session, struct lws *wsi,
                   const void *in, size_t len)
{
    if (session->state != NWS_SESSION_OPEN)
        return 0;
    if (!session->rx) {
        //  Sized for the frame announced, but a stranger's announcement
        //  reserves at most S_RX_RESERVE: more only as bytes arrive.
        size_t expect = len + lws_remaining_packet_payload (wsi);
        if (expect > S_RX_RESERVE)
            expect = S_RX_RESERVE;
        session->rx = nws_frame_new (expect,
                                     lws_frame_is_binary (wsi) ? NWS_KIND_BINARY : NWS_KIND_TEXT);
        if (!session->rx)
            return -1;
        session->rx_utf8 = 0;
    }
    nws_frame_t *rx = session->rx;
    //  Judge a frame by the length it announces, not only by what came.
    if (rx->len + len + lws_remaining_packet_payload (wsi) > self->config.max_message) {
        self->counters.closed_too_big++;
        nws_info ("closing a client of %s: message larger than %llu bytes",
                  session->room->key, (unsigned long long) self->config.max_message);
        static const char reason [] = "message too big";
        lws_close_reason (wsi, NWS_CLOSE_TOO_BIG, (unsigned char *) reason, sizeof reason - 1);
        return -1;
    }
    if (nws_frame_reserve (&session->rx, rx->len + len))
        return -1;
    rx = session->rx;
    memcpy (nws_frame_payload (rx) + rx->len, in, len);
    rx->len += len;
    int final = lws_is_final_fragment (wsi) && lws_remaining_packet_payload (wsi) == 0;
    //  Text is checked as it comes, so that a message fails at its first
    //  impossible byte (lws's own check is off: it judges frame by frame,
    //  misses a sequence cut short at the end, and its reasons overwrite
    //  each other), and once more at the end for a sequence cut short.
    if (rx->kind == NWS_KIND_TEXT) {
        int bad;
        session->rx_utf8 += nws_utf8_scan (nws_frame_payload (rx) + session->rx_utf8,
                                           rx->len - session->rx_utf8, &bad);
        if (bad || (final && session->rx_utf8 != rx->len)) {
            self->counters.closed_bad_utf8++;
            static const char reason [] = "text message is not UTF-8";
            lws_close_reason (wsi, LWS_CLOSE_STATUS_INVALID_PAYLOAD, (unsigned char *) reason,
                              sizeof reason - 1);
            return -1;
        }
    }
    if (final)
        s_session_message (self, session);
    return 0;
}

//  Writes the WebSocket header of a final, unmasked server frame. Returns
//  its length (2, 4 or 10 bytes).
static size_t
s_frame_header (uint8_t *out, const nws_frame_t *frame)
{
    out [0] = 0x80 | (frame->kind == NWS_KIND_BINARY ? 0x2 : 0x1);
    if (frame->len < 126) {
        out [1] = (uint8_t) frame->len;
        return 2;
    }
    if (frame->len <= 0xFFFF) {
        out [1] = 126;
        out [2] = (uint8_t) (frame->len >> 8);
        out [3] = (uint8_t) frame->len;
        return 4;
    }
    out [1] = 127;
    for (int i = 0; i < 8; i++)
        out [2 + i] = (uint8_t) ((uint64_t) frame->len >> (56 - 8 * i));
    return 10;
}

//  Writes queued frames: lws allows one write per WRITEABLE callback, so
//  small frames are framed here and sent together in one write (one
//  syscall for many messages); a lone or large frame goes as it is.
//  Returns -1 to close the connection.
static int
s_session_writeable (nws_session_t *session, struct lws *wsi)
{
    static uint8_t batch [LWS_PRE + S_BATCH_BYTES];
    if (session->state == NWS_SESSION_CLOSING) {
        const char *reason = session->close_reason;
        lws_close_reason (wsi, session->close_code, (unsigned char *) reason, strlen (reason));
        return -1;
    }
    if (session->ping_due) {
        session->ping_due = 0;
        session->ping_sent = 1;
        session->ping_sent_at = zclock_mono ();
        //  Not empty: lws does not report an empty pong to us.
        memcpy (batch + LWS_PRE, "nws", 3);
        if (lws_write (wsi, batch + LWS_PRE, 3, LWS_WRITE_PING) < 0)
            return -1;
        if (session->queue.count)
            lws_callback_on_writable (wsi);
        return 0;
    }
    nws_frame_t *frame = nws_queue_peek (&session->queue);
    if (!frame)
        return 0;
    if (session->queue.count == 1 || frame->len > S_BATCH_BYTES / 4) {
        enum lws_write_protocol kind = frame->kind == NWS_KIND_BINARY ? LWS_WRITE_BINARY
                                                                        : LWS_WRITE_TEXT;
        if (lws_write (wsi, nws_frame_payload (frame), frame->len, kind) < (int) frame->len)
            return -1;
        nws_queue_pop (&session->queue);
    }
    else {
        size_t used = 0;
        uint8_t *out = batch + LWS_PRE;
        while (frame && used + 10 + frame->len <= S_BATCH_BYTES) {
            used += s_frame_header (out + used, frame);
            memcpy (out + used, nws_frame_payload (frame), frame->len);
            used += frame->len;
            nws_queue_pop (&session->queue);
            frame = nws_queue_peek (&session->queue);
        }
        if (lws_write (wsi, out, used, LWS_WRITE_RAW) < (int) used)
            return -1;
    }
    if (session->queue.count)
        lws_callback_on_writable (wsi);
    return 0;
}

//  ---------------------------------------------------------------------
//  From the hub

//  Something this room should have had was lost on the way: say so to its
//  clients rather than let them believe the stream is whole. Proxy links
//  are spared when what was lost came from a proxy: they never carry that.
static void
s_room_lost (nws_gateway_t *self, nws_room_t *room, const char *why, int from_proxy)
{
    self->counters.gaps++;
    nws_warn ("messages lost on %s (%s); closing its clients here", room->key, why);
    for (nws_session_t *s = room->first; s; s = s->next)
        if (s->state == NWS_SESSION_OPEN && !(from_proxy && s->is_proxy)) {
            self->counters.closed_gap++;
            s_session_close (s, NWS_CLOSE_GAP, "messages were lost upstream");
        }
}

static void
s_room_forward (nws_gateway_t *self, nws_room_t *room, nws_hubmsg_t *msg)
{
    size_t size = zmq_msg_size (&msg->payload);
    nws_frame_t *frame = nws_frame_new (size, msg->env.kind);
    if (!frame)
        return;
    memcpy (nws_frame_payload (frame), zmq_msg_data (&msg->payload), size);
    frame->len = size;
    s_room_deliver (self, room, frame, NULL, msg->env.flags & NWS_FLAG_FROM_PROXY);
    nws_frame_unref (&frame);
}

//  A mark from a sender this room never heard from: if it says the
//  sender's last message went out after some client here had joined (with
//  slack for the mark's own trip), that client lost it.
static void
s_room_unseen (nws_gateway_t *self, nws_room_t *room, nws_hubmsg_t *msg, int from_proxy)
{
    uint64_t age;
    if (nws_control_mark_age (zmq_msg_data (&msg->payload), zmq_msg_size (&msg->payload), &age)
    ||  age > INT32_MAX)
        return;
    int64_t sent = zclock_mono () - (int64_t) age;
    int lost = 0;
    for (nws_session_t *s = room->first; s; s = s->next)
        if (s->state == NWS_SESSION_OPEN && !(from_proxy && s->is_proxy)
        &&  s->joined_at + S_MARK_SLACK_MS < sent) {
            self->counters.closed_gap++;
            s_session_close (s, NWS_CLOSE_GAP, "messages were lost upstream");
            lost = 1;
        }
    if (lost) {
        self->counters.gaps++;
        nws_warn ("messages lost on %s (a sender never seen here is past them); closing "
                  "the clients that were here then", room->key);
    }
}

static void
s_on_hub_message (void *arg, nws_hubmsg_t *msg)
{
    nws_gateway_t *self = arg;
    self->counters.hub_messages++;
    char key [NWS_TOPIC_MAX + 1];
    size_t len = zmq_msg_size (&msg->topic);
    memcpy (key, zmq_msg_data (&msg->topic), len);
    key [len] = '\0';
    nws_room_t *room = zhashx_lookup (self->rooms, key);
    if (!room) {
        self->counters.unrouted++;
        return;
    }
    int from_proxy = msg->env.flags & NWS_FLAG_FROM_PROXY;
    if (msg->env.flags & NWS_FLAG_CONTROL) {
        if (memcmp (zmq_msg_data (&msg->payload), NWS_CONTROL_LOST, 4) == 0)
            s_room_lost (self, room, "a proxy link dropped messages", 1);
        else
        if (nws_room_behind (room, msg->env.origin, msg->env.seq))
            s_room_lost (self, room, "a sender is past what arrived", from_proxy);
        else
        if (!nws_room_knows (room, msg->env.origin))
            s_room_unseen (self, room, msg, from_proxy);
        return;
    }
    int known = nws_room_knows (room, msg->env.origin);
    if (nws_room_track (room, msg->env.origin, msg->env.seq)) {
        s_room_lost (self, room, "a sequence gap", from_proxy);
        return;
    }
    //  Clients that joined while the hub could not confirm our subscription
    //  cannot know what they missed from a sender already under way.
    if (!known && msg->env.seq > 1)
        for (nws_session_t *s = room->first; s; s = s->next)
            if (s->unsure && s->state == NWS_SESSION_OPEN) {
                self->counters.closed_gap++;
                s_session_close (s, NWS_CLOSE_GAP, "joined while the hub was away");
            }
    s_room_forward (self, room, msg);
}

//  ---------------------------------------------------------------------
//  HTTP

static int
s_is_get (struct lws *wsi)
{
    return lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) > 0;
}

//  Every counter once, for /status and /metrics alike, in their order:
//  its name (JSON key; Prometheus nws_<name>_total), its value (from c,
//  our counters; hub, the hub link's; door, the listener's) and its help.
#define S_COUNTERS(X) \
    X (accepted, c->accepted, "WebSocket handshakes completed") \
    X (refused_full, c->refused_full, "connections closed at once: over --max-clients") \
    X (refused_clients, c->refused_clients, "upgrades refused with 503: --max-clients") \
    X (refused_address, c->refused_address, \
       "upgrades refused with 429: --max-clients-per-address") \
    X (refused_channels, c->refused_channels, "upgrades refused with 503: --max-channels") \
    X (messages_in, c->messages_in, "messages received from clients") \
    X (deliveries, c->deliveries, "messages queued to clients") \
    X (hub_messages, c->hub_messages, "messages of other origins from the hub") \
    X (unrouted, c->unrouted, "hub messages for channels without clients here") \
    X (proxy_ignored, c->proxy_ignored, "messages sent by proxy links, which only read") \
    X (closed_too_big, c->closed_too_big, \
       "clients closed with 1009: message over --max-message") \
    X (closed_slow, c->closed_slow, "clients closed with 4001: send queue full") \
    X (closed_gap, c->closed_gap, "clients closed with 4002: messages lost upstream") \
    X (closed_idle, c->closed_idle, "clients dropped after --idle-secs of silence") \
    X (closed_bad_utf8, c->closed_bad_utf8, \
       "clients closed with 1007: a text message that is not UTF-8") \
    X (closed_bad_close, c->closed_bad_close, \
       "clients closed with 1002 or 1007: an invalid close frame") \
    X (closed_protocol_error, c->closed_protocol, \
       "clients closed with 1002 by libwebsockets: a protocol error") \
    X (gaps, c->gaps, "sequence gaps seen on hub messages") \
    X (http_errors, c->http_errors + door.refused, \
       "HTTP requests answered with an error status") \
    X (hub_published, hub.published, "messages published to the hub") \
    X (hub_publish_failed, hub.publish_failed, "messages the hub socket refused") \
    X (hub_malformed, hub.malformed, "malformed messages received from the hub") \
    X (hub_sync_timeouts, hub.sync_timeouts, \
       "channel subscriptions the hub did not confirm in time") \
    X (hub_connects, hub.connects, "handshakes with a hub: 1 plus the restarts seen") \
    X (refused_head, door.refused, "requests refused on their head alone: malformed, " \
       "not GET, too large (also in http_errors)") \
    X (handshake_timeouts, door.timeouts, \
       "connections closed: no complete request head in time") \
    X (replayed, c->replayed, "messages a peer proxy's link got from the replay ring " \
       "(it linked late or came back)") \
    X (departed_marks, c->departed_marks, "marks sent for senders that had already left")

static const struct {
    const char *name;
    const char *help;
} s_counter_info [] = {
#define S_INFO(name, value, help) { #name, help },
    S_COUNTERS (S_INFO)
#undef S_INFO
};
#define S_COUNTER_COUNT (sizeof s_counter_info / sizeof s_counter_info [0])

//  Sockets open. lws counts a connection still sending its head by the
//  handle that watches it, and for a moment both that handle and the HTTP
//  connection it became: count the connection instead. It does not know
//  those the listener holds.
static uint32_t
s_connections (nws_gateway_t *self)
{
    nws_listener_stats_t door;
    nws_listener_stats (self->listener, &door);
    return self->connections - door.watches + door.waiting + door.held;
}

static void
s_counter_values (nws_gateway_t *self, uint64_t *values)
{
    nws_hublink_stats_t hub;
    nws_hublink_stats (self->hub, &hub);
    nws_listener_stats_t door;
    nws_listener_stats (self->listener, &door);
    s_counters_t *c = &self->counters;
    uint64_t all [] = {
#define S_VALUE(name, value, help) value,
        S_COUNTERS (S_VALUE)
#undef S_VALUE
    };
    memcpy (values, all, sizeof all);
}

//  Prometheus text format, version 0.0.4.
static void
s_metrics (nws_gateway_t *self, nws_text_t *out)
{
    uint64_t values [S_COUNTER_COUNT];
    s_counter_values (self, values);
    for (size_t i = 0; i < S_COUNTER_COUNT; i++)
        nws_text_printf (out, "# HELP nws_%s_total %s\n# TYPE nws_%s_total counter\n"
                         "nws_%s_total %llu\n", s_counter_info [i].name, s_counter_info [i].help,
                         s_counter_info [i].name, s_counter_info [i].name,
                         (unsigned long long) values [i]);
    nws_text_printf (out, "# HELP nws_clients WebSocket clients connected\n# TYPE nws_clients gauge\n"
                     "nws_clients %u\n# HELP nws_connections sockets open\n"
                     "# TYPE nws_connections gauge\nnws_connections %u\n"
                     "# HELP nws_channels channels with clients here\n# TYPE nws_channels gauge\n"
                     "nws_channels %zu\n", self->sessions, s_connections (self),
                     zhashx_size (self->rooms));
}

//  Adds ,"key":<object> from a JSON file that another nws process keeps in
//  the runtime directory (nws-hub's counters, nws-discovery's adverts and
//  links), or null when it is missing or not an object.
static void
s_status_embed (nws_gateway_t *self, nws_text_t *out, const char *key, const char *file)
{
    char path [300], buf [65536];
    snprintf (path, sizeof path, "%s/%s", self->config.runtime_dir, file);
    FILE *in = fopen (path, "re");
    size_t len = in ? fread (buf, 1, sizeof buf - 1, in) : 0;
    if (in)
        fclose (in);
    while (len && (buf [len - 1] == '\n' || buf [len - 1] == ' '))
        len--;
    buf [len] = '\0';
    int object = len >= 2 && buf [0] == '{' && buf [len - 1] == '}' && !memchr (buf, 0, len);
    nws_text_printf (out, ",\"%s\":%s", key, object ? buf : "null");
}

static void
s_status_json (nws_gateway_t *self, nws_text_t *out)
{
    nws_text_printf (out, "{\"version\":\"%s\",\"gateway\":{\"pid\":%d,\"instance\":\"%08x\","
                     "\"port\":%u,\"uptime_ms\":%lld},\"connections\":%u,\"clients\":%u,"
                     "\"channels\":[",
                     NWS_VERSION, (int) getpid (), self->instance,
                     nws_listener_port (self->listener),
                     (long long) (zclock_mono () - self->started), s_connections (self),
                     self->sessions);
    const char *sep = "";
    for (nws_room_t *room = zhashx_first (self->rooms); room; room = zhashx_next (self->rooms)) {
        unsigned shadowed = 0;
        for (nws_session_t *m = room->first; m; m = m->next)
            shadowed += m->shadowed;
        nws_text_printf (out, "%s{\"scope\":\"%s\",\"name\":\"%s\",\"clients\":%u,"
                         "\"proxies\":%u,\"shadowed\":%u,\"messages\":%llu}", sep,
                         nws_channel_scope_str (room->channel.scope), room->channel.name,
                         room->clients, room->proxies, shadowed,
                         (unsigned long long) room->messages);
        sep = ",";
    }
    nws_text_printf (out, "],\"counters\":{");
    uint64_t values [S_COUNTER_COUNT];
    s_counter_values (self, values);
    for (size_t i = 0; i < S_COUNTER_COUNT; i++)
        nws_text_printf (out, "%s\"%s\":%llu", i ? "," : "", s_counter_info [i].name,
                         (unsigned long long) values [i]);
    nws_text_printf (out, "}");
    s_status_embed (self, out, "hub", "hub.json");
    s_status_embed (self, out, "discovery", "discovery.json");
    nws_text_printf (out, "}\n");
}

static void
s_status_html (nws_gateway_t *self, nws_text_t *out)
{
    nws_text_printf (out, "<!doctype html><html><head><meta charset=\"utf-8\">"
                     "<title>nws gateway</title></head><body>"
                     "<h1>nws gateway</h1><p>Version %s, pid %d, port %u: %u WebSocket "
                     "clients in %zu channels.</p><table><tr><th>channel</th>"
                     "<th>clients</th><th>proxies</th><th>messages</th></tr>",
                     NWS_VERSION, (int) getpid (), nws_listener_port (self->listener),
                     self->sessions, zhashx_size (self->rooms));
    for (nws_room_t *room = zhashx_first (self->rooms); room; room = zhashx_next (self->rooms))
        nws_text_printf (out, "<tr><td>/%s/%s</td><td>%u</td><td>%u</td><td>%llu</td></tr>",
                         nws_channel_scope_str (room->channel.scope), room->channel.name,
                         room->clients, room->proxies, (unsigned long long) room->messages);
    nws_text_printf (out, "</table><p><a href=\"/status\">/status</a> (JSON)</p></body></html>\n");
}

static int
s_http_error (nws_gateway_t *self, struct lws *wsi, int status, const char *why)
{
    self->counters.http_errors++;
    return nws_http_error (wsi, status, why);
}

//  Checks a request for a channel URL (upgrade or not). Returns 0 if it
//  may proceed, else the HTTP status to answer with, and sets *why.
static int
s_channel_check (struct lws *wsi, const char *path, nws_channel_t *channel,
                 const char **why)
{
    int rc = nws_channel_parse_path (path, channel);
    if (rc == -ENOENT) {
        *why = "no such page";
        return 404;
    }
    if (rc) {
        *why = "invalid channel name: use 1 to 255 of A-Z a-z 0-9 . _ -";
        return 404;
    }
    if (!s_is_get (wsi)) {
        *why = "channels take GET with a WebSocket upgrade";
        return 405;
    }
    if (channel->scope == NWS_SCOPE_LOCAL && !nws_http_peer_is_loopback (wsi)) {
        *why = "local channels are open to this host only";
        return 403;
    }
    return 0;
}

static int
s_on_http (nws_gateway_t *self, struct lws *wsi, const char *path)
{
    nws_channel_t channel;
    const char *why = NULL;
    const nws_static_file_t *file = nws_static_lookup (path);
    if (file) {
        int status = nws_static_check (wsi, file, &why);
        if (status)
            self->counters.http_errors++;
        return status ? nws_http_error_allow (wsi, status, why, "GET, HEAD")
                      : nws_static_respond (wsi, file, nws_listener_port (self->listener));
    }
    static const struct {
        const char *path;           /* exact */
        const char *type;           /* Content-Type */
        void (*render) (nws_gateway_t *, nws_text_t *);
    } pages [] = {
        { "/", "text/html; charset=utf-8", s_status_html },
        { "/status", "application/json", s_status_json },
        { "/metrics", "text/plain; version=0.0.4; charset=utf-8", s_metrics },
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages [0]; i++) {
        if (strcmp (path, pages [i].path) != 0)
            continue;
        if (!s_is_get (wsi))
            return s_http_error (self, wsi, 405, "use GET");
        if (!nws_http_request_is_local (wsi))
            return s_http_error (self, wsi, 403,
                                 "the status pages are open to this host only, by a local name");
        nws_text_t body = { 0 };
        pages [i].render (self, &body);
        int rc = nws_http_respond (wsi, 200, pages [i].type, NULL, &body);
        nws_text_free (&body);
        return rc;
    }
    int status = s_channel_check (wsi, path, &channel, &why);
    if (status)
        return s_http_error (self, wsi, status, why);
    return s_http_error (self, wsi, 400, "this URL takes a WebSocket upgrade");
}

//  Before lws answers an upgrade: the same checks as plain HTTP, so a bad
//  name gets its 404 before any WebSocket exists.
static int
s_on_confirm_upgrade (nws_gateway_t *self, struct lws *wsi)
{
    char path [NWS_TOPIC_MAX + 16];
    nws_channel_t channel;
    const char *why = NULL;
    int status;
    if (lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) >= (int) sizeof path) {
        status = 404;
        why = "invalid channel name: too long";
    }
    else {
        lws_hdr_copy (wsi, path, sizeof path, WSI_TOKEN_GET_URI);
        status = s_channel_check (wsi, path, &channel, &why);
    }
    //  RFC 6455 4.2.1, which lws 4.1 does not enforce.
    char version [8] = "";
    if (status == 0 && (lws_hdr_copy (wsi, version, sizeof version, WSI_TOKEN_VERSION) <= 0
                    ||  strcmp (version, "13") != 0)) {
        status = 426;
        why = "this server speaks WebSocket version 13";
    }
    if (status == 0 && lws_hdr_total_length (wsi, WSI_TOKEN_KEY) != 24) {
        status = 400;
        why = "Sec-WebSocket-Key must be 16 bytes in base64";
    }
    char peer [48];
    if (status == 0 && self->sessions >= self->config.max_clients) {
        self->counters.refused_clients++;
        status = 503;
        why = "too many clients on this gateway";
    }
    //  Local programs are this machine's own; the per-address limit is for
    //  strangers on the LAN.
    if (status == 0 && !nws_http_peer_is_loopback (wsi)
    &&  nws_http_peer_address (wsi, peer, sizeof peer) == 0
    &&  s_peer_count (self, peer) >= self->config.max_per_address) {
        self->counters.refused_address++;
        status = 429;
        why = "too many clients from your address";
    }
    if (status == 0 && zhashx_size (self->rooms) >= self->config.max_channels) {
        char key [NWS_TOPIC_MAX + 1];
        int len = nws_channel_topic (&channel, key, sizeof key - 1);
        key [len] = '\0';
        if (!zhashx_lookup (self->rooms, key)) {
            self->counters.refused_channels++;
            status = 503;
            why = "too many channels on this gateway";
        }
    }
    if (status == 0)
        return 0;
    return s_http_error (self, wsi, status, why) ? -1 : 1;
}

//  A peer proxy says so with a header (the original's convention).
static int
s_is_proxy_link (struct lws *wsi)
{
    static const char header [] = "x-broadcastwebsocket-proxy:";
    char value [16];
    if (lws_hdr_custom_length (wsi, header, sizeof header - 1) <= 0)
        return 0;
    if (lws_hdr_custom_copy (wsi, value, sizeof value, header, sizeof header - 1) < 0)
        return 0;
    return strcasecmp (value, "true") == 0;
}

//  Reads a request header name (e.g. "x-nws-resume:")
//  into buf. Returns its length, or -1 when it is absent or too long.
static int
s_header (struct lws *wsi, const char *name, char *buf, int cap)
{
    int nlen = (int) strlen (name);
    int len = lws_hdr_custom_length (wsi, name, nlen);
    if (len <= 0 || len >= cap || lws_hdr_custom_copy (wsi, buf, cap, name, nlen) < 0)
        return -1;
    return len;
}

//  Which proxy an inbound proxy link comes from: "id:<proxy id>" when an
//  nws peer says (X-Nws-Proxy-Id), else "mac:<link-layer address>" of the
//  peer's address from the kernel's neighbour table (the original proxy,
//  which dials once per address family from one network card), else "".
static void
s_proxy_identity (struct lws *wsi, char *buf, size_t cap)
{
    char id [NWS_PROXY_ID_LEN + 2];
    buf [0] = '\0';
    if (s_header (wsi, "x-nws-proxy-id:", id, sizeof id) > 0 && nws_runtime_proxy_id_valid (id)) {
        snprintf (buf, cap, "id:%s", id);
        return;
    }
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    char mac [NWS_NEIGH_MAX];
    if (getpeername (lws_get_socket_fd (wsi), (struct sockaddr *) &peer, &peer_len) == 0
    &&  nws_neigh_lookup ((struct sockaddr *) &peer, mac, sizeof mac) == 0)
        snprintf (buf, cap, "mac:%s", mac);
}

//  Where a peer proxy's link starts in the room's stream. An nws peer
//  (it sent its proxy id) says how far it got on an earlier link to this
//  room (X-Nws-Resume: <gateway>:<room epoch>:<next index>), and since
//  when it has missed messages (X-Nws-Since-Ms: since its host's clients
//  joined, or since its last link broke). It gets what it missed from the
//  replay ring: from the index it names in our stream, else (its stream
//  was another gateway's or room's, which restarted) what arrived since
//  then. The 101 tells it where its stream starts (X-Nws-Stream), so that
//  it can tell whether that was everything. Anyone else starts live.
static void
s_stream_start (nws_gateway_t *self, nws_session_t *session, nws_room_t *room,
                struct lws *wsi)
{
    char value [80];
    session->stream_from = room->replay.next;
    session->streamed = strncmp (session->proxy_peer, "id:", 3) == 0;
    if (!session->streamed)
        return;
    unsigned instance, epoch;
    unsigned long long next, since;
    char extra;
    if (s_header (wsi, "x-nws-resume:", value, sizeof value) > 0
    &&  sscanf (value, "%8x:%8x:%llu%c", &instance, &epoch, &next, &extra) == 3
    &&  instance == self->instance && epoch == room->epoch) {
        //  Our own stream: from where it stopped, if we still have that.
        if (next >= nws_replay_first (&room->replay) && next <= room->replay.next)
            session->stream_from = next;
    }
    else
    if (s_header (wsi, "x-nws-since-ms:", value, sizeof value) > 0
    &&  sscanf (value, "%llu%c", &since, &extra) == 1) {
        if (since > self->config.replay_ms)
            since = self->config.replay_ms;
        session->stream_from = nws_replay_since (&room->replay, zclock_mono () - (int64_t) since);
    }
}

//  The handshake is accepted: make sure the room exists and the hub
//  forwards it to us *before* lws sends 101, so the client misses nothing
//  sent after it sees the connection open.
static int
s_on_filter (nws_gateway_t *self, nws_session_t *session, struct lws *wsi)
{
    char path [NWS_TOPIC_MAX + 16];
    nws_channel_t channel;
    lws_hdr_copy (wsi, path, sizeof path, WSI_TOKEN_GET_URI);
    if (nws_channel_parse_path (path, &channel))
        return -1;
    nws_room_t *room = s_room_require (self, &channel);
    if (!room)
        return -1;
    session->is_proxy = channel.scope == NWS_SCOPE_BROADCAST && s_is_proxy_link (wsi);
    if (session->is_proxy) {
        s_proxy_identity (wsi, session->proxy_peer, sizeof session->proxy_peer);
        s_stream_start (self, session, room, wsi);
    }
    session->unsure = room->unconfirmed;
    session->room = room;
    if (nws_http_peer_address (wsi, session->peer, sizeof session->peer) == 0)
        s_peer_adjust (self, session->peer, +1);
    else
        session->peer [0] = '\0';
    session->joining = 1;
    room->joining++;
    s_arrived (self, wsi);
    return 0;
}

//  RFC 6455 7.4: the codes a peer may send in a close frame.
static int
s_close_code_valid (unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
        || (code >= 3000 && code <= 4999);
}

//  The client closes: nothing it sent after that counts (and a message it
//  left half-sent is dropped); a malformed close frame is answered 1002.
static int
s_on_peer_close (nws_gateway_t *self, nws_session_t *session, struct lws *wsi,
                 const void *in, size_t len)
{
    if (session->state == NWS_SESSION_OPEN)
        session->state = NWS_SESSION_CLOSING;
    nws_frame_unref (&session->rx);
    nws_queue_clear (&session->queue);
    const uint8_t *p = in;
    int code_ok = len == 0 || (len >= 2 && s_close_code_valid ((unsigned) (p [0] << 8 | p [1])));
    int reason_ok = len <= 2 || nws_utf8_valid (p + 2, len - 2);
    if (code_ok && reason_ok)
        return 0;
    self->counters.closed_bad_close++;
    //  lws would echo the peer's close frame: write our own (1002 for a
    //  bad code or length, 1007 for a reason that is not UTF-8), then
    //  return nonzero so that lws just closes.
    static const char bad_code [] = "\x88\x15\x03\xea" "invalid close frame";
    static const char bad_reason [] = "\x88\x1b\x03\xef" "close reason is not UTF-8";
    const char *close = code_ok ? bad_reason : bad_code;
    size_t close_len = code_ok ? sizeof bad_reason - 1 : sizeof bad_code - 1;
    uint8_t frame [LWS_PRE + sizeof bad_reason];
    memcpy (frame + LWS_PRE, close, close_len);
    lws_write (wsi, frame + LWS_PRE, close_len, LWS_WRITE_RAW);
    return -1;
}

static void
s_session_heard (nws_session_t *session)
{
    session->last_rx = zclock_mono ();
    session->ping_sent = 0;
}

static void
s_on_established (nws_gateway_t *self, nws_session_t *session, struct lws *wsi)
{
    s_session_heard (session);
    nws_room_t *room = session->room;
    session->wsi = wsi;
    session->id = ++self->next_id;
    session->state = NWS_SESSION_OPEN;
    session->joined_at = zclock_mono ();
    session->joining = 0;
    room->joining--;
    nws_room_add (room, session);
    self->sessions++;
    self->counters.accepted++;
    //  What its host missed goes first (a link of a proxy that another
    //  link already serves gets nothing: that one has it).
    if (session->is_proxy && !session->shadowed) {
        uint64_t replayed = 0;
        for (uint64_t i = session->stream_from; i < room->replay.next; i++) {
            nws_frame_t *frame = nws_replay_get (&room->replay, i);
            if (!frame || nws_queue_push (&session->queue, frame, (uint32_t) self->config.queue_msgs,
                                          self->config.queue_bytes))
                break;
            replayed++;
        }
        self->counters.replayed += replayed;
        if (session->stream_from + replayed < room->replay.next) {
            //  It would not fit the send queue: the peer hears of a loss.
            self->counters.closed_slow++;
            s_session_close (session, NWS_CLOSE_SLOW, "send queue full: reading too slowly");
        }
        else
        if (replayed)
            s_session_cork (self, session);
    }
    if (!session->is_proxy && room->clients == 1)
        s_room_interest (self, room, 1);
}

//  ---------------------------------------------------------------------
//  lws callbacks

//  A session closed by neither side's close frame: lws failed it, and the
//  code it chose (if any) waits in its close buffer. (Only protocol
//  errors: lws's UTF-8 check, whose 1007 could overwrite a 1002 already
//  sent, is off.)
static void
s_count_lws_close (nws_gateway_t *self, struct lws *wsi)
{
    const uint8_t *payload = lws_get_close_payload (wsi);
    if (lws_get_close_length (wsi) >= 2 && payload
    &&  (payload [0] << 8 | payload [1]) == LWS_CLOSE_STATUS_PROTOCOL_ERR)
        self->counters.closed_protocol++;
}

//  Tells a dialing peer proxy who we are, so that it links to us once
//  however many of our addresses it knows, and never to itself; and an nws
//  peer where its stream starts (s_stream_start).
static int
s_add_proxy_id (nws_gateway_t *self, nws_session_t *session, struct lws *wsi, void *in)
{
    struct lws_process_html_args *args = in;
    unsigned char *p = (unsigned char *) args->p, *end = p + args->max_len;
    if (lws_add_http_header_by_name (wsi, (const unsigned char *) "x-nws-proxy-id:",
                                     (const unsigned char *) self->proxy_id,
                                     (int) strlen (self->proxy_id), &p, end))
        return -1;
    if (session->streamed) {
        char stream [64];
        int len = snprintf (stream, sizeof stream, "%08x:%08x:%llu", self->instance,
                            session->room->epoch, (unsigned long long) session->stream_from);
        if (lws_add_http_header_by_name (wsi, (const unsigned char *) "x-nws-stream:",
                                         (const unsigned char *) stream, len, &p, end))
            return -1;
    }
    args->max_len -= (int) (p - (unsigned char *) args->p);
    args->p = (char *) p;
    return 0;
}

static int
s_callback_main (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                 void *in, size_t len)
{
    nws_gateway_t *self = s_gateway (wsi);
    nws_session_t *session = user;
    switch (reason) {
        case LWS_CALLBACK_HTTP:
            return s_on_http (self, wsi, in);
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            return s_on_confirm_upgrade (self, wsi);
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            return session ? s_on_filter (self, session, wsi) : -1;
        case LWS_CALLBACK_ADD_HEADERS:
            return session && session->is_proxy && session->room
                 ? s_add_proxy_id (self, session, wsi, in) : 0;
        case LWS_CALLBACK_ESTABLISHED:
            if (!session || !session->room)
                return -1;
            s_on_established (self, session, wsi);
            return 0;
        case LWS_CALLBACK_RECEIVE:
            s_session_heard (session);
            return s_session_receive (self, session, wsi, in, len);
        case LWS_CALLBACK_RECEIVE_PONG:
            s_session_heard (session);
            return 0;
        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
            return session ? s_on_peer_close (self, session, wsi, in, len) : 0;
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return s_session_writeable (session, wsi);
        case LWS_CALLBACK_CLOSED:
            if (session && session->state == NWS_SESSION_OPEN)
                s_count_lws_close (self, wsi);
            if (session)
                s_session_leave (self, session);
            return 0;
        case LWS_CALLBACK_WSI_CREATE:
            self->connections++;
            return 0;
        case LWS_CALLBACK_WSI_DESTROY:
            self->connections--;
            s_arrived (self, wsi);
            if (session)
                s_session_leave (self, session);
            return 0;
        default:
            return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}

static int
s_admit (void *arg)
{
    nws_gateway_t *self = arg;
    //  Connections beyond the limit are closed before any byte is read.
    if (s_connections (self) < self->config.max_clients + 64)
        return 1;
    self->counters.refused_full++;
    return 0;
}

static int
s_callback_listen (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                   void *in, size_t len)
{
    nws_gateway_t *self = s_gateway (wsi);
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        nws_listener_accept (self->listener, s_admit, self);
    (void) user, (void) in, (void) len;
    return 0;
}

static int
s_callback_head (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                 void *in, size_t len)
{
    nws_gateway_t *self = s_gateway (wsi);
    (void) user, (void) in, (void) len;
    return nws_listener_head_event (self->listener, wsi, (int) reason);
}

static int
s_callback_hub (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
    nws_gateway_t *self = s_gateway (wsi);
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        nws_hublink_readable (self->hub);
    (void) user, (void) in, (void) len;
    return 0;
}

static const struct lws_protocols s_protocols [] = {
    //  lws gives every connection an rx buffer of rx_buffer_size: 2 KiB keeps
    //  an idle client under 4 KiB in all (4 KiB, the default, does not);
    //  tx_packet_size lets our batched writes go out whole.
    { S_PROTOCOL_MAIN, s_callback_main, sizeof (nws_session_t), S_RX_BUFFER, 0, NULL,
      S_BATCH_BYTES },
    { S_PROTOCOL_LISTEN, s_callback_listen, 0, 0, 0, NULL, 0 },
    { S_PROTOCOL_HUB, s_callback_hub, 0, 0, 0, NULL, 0 },
    { S_PROTOCOL_HEAD, s_callback_head, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

//  Writes what is queued: one write per client (as uWebSockets corks). A
//  socket that still holds part of an earlier write, and a closing
//  session, wait for lws's WRITEABLE callback instead.
static void
s_flush (nws_gateway_t *self)
{
    nws_session_t *session;
    ev_idle_stop (self->loop, &self->idle);
    self->corked_turns = 0;
    while ((session = self->corked)) {
        s_session_uncork (self, session);
        if (session->state != NWS_SESSION_OPEN || lws_partial_buffered (session->wsi))
            lws_callback_on_writable (session->wsi);
        else
        if (s_session_writeable (session, session->wsi) < 0)
            //  The socket failed: lws closes it from its own loop turn.
            lws_set_timeout (session->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}

//  lws reads a client's socket rx_buffer_size bytes per loop turn: while
//  a sender's bytes keep coming, their fan-out waits a few turns so that
//  each receiver gets many messages per write.
static void
s_on_turn (struct ev_loop *loop, ev_prepare *watcher, int revents)
{
    nws_gateway_t *self = watcher->data;
    if (self->corked && ++self->corked_turns >= S_CORK_TURNS)
        s_flush (self);
    (void) loop, (void) revents;
}

static void
s_on_idle (struct ev_loop *loop, ev_idle *watcher, int revents)
{
    s_flush (watcher->data);
    (void) loop, (void) revents;
}

//  ---------------------------------------------------------------------
//  Lifecycle

//  Receive buffers for lws (nws_rxpool.h). lws's allocator takes no
//  argument, and there is one gateway per process.
static nws_rxpool_t *s_rxpool = NULL;

static void *
s_lws_realloc (void *ptr, size_t size, const char *reason)
{
    if (ptr && nws_rxpool_owns (s_rxpool, ptr)) {
        if (size && size <= nws_rxpool_size (s_rxpool))
            return ptr;
        void *copy = NULL;
        if (size) {
            if (!(copy = malloc (size)))
                return NULL;
            memcpy (copy, ptr, nws_rxpool_size (s_rxpool));
        }
        nws_rxpool_free (s_rxpool, ptr);
        return copy;
    }
    if (!size) {
        free (ptr);
        return NULL;
    }
    void *slot = NULL;
    if (!ptr && s_rxpool && size <= nws_rxpool_size (s_rxpool)
    &&  reason && strcmp (reason, "rx_ubuf") == 0)
        slot = nws_rxpool_alloc (s_rxpool);
    return slot ? slot : realloc (ptr, size);
}

nws_gateway_t *
nws_gateway_new (const nws_gateway_config_t *config)
{
    nws_gateway_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->started = zclock_mono ();
    self->instance = nws_runtime_random_id ();
    int rc = nws_runtime_proxy_id (config->runtime_dir, self->proxy_id, sizeof self->proxy_id);
    if (rc < 0) {
        nws_error ("cannot read or create %s/proxy-id: %s", config->runtime_dir, strerror (-rc));
        goto fail;
    }
    self->rooms = zhashx_new ();
    self->peers = zhashx_new ();
    self->departed = zlistx_new ();
    self->confirming = zlistx_new ();
    self->confirming_next = zlistx_new ();
    if (!self->rooms || !self->peers || !self->departed || !self->confirming
    ||  !self->confirming_next)
        goto fail;
    zlistx_set_destructor (self->departed, s_departed_free);
    self->listener = nws_listener_new (config->bind, (uint16_t) config->port, S_HEAD_MAX,
                                       NWS_DEFAULT_HANDSHAKE_SECS);
    if (!self->listener)
        goto fail;
    self->hub = nws_hublink_new (config->runtime_dir, self->instance, s_on_hub_message,
                                 s_on_hub_sync, self);
    if (!self->hub)
        goto fail;

    lws_set_log_level (LLL_ERR | LLL_WARN, nws_log_lws);
    //  Room for every client, and for the handshakes let in beyond them.
    s_rxpool = nws_rxpool_new (LWS_PRE + S_RX_BUFFER + 4, config->max_clients + 64);
    if (!s_rxpool)
        nws_warn ("cannot reserve receive buffers: lws allocates them");
    lws_set_allocator (s_lws_realloc);
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = s_protocols;
    info.user = self;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.timeout_secs = NWS_DEFAULT_HANDSHAKE_SECS;
    info.vhost_name = "nws";
    //  Browsers send cookies for localhost too: 4 KiB of headers (lws's
    //  default) is not enough; 8 KiB is what most servers take.
    info.max_http_header_data = S_HEAD_MAX;
    //  One read takes in many messages (lws's default of 4 KiB would cap
    //  reads below S_RX_BUFFER), and their fan-out goes in one write.
    info.pt_serv_buf_size = S_READ_BYTES;
    //  No lws validity timers: lws keeps them in one sorted list, so every
    //  new connection costs a walk over all the others (a quarter of the
    //  gateway's time at 8,000 clients). s_sweep does pings instead.
    info.retry_and_idle_policy = &self->idle_policy;
    //  lws's own loop calls poll() over every descriptor on every turn:
    //  5,000 idle clients cut a busy channel's throughput by 80 %. On
    //  libev's epoll loop (ours, run in nws_gateway_run) they cost nothing.
    self->loop = ev_loop_new (EVBACKEND_EPOLL);
    if (!self->loop) {
        nws_error ("ev_loop_new: no epoll");
        goto fail;
    }
    ev_prepare_init (&self->turn, s_on_turn);
    ev_idle_init (&self->idle, s_on_idle);
    self->turn.data = self->idle.data = self;
    ev_prepare_start (self->loop, &self->turn);
    void *loops [1] = { self->loop };
    info.options |= LWS_SERVER_OPTION_LIBEV;
    info.foreign_loops = loops;
    self->context = lws_create_context (&info);
    if (!self->context) {
        nws_error ("lws_create_context failed (is libwebsockets-evlib-ev installed?)");
        goto fail;
    }
    self->vhost = lws_create_vhost (self->context, &info);
    if (!self->vhost) {
        nws_error ("lws_create_vhost failed");
        goto fail;
    }
    nws_listener_set_route (self->listener, s_route, self);
    if (nws_listener_attach (self->listener, self->vhost, S_PROTOCOL_LISTEN, S_PROTOCOL_HEAD)
    ||  nws_hublink_attach (self->hub, self->vhost, S_PROTOCOL_HUB))
        goto fail;
    //  The two raw descriptors just adopted are not connections.
    self->connections = 0;
    return self;
fail:
    nws_gateway_destroy (&self);
    return NULL;
}

uint16_t
nws_gateway_port (nws_gateway_t *self)
{
    return nws_listener_port (self->listener);
}

static void
s_on_wake (lws_sorted_usec_list_t *sul)
{
    (void) sul;
}

//  Says goodbye with 1001 to every client, and gives the close frames up to
//  a second to leave before the context is torn down.
static void
s_close_all (nws_gateway_t *self)
{
    for (nws_room_t *room = zhashx_first (self->rooms); room; room = zhashx_next (self->rooms))
        for (nws_session_t *s = room->first; s; s = s->next)
            s_session_close (s, NWS_CLOSE_SHUTDOWN, "gateway shutting down");
    lws_sorted_usec_list_t wake;
    memset (&wake, 0, sizeof wake);
    int64_t deadline = zclock_mono () + 1000;
    lws_sul_schedule (self->context, 0, &wake, s_on_wake, 1000 * LWS_US_PER_MS);
    while (self->sessions && zclock_mono () < deadline)
        ev_run (self->loop, EVRUN_ONCE);
    lws_sul_cancel (&wake);
}

//  Tells the other gateways how far this client has got, so that they
//  notice lost messages even when nothing follows them: for a few seconds
//  after its last message, and again after the hub (re)connects, since a
//  dead hub takes both messages and marks with it. Idle senders are quiet.
static void
s_session_mark (nws_gateway_t *self, nws_room_t *room, nws_session_t *session, int hub_back)
{
    if (!session->seq)
        return;
    if (session->seq != session->marked_seq || hub_back) {
        session->marked_seq = session->seq;
        session->mark_ticks = S_MARK_TICKS;
    }
    if (!session->mark_ticks)
        return;
    session->mark_ticks--;
    nws_envelope_t env = {
        .kind = NWS_KIND_TEXT,
        .flags = NWS_FLAG_CONTROL,
        .origin = (uint64_t) self->instance << 32 | session->id,
        .seq = session->seq,
    };
    char mark [NWS_CONTROL_MARK_MAX];
    int len = nws_control_mark ((uint64_t) (zclock_mono () - session->sent_at), mark, sizeof mark);
    nws_hublink_publish (self->hub, room->topic, room->topic_len, &env, mark, (size_t) len);
}

//  The marks of senders that left, for as long as they are due.
static void
s_departed_marks (nws_gateway_t *self, int hub_back)
{
    zlistx_t *due = zlistx_new ();
    if (!due)
        return;
    zlistx_set_destructor (due, s_departed_free);
    s_departed_t *d;
    while ((d = zlistx_detach (self->departed, NULL))) {
        if (hub_back)
            d->ticks = S_MARK_TICKS;
        nws_envelope_t env = {
            .kind = NWS_KIND_TEXT,
            .flags = NWS_FLAG_CONTROL,
            .origin = d->origin,
            .seq = d->seq,
        };
        char mark [NWS_CONTROL_MARK_MAX];
        int len = nws_control_mark ((uint64_t) (zclock_mono () - d->sent_at), mark, sizeof mark);
        nws_hublink_publish (self->hub, d->topic, d->topic_len, &env, mark, (size_t) len);
        self->counters.departed_marks++;
        if (--d->ticks > 0)
            zlistx_add_end (due, d);
        else
            free (d);
    }
    zlistx_destroy (&self->departed);
    self->departed = due;
}

//  Keepalive for one room: ping a client silent for ping_secs, drop one
//  silent (pongs count) for idle_secs.
static void
s_room_keepalive (nws_gateway_t *self, nws_room_t *room, int64_t now)
{
    for (nws_session_t *s = room->first; s; s = s->next) {
        int64_t silent = now - s->last_rx;
        if (s->state != NWS_SESSION_OPEN)
            continue;
        //  Dropped only once a ping went unanswered for a second: the
        //  sweep's own step must not make a live client look silent.
        if (silent > (int64_t) self->config.idle_secs * 1000
        &&  s->ping_sent && now - s->ping_sent_at >= 1000) {
            self->counters.closed_idle++;
            s->state = NWS_SESSION_CLOSING;
            lws_set_timeout (s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
        else
        if (silent > (int64_t) self->config.ping_secs * 1000 && !s->ping_sent) {
            s->ping_due = 1;
            lws_callback_on_writable (s->wsi);
        }
    }
}

//  Once a second, for every room: a sync while the hub has not confirmed
//  it (the first one sent since counts), marks, the replay ring's trim,
//  and keepalive. The rooms are walked from a copy of the table: what the
//  sweep calls may look rooms up, which moves the table's own cursor.
static void
s_sweep (nws_gateway_t *self)
{
    int64_t now = zclock_mono ();
    if (now < self->next_sweep)
        return;
    self->next_sweep = now + 1000;
    int hub_back = nws_hublink_connects (self->hub) > 0;
    s_departed_marks (self, hub_back);
    zlistx_t *rooms = zhashx_values (self->rooms);
    if (!rooms)
        return;
    for (nws_room_t *room = zlistx_first (rooms); room; room = zlistx_next (rooms)) {
        if (room->unconfirmed && !room->confirming) {
            uint64_t seq = nws_hublink_sync (self->hub, room->topic, room->topic_len);
            if (!room->sync_from)
                room->sync_from = seq;
        }
        for (nws_session_t *s = room->first; s; s = s->next)
            s_session_mark (self, room, s, hub_back);
        nws_replay_trim (&room->replay, now, (int64_t) self->config.replay_ms,
                         self->config.replay_bytes, NWS_REPLAY_MAX_MSGS);
        s_room_keepalive (self, room, now);
    }
    zlistx_destroy (&rooms);
}

//  A signal that lands between the loop's check of *stop and epoll_wait()
//  would wait for the next event; this tick bounds that wait.
static void
s_on_tick (lws_sorted_usec_list_t *sul)
{
    nws_gateway_t *self = lws_container_of (sul, nws_gateway_t, tick);
    s_sweep (self);
    lws_sul_schedule (self->context, 0, &self->tick, s_on_tick, S_TICK_MS * LWS_US_PER_MS);
}

int
nws_gateway_run (nws_gateway_t *self, volatile sig_atomic_t *stop)
{
    s_on_tick (&self->tick);
    while (!*stop)
        ev_run (self->loop, EVRUN_ONCE);
    lws_sul_cancel (&self->tick);
    lws_sul_cancel (&self->confirm_timer);
    s_close_all (self);
    return 0;
}

void
nws_gateway_destroy (nws_gateway_t **self_p)
{
    nws_gateway_t *self = *self_p;
    if (!self)
        return;
    //  lws calls back for every connection while it is destroyed, and
    //  rooms unsubscribe through the hub link: keep both until then.
    if (self->context)
        lws_context_destroy (self->context);
    nws_rxpool_destroy (&s_rxpool);
    if (self->loop) {
        ev_prepare_stop (self->loop, &self->turn);
        ev_idle_stop (self->loop, &self->idle);
        ev_loop_destroy (self->loop);
    }
    nws_hublink_destroy (&self->hub);
    nws_listener_destroy (&self->listener);
    zhashx_destroy (&self->rooms);
    zhashx_destroy (&self->peers);
    zlistx_destroy (&self->departed);
    zlistx_destroy (&self->confirming);
    zlistx_destroy (&self->confirming_next);
    free (self);
    *self_p = NULL;
}
