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
#include "nws_origin.h"
#include "nws_replay.h"
#include "nws_session.h"

#define NWS_ROOM_ORIGINS_MAX 4096   /* senders tracked per room for gap checks */

//  One sender heard from in a room.
typedef struct {
    uint64_t origin;                /* its origin */
    uint64_t seq;                   /* last sequence number seen */
    uint64_t first;                 /* first one seen; 1 once its start is accounted for */
    uint64_t used;                  /* last use, for replacement */
} nws_room_origin_t;

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
    nws_room_origin_t *origins;     /* senders heard from, by origin, ascending */
    uint32_t origin_count;          /* entries used */
    uint32_t origin_cap;            /* entries allocated */
    uint64_t clock;                 /* ticks for origins[].used */
    uint32_t epoch;                 /* random: names this room's stream */
    nws_replay_t replay;            /* broadcast: recent messages of local origin */
    nws_origin_tally_t web_origins; /* the web origins its clients come from */
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
    that origin were lost before it (a gap), else 0; the first message of
    an origin is no gap (nws_room_first tells where it began). seq 0 is
    unsequenced. Every sender is remembered, up to NWS_ROOM_ORIGINS_MAX:
    beyond, the least recent is forgotten.  */
int nws_room_track (nws_room_t *self, uint64_t origin, uint64_t seq);

/*  1 if origin is tracked and seq (a sender's "sent so far" mark) is past
    the last message seen from it: messages were lost. Else 0.  */
int nws_room_behind (nws_room_t *self, uint64_t origin, uint64_t seq);

/*  1 if messages from origin have been seen here.  */
int nws_room_knows (nws_room_t *self, uint64_t origin);

/*  The first sequence number seen here from origin: above 1, the sender
    was under way when this room first heard it, and whether a client here
    missed its start is still open. 0 for an unknown origin.  */
uint64_t nws_room_first (nws_room_t *self, uint64_t origin);

/*  Records that origin's start is accounted for (nws_room_first is 1).  */
void nws_room_settle (nws_room_t *self, uint64_t origin);

#endif
