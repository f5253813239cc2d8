/*  nws_frame - one message as delivered to clients, and a client's queue.

    A frame holds the payload once, behind LWS_PRE bytes of headroom, and
    is shared by every receiver through a reference count: fan-out to N
    clients costs N pointer pushes, not N copies. lws writes the WebSocket
    header into the headroom; a server's frames are not masked, so the
    payload is never changed and sharing it is safe.

    A queue is a bounded ring of frame references (limits in messages and
    bytes). It grows on demand, so an idle client costs a few bytes.
    Single-threaded (the lws service thread).
*/
#ifndef NWS_FRAME_H
#define NWS_FRAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t refs;                  /* owners: the builder, then each queue */
    uint8_t kind;                   /* NWS_KIND_TEXT or NWS_KIND_BINARY */
    size_t len;                     /* payload bytes */
    size_t cap;                     /* payload bytes allocated */
    uint8_t buf [];                 /* LWS_PRE headroom, then the payload */
} nws_frame_t;

/*  Allocates a frame for cap payload bytes with one reference; len is 0.
    Returns NULL when out of memory.  */
nws_frame_t *nws_frame_new (size_t cap, uint8_t kind);

/*  Grows the frame to hold at least cap bytes; *frame_p may move (only the
    builder, as sole owner, may call this). Returns 0 or -ENOMEM.  */
int nws_frame_reserve (nws_frame_t **frame_p, size_t cap);

/*  The payload, LWS_PRE bytes into the buffer.  */
uint8_t *nws_frame_payload (nws_frame_t *frame);

/*  Drops one reference and nulls *frame_p; frees at zero. Safe on NULL.  */
void nws_frame_unref (nws_frame_t **frame_p);

typedef struct {
    nws_frame_t **ring;             /* cap slots, NULL when cap is 0 */
    uint32_t head;                  /* index of the oldest frame */
    uint32_t count;                 /* frames queued */
    uint32_t cap;                   /* slots allocated (a power of two) */
    size_t bytes;                   /* payload bytes queued */
} nws_queue_t;

/*  Appends a new reference to frame unless that would exceed max_msgs or
    max_bytes. Returns 0, -ENOBUFS when full, or -ENOMEM.  */
int nws_queue_push (nws_queue_t *queue, nws_frame_t *frame,
                    uint32_t max_msgs, size_t max_bytes);

/*  The oldest frame, still owned by the queue, or NULL.  */
nws_frame_t *nws_queue_peek (nws_queue_t *queue);

/*  Removes the oldest frame and drops its reference.  */
void nws_queue_pop (nws_queue_t *queue);

/*  Drops every frame and the ring.  */
void nws_queue_clear (nws_queue_t *queue);

#endif
