/*  nws_replay - recent local messages of a broadcast channel.  */
#include "nws_replay.h"

#include <errno.h>
#include <stdlib.h>

static void
s_pop (nws_replay_t *self)
{
    nws_replay_entry_t *entry = &self->ring [self->head];
    self->bytes -= entry->frame->len;
    nws_frame_unref (&entry->frame);
    self->head = (self->head + 1) & (self->cap - 1);
    self->count--;
}

int
nws_replay_push (nws_replay_t *self, nws_frame_t *frame, int64_t now)
{
    self->next++;
    if (self->count == self->cap) {
        uint32_t cap = self->cap ? self->cap * 2 : 16;
        nws_replay_entry_t *ring = malloc (cap * sizeof *ring);
        if (!ring) {
            //  The index is spent all the same: forget what came before,
            //  so that the ring stays one unbroken run of indexes.
            nws_replay_clear (self);
            return -ENOMEM;
        }
        for (uint32_t i = 0; i < self->count; i++)
            ring [i] = self->ring [(self->head + i) & (self->cap - 1)];
        free (self->ring);
        self->ring = ring;
        self->head = 0;
        self->cap = cap;
    }
    nws_replay_entry_t *entry = &self->ring [(self->head + self->count) & (self->cap - 1)];
    entry->frame = frame;
    entry->at = now;
    frame->refs++;
    self->count++;
    self->bytes += frame->len;
    return 0;
}

void
nws_replay_trim (nws_replay_t *self, int64_t now, int64_t window_ms,
                 size_t max_bytes, uint32_t max_count)
{
    while (self->count && (self->ring [self->head].at < now - window_ms
                           || self->bytes > max_bytes || self->count > max_count))
        s_pop (self);
    //  Give back the ring a burst grew, once it is empty.
    if (self->count == 0 && self->cap > 64) {
        free (self->ring);
        self->ring = NULL;
        self->cap = 0;
        self->head = 0;
    }
}

uint64_t
nws_replay_first (const nws_replay_t *self)
{
    return self->next - self->count;
}

uint64_t
nws_replay_since (const nws_replay_t *self, int64_t when)
{
    //  Arrival times never decrease along the ring: binary search.
    uint32_t low = 0, high = self->count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        if (self->ring [(self->head + mid) & (self->cap - 1)].at < when)
            low = mid + 1;
        else
            high = mid;
    }
    return nws_replay_first (self) + low;
}

nws_frame_t *
nws_replay_get (const nws_replay_t *self, uint64_t index)
{
    uint64_t first = nws_replay_first (self);
    if (index < first || index >= self->next)
        return NULL;
    return self->ring [(self->head + (uint32_t) (index - first)) & (self->cap - 1)].frame;
}

void
nws_replay_clear (nws_replay_t *self)
{
    while (self->count)
        s_pop (self);
    free (self->ring);
    self->ring = NULL;
    self->cap = 0;
    self->head = 0;
    self->bytes = 0;
}
