/*  nws_gateway - the HTTP/WebSocket server: clients in, hub out and back.  */
#include "nws_gateway.h"

#include <czmq.h>
#include <ev.h>
#include <errno.h>
#include <libwebsockets.h>
#include <string.h>
#include <unistd.h>

#include "nws_admit.h"
#include "nws_channel.h"
#include "nws_http.h"
#include "nws_hublink.h"
#include "nws_limits.h"
#include "nws_listener.h"
#include "nws_log.h"
#include "nws_proxylink.h"
#include "nws_room.h"
#include "nws_runtime.h"
#include "nws_rxpool.h"
#include "nws_session.h"
#include "nws_status.h"

//  A client that left while its marks were still due: they go on for it,
//  so that a receiver notices lost messages that nothing followed.
typedef struct {
    char topic [NWS_TOPIC_MAX];     /* its channel's topic */
    size_t topic_len;               /* bytes used */
    uint64_t origin;                /* its origin */
    uint64_t seq;                   /* its last sequence number */
    int64_t sent_at;                /* when it sent that */
    int64_t first_sent_at;          /* when it sent its first message */
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
    struct lws_vhost *vhost;        /* plain HTTP and WebSocket */
    struct lws_vhost *tls_vhost;    /* proxy links over TLS, with a network key */
    nws_log_rate_t tls_log;         /* refused handshakes logged */
    nws_listener_t *listener;       /* our SO_REUSEPORT socket */
    nws_hublink_t *hub;             /* PUB/SUB on the hub */
    zhashx_t *rooms;                /* topic -> nws_room_t */
    nws_admit_t *admit;             /* who gets in */
    zlistx_t *departed;             /* s_departed_t: senders gone, marks still due */
    zlistx_t *confirming;           /* nws_room_t: new rooms waiting for a sync */
    zlistx_t *confirming_next;      /* spare, swapped with confirming */
    lws_sorted_usec_list_t confirm_timer; /* resends syncs, ends waits */
    uint32_t next_id;               /* for session ids */
    uint32_t connections;           /* sockets open, HTTP or WebSocket */
    uint32_t sessions;              /* WebSockets open */
    nws_counters_t counters;        /* published by nws_status */
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
#define S_TICK_MS 200               /* longest wait to notice a stop signal */
#define S_READ_BYTES 262144         /* lws's read buffer (one per thread): caps every read */
#define S_CORK_TURNS 32             /* loop turns that queued frames wait, at most */
#define S_RX_BUFFER 16384           /* lws rx buffer per connection: lws reads this much per loop turn */
#define S_SYNC_RESEND_MS 5          /* a sync can be dropped before the hub has our subscription */
#define S_QUIET_SYNC_MS 20          /* wait for a new channel's sync while the hub seems down */
#define S_MARK_TICKS 3              /* sweeps that repeat a sender's mark */
#define S_MARK_SLACK_MS 250         /* a mark's age is trusted to within this */

static nws_gateway_t *
s_gateway (struct lws *wsi)
{
    return lws_context_user (lws_get_context (wsi));
}

static void s_on_confirm_timer (lws_sorted_usec_list_t *sul);

//  ---------------------------------------------------------------------
//  Rooms

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

//  ---------------------------------------------------------------------
//  Joining a new channel: held connections and syncs

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
//  Delivery

//  Frames were queued for session: they go out when the loop has no more
//  events waiting (or after S_CORK_TURNS turns), with all that is queued
//  for it by then, in one write (s_flush). No poll for writability first:
//  most sockets can take it at once.
static void
s_cork (nws_gateway_t *self, nws_session_t *session)
{
    if (nws_session_cork (session, &self->corked))
        ev_idle_start (self->loop, &self->idle);
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
            nws_session_close (s, NWS_CLOSE_SLOW, "send queue full: reading too slowly");
            continue;
        }
        self->counters.deliveries++;
        if (was_empty)
            s_cork (self, s);
    }
}

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
            nws_session_close (s, NWS_CLOSE_GAP, "messages were lost upstream");
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

//  Messages of a sender went age_ms ago, and none of them arrived here:
//  a client that had joined by then (with slack for the mark's own trip)
//  lost them.
static void
s_room_missed (nws_gateway_t *self, nws_room_t *room, uint64_t age_ms, int from_proxy,
               const char *what)
{
    if (age_ms > INT32_MAX)
        return;
    int64_t sent = zclock_mono () - (int64_t) age_ms;
    int lost = 0;
    for (nws_session_t *s = room->first; s; s = s->next)
        if (s->state == NWS_SESSION_OPEN && !(from_proxy && s->is_proxy)
        &&  s->joined_at + S_MARK_SLACK_MS < sent) {
            self->counters.closed_gap++;
            nws_session_close (s, NWS_CLOSE_GAP, "messages were lost upstream");
            lost = 1;
        }
    if (lost) {
        self->counters.gaps++;
        nws_warn ("messages lost on %s (%s); closing the clients that were here then",
                  room->key, what);
    }
}

//  A sender says how far it got (its mark). Lost messages show three ways:
//  it is past what arrived here; it was never heard here, yet its last
//  message went after a client joined; or the first message heard here
//  was not its first, yet its first went after a client joined.
static void
s_room_mark (nws_gateway_t *self, nws_room_t *room, nws_hubmsg_t *msg, int from_proxy)
{
    uint64_t origin = msg->env.origin, last, first;
    if (nws_room_behind (room, origin, msg->env.seq)) {
        s_room_lost (self, room, "a sender is past what arrived", from_proxy);
        return;
    }
    if (nws_control_mark_age (zmq_msg_data (&msg->payload), zmq_msg_size (&msg->payload),
                              &last, &first))
        return;
    if (!nws_room_knows (room, origin))
        s_room_missed (self, room, last, from_proxy, "a sender never seen here is past them");
    else
    if (nws_room_first (room, origin) > 1 && first != NWS_MARK_NO_AGE) {
        s_room_missed (self, room, first, from_proxy, "a sender's first messages never came");
        nws_room_settle (room, origin);
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
            s_room_mark (self, room, msg, from_proxy);
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
                nws_session_close (s, NWS_CLOSE_GAP, "joined while the hub was away");
            }
    s_room_forward (self, room, msg);
}

//  ---------------------------------------------------------------------
//  Sessions in their rooms

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
    session->is_proxy = channel.scope == NWS_SCOPE_BROADCAST && nws_proxylink_is (wsi);
    if (session->is_proxy) {
        nws_proxylink_identity (wsi, session->proxy_peer, sizeof session->proxy_peer);
        nws_proxylink_stream_start (session, room, wsi, self->instance, self->config.replay_ms);
    }
    session->unsure = room->unconfirmed;
    session->room = room;
    if (!session->is_proxy) {
        char origin [NWS_ORIGIN_MAX + 1];
        int found = nws_admit_origin (wsi, origin, sizeof origin);
        session->origin_slot = (uint8_t) nws_origin_tally_add (&room->web_origins,
                                                               found ? origin : NULL);
    }
    nws_admit_join (self->admit, wsi, session->peer, sizeof session->peer);
    session->state = NWS_SESSION_JOINING;
    room->joining++;
    s_arrived (self, wsi);
    return 0;
}

static void
s_on_established (nws_gateway_t *self, nws_session_t *session, struct lws *wsi)
{
    nws_session_heard (session);
    nws_room_t *room = session->room;
    session->wsi = wsi;
    session->id = ++self->next_id;
    session->state = NWS_SESSION_OPEN;
    session->joined_at = zclock_mono ();
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
            nws_session_close (session, NWS_CLOSE_SLOW, "send queue full: reading too slowly");
        }
        else
        if (replayed)
            s_cork (self, session);
    }
    if (!session->is_proxy && room->clients == 1)
        s_room_interest (self, room, 1);
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
    if (session->seq == 0)
        session->first_sent_at = session->sent_at;
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

//  One piece of a client's message: dispatched when it is whole. Returns
//  -1 to close the connection.
static int
s_session_receive (nws_gateway_t *self, nws_session_t *session, struct lws *wsi,
                   const void *in, size_t len)
{
    nws_session_heard (session);
    switch (nws_session_receive (session, wsi, in, len, self->config.max_message)) {
        case NWS_SESSION_RX_MORE:
            return 0;
        case NWS_SESSION_RX_MESSAGE:
            s_session_message (self, session);
            return 0;
        case NWS_SESSION_RX_TOO_BIG:
            self->counters.closed_too_big++;
            nws_info ("closing a client of %s: message larger than %llu bytes",
                      session->room->key, (unsigned long long) self->config.max_message);
            return -1;
        case NWS_SESSION_RX_BAD_UTF8:
            self->counters.closed_bad_utf8++;
            return -1;
        default:
            return -1;
    }
}

//  The client closes: see nws_session_peer_close.
static int
s_on_peer_close (nws_gateway_t *self, nws_session_t *session, struct lws *wsi,
                 const void *in, size_t len)
{
    if (!nws_session_peer_close (session, wsi, in, len))
        return 0;
    self->counters.closed_bad_close++;
    return -1;
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
    departed->first_sent_at = session->first_sent_at;
    departed->ticks = S_MARK_TICKS;
    zlistx_add_end (self->departed, departed);
}

static void
s_session_leave (nws_gateway_t *self, nws_session_t *session)
{
    nws_room_t *room = session->room;
    if (room) {
        nws_origin_tally_remove (&room->web_origins, session->origin_slot);
        session->origin_slot = 0;
        if (session->state == NWS_SESSION_JOINING)
            room->joining--;
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
    if (session->state != NWS_SESSION_HTTP)
        session->state = NWS_SESSION_GONE;
    nws_admit_leave (self->admit, session->peer);
    nws_session_release (session, &self->corked);
}

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

//  ---------------------------------------------------------------------
//  Status pages

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

//  What the status pages show, now.
static void
s_status (nws_gateway_t *self, nws_status_t *status)
{
    *status = (nws_status_t) {
        .counters = &self->counters,
        .rooms = self->rooms,
        .instance = self->instance,
        .port = nws_listener_port (self->listener),
        .uptime_ms = zclock_mono () - self->started,
        .connections = s_connections (self),
        .clients = self->sessions,
        .runtime_dir = self->config.runtime_dir,
        .private_broadcast = self->config.key != NULL,
    };
    nws_hublink_stats (self->hub, &status->hub);
    nws_listener_stats (self->listener, &status->door);
}

static int
s_on_http (nws_gateway_t *self, struct lws *wsi, const char *path)
{
    const nws_status_page_t *page = nws_status_page (path);
    if (!page)
        return nws_admit_http (self->admit, wsi, path, nws_listener_port (self->listener));
    const char *why = NULL;
    int refused = nws_admit_page (wsi, &why);
    if (refused)
        return nws_admit_error (self->admit, wsi, refused, why);
    nws_status_t status;
    s_status (self, &status);
    nws_text_t body = { 0 };
    page->render (&status, &body);
    int rc = nws_http_respond (wsi, 200, page->type, NULL, &body);
    nws_text_free (&body);
    return rc;
}

//  ---------------------------------------------------------------------
//  lws callbacks

//  A TLS handshake failed on our side: a peer without the network key.
static void
s_on_tls_refused (void *arg, int fd, const char *why)
{
    nws_gateway_t *self = arg;
    self->counters.refused_tls++;
    char peer [48] = "?";
    if (nws_log_rate (&self->tls_log, NWS_LOG_REFUSALS_PER_SEC)) {
        nws_http_fd_peer_address (fd, peer, sizeof peer);
        nws_info ("refused a TLS link from %s: %s (no network key, or another)", peer, why);
    }
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
            return nws_admit_upgrade (self->admit, wsi, self->sessions, self->rooms);
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            return session ? s_on_filter (self, session, wsi) : -1;
        case LWS_CALLBACK_ADD_HEADERS:
            return session && session->is_proxy && session->room
                 ? nws_proxylink_headers (session, wsi, in, self->proxy_id, self->instance)
                 : 0;
        case LWS_CALLBACK_ESTABLISHED:
            if (!session || !session->room)
                return -1;
            s_on_established (self, session, wsi);
            return 0;
        case LWS_CALLBACK_RECEIVE:
            return s_session_receive (self, session, wsi, in, len);
        case LWS_CALLBACK_RECEIVE_PONG:
            nws_session_heard (session);
            return 0;
        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
            return session ? s_on_peer_close (self, session, wsi, in, len) : 0;
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return nws_session_writeable (session, wsi);
        case LWS_CALLBACK_CLOSED:
            if (session && session->state == NWS_SESSION_OPEN)
                s_count_lws_close (self, wsi);
            if (session)
                s_session_leave (self, session);
            return 0;
        case LWS_CALLBACK_WSI_CREATE:
            self->connections++;
            return 0;
        case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
            //  The TLS vhost's context: links with the network key only.
            return nws_netkey_tls_server (self->config.key, user, s_on_tls_refused, self);
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
    //  lws gives every connection an rx buffer of rx_buffer_size (from
    //  nws_rxpool: an idle client's costs no memory); tx_packet_size lets
    //  our batched writes go out whole.
    { S_PROTOCOL_MAIN, s_callback_main, sizeof (nws_session_t), S_RX_BUFFER, 0, NULL,
      NWS_SESSION_BATCH_BYTES },
    { S_PROTOCOL_LISTEN, s_callback_listen, 0, 0, 0, NULL, 0 },
    { S_PROTOCOL_HUB, s_callback_hub, 0, 0, 0, NULL, 0 },
    { S_PROTOCOL_HEAD, s_callback_head, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

//  ---------------------------------------------------------------------
//  Writes

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
        nws_session_uncork (session, &self->corked);
        if (session->state != NWS_SESSION_OPEN || lws_partial_buffered (session->wsi))
            lws_callback_on_writable (session->wsi);
        else
        if (nws_session_writeable (session, session->wsi) < 0)
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
//  Marks and keepalive

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
    int64_t now = zclock_mono ();
    int len = nws_control_mark ((uint64_t) (now - session->sent_at),
                                (uint64_t) (now - session->first_sent_at), mark, sizeof mark);
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
        int64_t now = zclock_mono ();
        int len = nws_control_mark ((uint64_t) (now - d->sent_at), (uint64_t) (now - d->first_sent_at),
                                    mark, sizeof mark);
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
        if (s->state != NWS_SESSION_OPEN)
            continue;
        nws_keepalive_t due = nws_session_keepalive (s, now, (int64_t) self->config.ping_secs * 1000,
                                                     (int64_t) self->config.idle_secs * 1000);
        if (due == NWS_KEEPALIVE_DROP) {
            self->counters.closed_idle++;
            s->state = NWS_SESSION_CLOSING;
            lws_set_timeout (s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
        else
        if (due == NWS_KEEPALIVE_PING) {
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

//  With a network key: a second vhost for TLS, where peer proxies link
//  (nws_netkey: TLS 1.3 with the key as PSK; its context is set up in
//  LOAD_EXTRA_SERVER_VERIFY_CERTS). The listener sends it every
//  connection that opens with a TLS handshake, so one port serves both.
static int
s_tls_vhost_new (nws_gateway_t *self, const struct lws_context_creation_info *plain)
{
    struct lws_context_creation_info info = *plain;
    info.vhost_name = "nws-tls";
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT
                 |  LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX;
    self->tls_vhost = lws_create_vhost (self->context, &info);
    if (!self->tls_vhost) {
        nws_error ("cannot set up TLS for the network key");
        return -1;
    }
    nws_listener_set_tls (self->listener, self->tls_vhost);
    nws_admit_set_private (self->admit, self->config.lan_clients);
    return 0;
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
    nws_admit_limits_t limits = {
        .max_clients = config->max_clients,
        .max_per_address = config->max_per_address,
        .max_channels = config->max_channels,
    };
    self->admit = nws_admit_new (&limits, &self->counters);
    if (self->admit)
        nws_admit_set_origins (self->admit, config->origins);
    self->departed = zlistx_new ();
    self->confirming = zlistx_new ();
    self->confirming_next = zlistx_new ();
    if (!self->rooms || !self->admit || !self->departed || !self->confirming
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
    if (config->key)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
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
    if (config->key && s_tls_vhost_new (self, &info))
        goto fail;
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
            nws_session_close (s, NWS_CLOSE_SHUTDOWN, "gateway shutting down");
    lws_sorted_usec_list_t wake;
    memset (&wake, 0, sizeof wake);
    int64_t deadline = zclock_mono () + 1000;
    lws_sul_schedule (self->context, 0, &wake, s_on_wake, 1000 * LWS_US_PER_MS);
    while (self->sessions && zclock_mono () < deadline)
        ev_run (self->loop, EVRUN_ONCE);
    lws_sul_cancel (&wake);
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
    nws_admit_destroy (&self->admit);
    zlistx_destroy (&self->departed);
    zlistx_destroy (&self->confirming);
    zlistx_destroy (&self->confirming_next);
    free (self);
    *self_p = NULL;
}
