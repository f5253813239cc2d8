/*  nws_room - the gateway's view of one channel: its clients here, its
    hub subscription, and per-origin sequence tracking to detect gaps.

    Internal to the gateway. A room exists while it has clients or clients
    in the middle of their handshake; the gateway subscribes to its topic
    when it is created and unsubscribes when it is freed.
*/
#ifndef NWS_ROOM_H
#define NWS_ROOM_H

#include <libwebsockets.h>
#include <stdint.h>

#include "nws_channel.h"
#include "nws_envelope.h"
#include "nws_frame.h"
#include "nws_replay.h"

#define NWS_ROOM_ORIGINS 16         /* origins tracked per room for gap checks */

typedef enum {
    NWS_SESSION_HTTP = 0,           /* plain HTTP or handshake in progress */
    NWS_SESSION_OPEN,               /* WebSocket open, in its room */
    NWS_SESSION_CLOSING             /* close decided; waiting to send it */
} nws_session_state_t;

typedef struct nws_room_t nws_room_t;
typedef struct nws_session_t nws_session_t;

struct nws_session_t {
    struct lws *wsi;                /* the connection */
    nws_session_state_t state;      /* see above */
    nws_room_t *room;               /* joined (or joining) room, or NULL */
    int joining;                    /* counted in room->joining */
    nws_session_t *prev, *next;     /* room membership, while OPEN/CLOSING */
    int corked;                     /* frames queued this loop turn: written at its end */
    nws_session_t *cork_prev, *cork_next; /* in the gateway's list of those */
    uint32_t id;                    /* connection number: low half of origin */
    uint64_t seq;                   /* last sequence number we sent */
    uint64_t marked_seq;            /* seq when its marks began */
    int mark_ticks;                 /* marks still to send for it */
    int64_t sent_at;                /* zclock_mono of its last message */
    int64_t joined_at;              /* zclock_mono when it joined */
    int is_proxy;                   /* a peer proxy's link */
    char proxy_peer [64];           /* which proxy: "id:..." or "mac:...", or "" */
    int shadowed;                   /* another link of that proxy gets our messages */
    int streamed;                   /* an nws peer's link: told its stream position */
    uint64_t stream_from;           /* first stream index it gets (replay) */
    int unsure;                     /* joined while the room was unconfirmed */
    nws_frame_t *rx;                /* message being reassembled, or NULL */
    size_t rx_utf8;                 /* bytes of a text rx known to be whole UTF-8 */
    nws_queue_t queue;              /* frames waiting to be written */
    char peer [48];                 /* peer address, counted in the gateway's table */
    int64_t last_rx;                /* zclock_mono when we last heard from it */
    int ping_due;                   /* send a ping at the next WRITEABLE */
    int ping_sent;                  /* a ping is out, unanswered */
    int64_t ping_sent_at;           /* zclock_mono when it went */
    uint16_t close_code;            /* when CLOSING */
    const char *close_reason;       /* when CLOSING, static */
};

struct nws_room_t {
    nws_channel_t channel;          /* scope and name */
    char topic [NWS_TOPIC_MAX];     /* hub topic, not NUL-terminated */
    size_t topic_len;               /* its length */
    char key [NWS_TOPIC_MAX + 1];   /* topic as a C string, for the registry */
    nws_session_t *first;           /* members, newest first */
    uint32_t clients;               /* members that are not proxies */
    uint32_t proxies;               /* members that are proxy links */
    uint32_t joining;               /* handshakes under way */
    uint64_t messages;              /* messages delivered into this room */
    int unconfirmed;                /* the hub has not confirmed our subscription */
    uint64_t sync_from;             /* first sync of the confirmation under way, or 0 */
    int64_t sync_deadline;          /* a new room's wait for it ends, zclock_mono */
    int64_t sync_resend;            /* its next sync goes then */
    int confirming;                 /* new: in the gateway's list of rooms waiting */
    uint32_t held;                  /* connections the listener holds for it */
    uint32_t arriving;              /* released by it, not yet at the handshake */
    struct {
        uint64_t origin;            /* sender */
        uint64_t seq;               /* last sequence number seen */
        uint64_t used;              /* last use, for replacement */
    } origins [NWS_ROOM_ORIGINS];
    uint64_t clock;                 /* ticks for origins[].used */
    uint32_t epoch;                 /* random: names this room's stream */
    nws_replay_t replay;            /* broadcast: recent messages of local origin */
};

/*  Allocates a room for channel. Returns NULL when out of memory.  */
nws_room_t *nws_room_new (const nws_channel_t *channel);

/*  Frees the room (members must be gone). Safe on NULL.  */
void nws_room_destroy (nws_room_t **self_p);

/*  Adds an OPEN session; removes a member. The original proxy, which
    dials once per address family, gets messages on one link only: its
    newest (an older one may be half dead); the others, from the same
    network card, are shadowed, and the newest of them takes over when the
    carrier leaves. */
void nws_room_add (nws_room_t *self, nws_session_t *session);
void nws_room_remove (nws_room_t *self, nws_session_t *session);

/*  Records a message from origin with seq. Returns 1 if messages from
    that origin were lost before it (a gap), else 0. seq 0 is unsequenced.  */
int nws_room_track (nws_room_t *self, uint64_t origin, uint64_t seq);

/*  1 if origin is tracked and seq (a sender's "sent so far" mark) is past
    the last message seen from it: messages were lost. Else 0.  */
int nws_room_behind (nws_room_t *self, uint64_t origin, uint64_t seq);

/*  1 if messages from origin have been seen here.  */
int nws_room_knows (nws_room_t *self, uint64_t origin);

#endif
