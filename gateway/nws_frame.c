/*  nws_frame - shared message buffers and per-client queues.  */
#include "nws_frame.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdlib.h>

nws_frame_t *
nws_frame_new (size_t cap, uint8_t kind)
{
    nws_frame_t *frame = malloc (sizeof *frame + LWS_PRE + cap);
    if (!frame)
        return NULL;
    frame->refs = 1;
    frame->kind = kind;
    frame->len = 0;
    frame->cap = cap;
    return frame;
}

int
nws_frame_reserve (nws_frame_t **frame_p, size_t cap)
{
    nws_frame_t *frame = *frame_p;
    if (cap <= frame->cap)
        return 0;
    size_t grown = frame->cap * 2 > cap ? frame->cap * 2 : cap;
    frame = realloc (frame, sizeof *frame + LWS_PRE + grown);
    if (!frame)
        return -ENOMEM;
    frame->cap = grown;
    *frame_p = frame;
    return 0;
}

uint8_t *
nws_frame_payload (nws_frame_t *frame)
{
    return frame->buf + LWS_PRE;
}

void
nws_frame_unref (nws_frame_t **frame_p)
{
    nws_frame_t *frame = *frame_p;
    if (frame && --frame->refs == 0)
        free (frame);
    *frame_p = NULL;
}

int
nws_queue_push (nws_queue_t *queue, nws_frame_t *frame,
                uint32_t max_msgs, size_t max_bytes)
{
    if (queue->count >= max_msgs || queue->bytes + frame->len > max_bytes)
        return -ENOBUFS;
    if (queue->count == queue->cap) {
        uint32_t cap = queue->cap ? queue->cap * 2 : 8;
        nws_frame_t **ring = malloc (cap * sizeof *ring);
        if (!ring)
            return -ENOMEM;
        for (uint32_t i = 0; i < queue->count; i++)
            ring [i] = queue->ring [(queue->head + i) & (queue->cap - 1)];
        free (queue->ring);
        queue->ring = ring;
        queue->head = 0;
        queue->cap = cap;
    }
    queue->ring [(queue->head + queue->count) & (queue->cap - 1)] = frame;
    queue->count++;
    queue->bytes += frame->len;
    frame->refs++;
    return 0;
}

nws_frame_t *
nws_queue_peek (nws_queue_t *queue)
{
    return queue->count ? queue->ring [queue->head] : NULL;
}

void
nws_queue_pop (nws_queue_t *queue)
{
    if (!queue->count)
        return;
    nws_frame_t *frame = queue->ring [queue->head];
    queue->head = (queue->head + 1) & (queue->cap - 1);
    queue->count--;
    queue->bytes -= frame->len;
    nws_frame_unref (&frame);
    //  Give back the ring a burst grew, so idle clients stay small.
    if (queue->count == 0 && queue->cap > 64) {
        free (queue->ring);
        queue->ring = NULL;
        queue->cap = 0;
    }
}

void
nws_queue_clear (nws_queue_t *queue)
{
    while (queue->count)
        nws_queue_pop (queue);
    free (queue->ring);
    *queue = (nws_queue_t) { 0 };
}
