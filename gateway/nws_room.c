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
    if (*self_p)
        nws_replay_clear (&(*self_p)->replay);
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

int
nws_room_track (nws_room_t *self, uint64_t origin, uint64_t seq)
{
    if (seq == 0)
        return 0;
    int oldest = 0;
    self->clock++;
    for (int i = 0; i < NWS_ROOM_ORIGINS; i++) {
        if (self->origins [i].used && self->origins [i].origin == origin) {
            int gap = seq != self->origins [i].seq + 1;
            self->origins [i].seq = seq;
            self->origins [i].used = self->clock;
            return gap;
        }
        if (self->origins [i].used < self->origins [oldest].used)
            oldest = i;
    }
    //  A new origin, or one forgotten to make room: nothing to compare with.
    self->origins [oldest].origin = origin;
    self->origins [oldest].seq = seq;
    self->origins [oldest].used = self->clock;
    return 0;
}

int
nws_room_knows (nws_room_t *self, uint64_t origin)
{
    for (int i = 0; i < NWS_ROOM_ORIGINS; i++)
        if (self->origins [i].used && self->origins [i].origin == origin)
            return 1;
    return 0;
}

int
nws_room_behind (nws_room_t *self, uint64_t origin, uint64_t seq)
{
    for (int i = 0; i < NWS_ROOM_ORIGINS; i++)
        if (self->origins [i].used && self->origins [i].origin == origin)
            return seq > self->origins [i].seq;
    return 0;
}
