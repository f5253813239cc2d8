/*  nws_room - one channel's clients on this gateway.  */
#include "nws_room.h"

#include <stdlib.h>
#include <string.h>

#include "nws_runtime.h"

nws_room_t *
nws_room_new (const nws_channel_t *channel)
{
    nws_room_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->channel = *channel;
    self->topic_len = (size_t) nws_channel_topic (channel, self->topic, sizeof self->topic);
    memcpy (self->key, self->topic, self->topic_len);
    self->key [self->topic_len] = '\0';
    self->epoch = nws_runtime_random_id ();
    return self;
}

void
nws_room_destroy (nws_room_t **self_p)
{
    if (*self_p) {
        nws_replay_clear (&(*self_p)->replay);
        nws_origin_tally_clear (&(*self_p)->web_origins);
        free ((*self_p)->origins);
    }
    free (*self_p);
    *self_p = NULL;
}

//  1 if a and b are links of one peer proxy that the gateway must not
//  both write to: the original proxy, known by its network card. (An nws
//  peer never keeps two links of one channel: it closes the second before
//  reading from it. Writing to both then loses nothing.)
static int
s_legacy_proxy (const nws_session_t *session)
{
    return session->is_proxy && strncmp (session->proxy_peer, "mac:", 4) == 0;
}

static int
s_same_legacy_proxy (const nws_session_t *a, const nws_session_t *b)
{
    return a != b && s_legacy_proxy (a) && strcmp (a->proxy_peer, b->proxy_peer) == 0;
}

void
nws_room_add (nws_room_t *self, nws_session_t *session)
{
    //  The newest link of a proxy carries its messages: an older one may
    //  be half dead (the peer dialed again because it broke).
    //  Only such links look at the others: a join costs the same however
    //  many clients the room has.
    session->shadowed = 0;
    for (nws_session_t *s = s_legacy_proxy (session) ? self->first : NULL; s; s = s->next)
        if (s_same_legacy_proxy (s, session))
            s->shadowed = 1;
    session->prev = NULL;
    session->next = self->first;
    if (self->first)
        self->first->prev = session;
    self->first = session;
    if (session->is_proxy)
        self->proxies++;
    else
        self->clients++;
}

void
nws_room_remove (nws_room_t *self, nws_session_t *session)
{
    if (s_legacy_proxy (session) && !session->shadowed) {
        //  The carrier leaves: the newest other link of that proxy (members
        //  are newest first) carries from now on.
        for (nws_session_t *s = self->first; s; s = s->next)
            if (s_same_legacy_proxy (s, session)) {
                s->shadowed = 0;
                break;
            }
    }
    if (session->prev)
        session->prev->next = session->next;
    else
        self->first = session->next;
    if (session->next)
        session->next->prev = session->prev;
    session->prev = session->next = NULL;
    if (session->is_proxy)
        self->proxies--;
    else
        self->clients--;
}

//  The entry of origin, or where it would go (*found 0).
static uint32_t
s_origin_index (nws_room_t *self, uint64_t origin, int *found)
{
    uint32_t low = 0, high = self->origin_count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        if (self->origins [mid].origin < origin)
            low = mid + 1;
        else
            high = mid;
    }
    *found = low < self->origin_count && self->origins [low].origin == origin;
    return low;
}

static nws_room_origin_t *
s_origin (nws_room_t *self, uint64_t origin)
{
    int found;
    uint32_t at = s_origin_index (self, origin, &found);
    return found ? &self->origins [at] : NULL;
}

//  Makes room for one more entry: grows the table, or at its limit
//  forgets the least recent sender. Returns 0 or -1 (out of memory).
static int
s_origin_room (nws_room_t *self)
{
    if (self->origin_count == NWS_ROOM_ORIGINS_MAX) {
        uint32_t oldest = 0;
        for (uint32_t i = 1; i < self->origin_count; i++)
            if (self->origins [i].used < self->origins [oldest].used)
                oldest = i;
        memmove (self->origins + oldest, self->origins + oldest + 1,
                 (self->origin_count - oldest - 1) * sizeof self->origins [0]);
        self->origin_count--;
        return 0;
    }
    if (self->origin_count < self->origin_cap)
        return 0;
    uint32_t cap = self->origin_cap ? self->origin_cap * 2 : 4;
    nws_room_origin_t *origins = realloc (self->origins, cap * sizeof *origins);
    if (!origins)
        return -1;
    self->origins = origins;
    self->origin_cap = cap;
    return 0;
}

int
nws_room_track (nws_room_t *self, uint64_t origin, uint64_t seq)
{
    if (seq == 0)
        return 0;
    self->clock++;
    int found;
    uint32_t at = s_origin_index (self, origin, &found);
    if (found) {
        nws_room_origin_t *entry = &self->origins [at];
        int gap = seq != entry->seq + 1;
        entry->seq = seq;
        entry->used = self->clock;
        return gap;
    }
    //  A new sender. (Out of memory, it stays unknown: its next message
    //  is taken as new too.)
    if (s_origin_room (self))
        return 0;
    at = s_origin_index (self, origin, &found);
    memmove (self->origins + at + 1, self->origins + at,
             (self->origin_count - at) * sizeof self->origins [0]);
    self->origins [at] = (nws_room_origin_t) {
        .origin = origin, .seq = seq, .first = seq, .used = self->clock
    };
    self->origin_count++;
    return 0;
}

int
nws_room_knows (nws_room_t *self, uint64_t origin)
{
    return s_origin (self, origin) != NULL;
}

int
nws_room_behind (nws_room_t *self, uint64_t origin, uint64_t seq)
{
    nws_room_origin_t *entry = s_origin (self, origin);
    return entry && seq > entry->seq;
}

uint64_t
nws_room_first (nws_room_t *self, uint64_t origin)
{
    nws_room_origin_t *entry = s_origin (self, origin);
    return entry ? entry->first : 0;
}

void
nws_room_settle (nws_room_t *self, uint64_t origin)
{
    nws_room_origin_t *entry = s_origin (self, origin);
    if (entry)
        entry->first = 1;
}
