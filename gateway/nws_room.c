/*  nws_room - one channel's clients on this gateway.  */
#include "nws_room.h"

#include <stdlib.h>
#include <string.h>

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
    return self;
}

void
nws_room_destroy (nws_room_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

//  The member that carries messages to session's proxy, other than
//  session, or NULL.
static nws_session_t *
s_proxy_carrier (nws_room_t *self, nws_session_t *session)
{
    for (nws_session_t *s = self->first; s; s = s->next)
        if (s != session && s->is_proxy && !s->shadowed
        &&  strcmp (s->proxy_peer, session->proxy_peer) == 0)
            return s;
    return NULL;
}

void
nws_room_add (nws_room_t *self, nws_session_t *session)
{
    session->shadowed = session->is_proxy && session->proxy_peer [0]
                     && s_proxy_carrier (self, session) != NULL;
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
    if (session->is_proxy && session->proxy_peer [0] && !session->shadowed) {
        //  The oldest shadowed link of that proxy (members are newest
        //  first) carries its messages from now on.
        nws_session_t *heir = NULL;
        for (nws_session_t *s = self->first; s; s = s->next)
            if (s != session && s->shadowed && strcmp (s->proxy_peer, session->proxy_peer) == 0)
                heir = s;
        if (heir)
            heir->shadowed = 0;
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
