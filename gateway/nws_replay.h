/*  nws_replay - a broadcast channel's recent messages of local origin,
    kept for proxy links that arrive (or come back) a little later.

    Every message a gateway delivers into a broadcast room that did not
    come from a proxy gets the room's next stream index (0, 1, 2...) and a
    reference in this ring, with the time it arrived. A peer proxy's link
    starts at some index: the messages its host has not yet seen are sent
    to it first, from the ring, so that a host that links a second after a
    client said "hello" still gets the hello, and a link that was cut and
    dialed again gets exactly what it missed. The ring keeps messages for a
    window of time, within a byte and a count limit; what falls out of it
    can no longer be replayed (the peer is then told, and closes its
    clients with 4002).

    Holds references to shared frames (nws_frame.h): a message costs one
    slot here, not a copy. Single-threaded (the lws service thread).
*/
#ifndef NWS_REPLAY_H
#define NWS_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "nws_frame.h"

typedef struct {
    nws_frame_t *frame;             /* a reference */
    int64_t at;                     /* when it arrived, zclock_mono ms */
} nws_replay_entry_t;

typedef struct {
    nws_replay_entry_t *ring;       /* cap slots (a power of two), or NULL */
    uint32_t head;                  /* slot of the oldest entry */
    uint32_t count;                 /* entries kept */
    uint32_t cap;                   /* slots allocated */
    size_t bytes;                   /* payload bytes kept */
    uint64_t next;                  /* stream index of the next message */
} nws_replay_t;

/*  Appends a reference to frame, which arrived at now, as index next.
    The index is used even when out of memory (the ring then has a hole at
    its start, as if the message had fallen out). Returns 0 or -ENOMEM.  */
int nws_replay_push (nws_replay_t *self, nws_frame_t *frame, int64_t now);

/*  Drops the oldest entries while they are older than window_ms, or
    while more than max_bytes or max_count are kept.  */
void nws_replay_trim (nws_replay_t *self, int64_t now, int64_t window_ms,
                      size_t max_bytes, uint32_t max_count);

/*  Stream index of the oldest message kept (== next when empty).  */
uint64_t nws_replay_first (const nws_replay_t *self);

/*  Index of the first kept message that arrived at or after when (next
    if none did).  */
uint64_t nws_replay_since (const nws_replay_t *self, int64_t when);

/*  The message of that index, still owned by the ring, or NULL when it is
    not kept (fell out, or not yet sent).  */
nws_frame_t *nws_replay_get (const nws_replay_t *self, uint64_t index);

/*  Drops every entry (next is kept).  */
void nws_replay_clear (nws_replay_t *self);

#endif
