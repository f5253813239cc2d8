/*  Unit tests of the gateway's frames and per-client send queue
    (nws_frame, nws_queue) against the contracts in nws_frame.h: a queue
    is a bounded ring of frame references that grows on demand, keeps
    order across wrap-around and growth, and gives back what it holds.  */
#include "nws_frame.h"
#include "nws_envelope.h"
#include "nws_unit.h"

#include <errno.h>

#define S_FRAMES 300

static nws_frame_t *
s_frame (size_t len)
{
    nws_frame_t *frame = nws_frame_new (len, NWS_KIND_BINARY);
    CHECK (frame);
    memset (nws_frame_payload (frame), 'x', len);
    frame->len = len;
    return frame;
}

//  Frames 0..count-1, each of len bytes, one reference each.
static void
s_frames (nws_frame_t **frames, int count, size_t len)
{
    for (int i = 0; i < count; i++)
        frames [i] = s_frame (len);
}

static void
s_unref_all (nws_frame_t **frames, int count)
{
    for (int i = 0; i < count; i++) {
        CHECK_INT (frames [i]->refs, 1);    //  the queues gave theirs back
        nws_frame_unref (&frames [i]);
    }
}

//  Pops the oldest frame, which must be want.
static void
s_pop_expect (nws_queue_t *queue, nws_frame_t *want)
{
    CHECK (nws_queue_peek (queue) == want);
    uint32_t refs = want->refs;
    nws_queue_pop (queue);
    CHECK_INT (want->refs, refs - 1);
}

//  Pushes frames [from] to [to - 1] (no byte limit); each must fit.
static void
s_push_range (nws_queue_t *queue, nws_frame_t **frames, int from, int to, uint32_t max_msgs)
{
    for (int i = from; i < to; i++)
        CHECK_INT (nws_queue_push (queue, frames [i], max_msgs, SIZE_MAX), 0);
}

//  Pops frames [from] to [to - 1], in that order.
static void
s_pop_range (nws_queue_t *queue, nws_frame_t **frames, int from, int to)
{
    for (int i = from; i < to; i++)
        s_pop_expect (queue, frames [i]);
}

//  cap is a power of two that holds count; ring is NULL exactly when cap is 0.
static void
s_check_shape (const nws_queue_t *queue)
{
    CHECK (queue->count <= queue->cap);
    CHECK ((queue->cap & (queue->cap - 1)) == 0);
    CHECK ((queue->ring == NULL) == (queue->cap == 0));
    CHECK (queue->cap == 0 || queue->head < queue->cap);
}

static void
frame_new_reserve (void)
{
    nws_frame_t *frame = nws_frame_new (10, NWS_KIND_TEXT);
    CHECK (frame);
    CHECK_INT (frame->refs, 1);
    CHECK_INT (frame->kind, NWS_KIND_TEXT);
    CHECK_INT (frame->len, 0);
    CHECK_INT (frame->cap, 10);
    memcpy (nws_frame_payload (frame), "0123456789", 10);
    frame->len = 10;
    //  Smaller or equal: nothing moves.
    nws_frame_t *same = frame;
    CHECK_INT (nws_frame_reserve (&frame, 4), 0);
    CHECK_INT (nws_frame_reserve (&frame, 10), 0);
    CHECK (frame == same);
    CHECK_INT (frame->cap, 10);
    //  Larger: at least double, payload kept.
    CHECK_INT (nws_frame_reserve (&frame, 11), 0);
    CHECK_INT (frame->cap, 20);
    CHECK_INT (nws_frame_reserve (&frame, 1000), 0);
    CHECK_INT (frame->cap, 1000);
    CHECK_MEM (nws_frame_payload (frame), "0123456789", 10);
    CHECK_INT (frame->len, 10);
    memset (nws_frame_payload (frame), 'y', 1000);      //  ASan: all 1000 are there
    nws_frame_unref (&frame);
    CHECK (frame == NULL);
    nws_frame_unref (&frame);
    //  An empty frame (an empty message) is a frame too.
    frame = nws_frame_new (0, NWS_KIND_BINARY);
    CHECK (frame);
    CHECK_INT (nws_frame_reserve (&frame, 1), 0);
    CHECK (frame->cap >= 1);
    nws_frame_unref (&frame);
}

//  A zeroed queue is empty, owns nothing, and every call is safe on it.
static void
empty (void)
{
    nws_queue_t queue = { 0 };
    CHECK (nws_queue_peek (&queue) == NULL);
    nws_queue_pop (&queue);
    CHECK_INT (queue.count, 0);
    nws_queue_clear (&queue);
    nws_queue_clear (&queue);
    CHECK (queue.ring == NULL);
    CHECK_INT (queue.cap, 0);
    CHECK_INT (queue.bytes, 0);
}

//  Oldest first; each push takes a reference, each pop drops one.
static void
fifo_order (void)
{
    nws_queue_t queue = { 0 };
    nws_frame_t *frames [5];
    s_frames (frames, 5, 3);
    for (int i = 0; i < 5; i++) {
        CHECK_INT (nws_queue_push (&queue, frames [i], 100, 1000), 0);
        CHECK_INT (frames [i]->refs, 2);
        CHECK (nws_queue_peek (&queue) == frames [0]);
    }
    CHECK_INT (queue.count, 5);
    CHECK_INT (queue.bytes, 15);
    for (int i = 0; i < 5; i++) {
        s_pop_expect (&queue, frames [i]);
        CHECK_INT (queue.bytes, (size_t) (4 - i) * 3);
    }
    CHECK (nws_queue_peek (&queue) == NULL);
    nws_queue_pop (&queue);                 //  empty: nothing to drop
    nws_queue_clear (&queue);
    s_unref_all (frames, 5);
}

//  The ring doubles from 8 as it fills, and the order holds across each
//  growth.
static void
growth (void)
{
    nws_queue_t queue = { 0 };
    nws_frame_t *frames [S_FRAMES];
    s_frames (frames, S_FRAMES, 1);
    uint32_t caps_seen = 0;
    for (int i = 0; i < S_FRAMES; i++) {
        uint32_t before = queue.cap;
        CHECK_INT (nws_queue_push (&queue, frames [i], UINT32_MAX, SIZE_MAX), 0);
        s_check_shape (&queue);
        if (queue.cap != before) {
            //  Only when full, and to twice the size (8 to start).
            CHECK_INT (before, (uint32_t) i);
            CHECK_INT (queue.cap, before ? before * 2 : 8);
            caps_seen++;
        }
    }
    CHECK_INT (queue.cap, 512);
    CHECK_INT (caps_seen, 7);               //  8, 16, ..., 512
    s_pop_range (&queue, frames, 0, S_FRAMES);
    nws_queue_clear (&queue);
    s_unref_all (frames, S_FRAMES);
}

//  Pushes and pops in step run head round the ring many times; a ring
//  that fills while wrapped grows with its order intact.
static void
wrap_around (void)
{
    nws_queue_t queue = { 0 };
    nws_frame_t *frames [S_FRAMES];
    s_frames (frames, S_FRAMES, 2);
    int next_in = 0, next_out = 0;
    //  Six in, then steady: one in, one out, at 6 to 7 of 8 slots.
    for (; next_in < 6; next_in++)
        CHECK_INT (nws_queue_push (&queue, frames [next_in], 1000, SIZE_MAX), 0);
    uint32_t wraps = 0, last_head = queue.head;
    while (next_in < 100) {
        CHECK_INT (nws_queue_push (&queue, frames [next_in++], 1000, SIZE_MAX), 0);
        s_pop_expect (&queue, frames [next_out++]);
        s_check_shape (&queue);
        CHECK_INT (queue.cap, 8);
        CHECK_INT (queue.count, 6);
        wraps += queue.head < last_head;
        last_head = queue.head;
    }
    CHECK (wraps >= 10);
    //  Fill while wrapped: the 8 slots full with head mid-ring, then one
    //  more grows it.
    CHECK (queue.head != 0);
    CHECK_INT (nws_queue_push (&queue, frames [next_in++], 1000, SIZE_MAX), 0);
    CHECK_INT (nws_queue_push (&queue, frames [next_in++], 1000, SIZE_MAX), 0);
    CHECK_INT (queue.count, 8);
    CHECK_INT (queue.cap, 8);
    CHECK_INT (nws_queue_push (&queue, frames [next_in++], 1000, SIZE_MAX), 0);
    CHECK_INT (queue.cap, 16);
    s_check_shape (&queue);
    //  And wrap the bigger ring too.
    while (next_in < S_FRAMES) {
        CHECK_INT (nws_queue_push (&queue, frames [next_in++], 1000, SIZE_MAX), 0);
        s_pop_expect (&queue, frames [next_out++]);
        CHECK_INT (queue.cap, 16);
    }
    CHECK_INT (queue.bytes, (size_t) (next_in - next_out) * 2);
    while (next_out < S_FRAMES)
        s_pop_expect (&queue, frames [next_out++]);
    CHECK_INT (queue.bytes, 0);
    nws_queue_clear (&queue);
    s_unref_all (frames, S_FRAMES);
}

//  Full by count: the push after max_msgs is refused and changes nothing;
//  a pop makes room for exactly one.
static void
full_by_count (void)
{
    nws_queue_t queue = { 0 };
    nws_frame_t *frames [20];
    s_frames (frames, 20, 5);
    s_push_range (&queue, frames, 0, 5, 5);
    CHECK_INT (nws_queue_push (&queue, frames [5], 5, SIZE_MAX), -ENOBUFS);
    CHECK_INT (frames [5]->refs, 1);
    CHECK_INT (queue.count, 5);
    CHECK_INT (queue.bytes, 25);
    s_pop_expect (&queue, frames [0]);
    CHECK_INT (nws_queue_push (&queue, frames [5], 5, SIZE_MAX), 0);
    CHECK_INT (nws_queue_push (&queue, frames [6], 5, SIZE_MAX), -ENOBUFS);
    //  A limit lowered below what is queued refuses until it drains.
    CHECK_INT (nws_queue_push (&queue, frames [6], 2, SIZE_MAX), -ENOBUFS);
    nws_queue_clear (&queue);

    //  Limit = the ring's size: it fills all 8 slots and does not grow
    //  for a push that is refused anyway.
    s_push_range (&queue, frames, 0, 8, 8);
    CHECK_INT (queue.cap, 8);
    CHECK_INT (nws_queue_push (&queue, frames [8], 8, SIZE_MAX), -ENOBUFS);
    CHECK_INT (queue.cap, 8);
    CHECK_INT (queue.count, 8);
    s_pop_range (&queue, frames, 0, 8);
    //  Limit 0: nothing is ever queued.
    CHECK_INT (nws_queue_push (&queue, frames [0], 0, SIZE_MAX), -ENOBUFS);
    CHECK_INT (queue.count, 0);
    nws_queue_clear (&queue);
    s_unref_all (frames, 20);
}

//  Full by bytes: up to max_bytes exactly; a frame alone over it is never
//  queued; empty frames count against max_msgs only.
static void
full_by_bytes (void)
{
    nws_queue_t queue = { 0 };
    nws_frame_t *forty [3], *twenty = s_frame (20), *none = s_frame (0),
                *huge = s_frame (101), *one = s_frame (1);
    s_frames (forty, 3, 40);
    CHECK_INT (nws_queue_push (&queue, huge, 100, 100), -ENOBUFS);     //  even when empty
    CHECK_INT (huge->refs, 1);
    CHECK_INT (nws_queue_push (&queue, forty [0], 100, 100), 0);
    CHECK_INT (nws_queue_push (&queue, forty [1], 100, 100), 0);
    CHECK_INT (nws_queue_push (&queue, forty [2], 100, 100), -ENOBUFS); //  120 > 100
    CHECK_INT (forty [2]->refs, 1);
    CHECK_INT (queue.bytes, 80);
    CHECK_INT (nws_queue_push (&queue, twenty, 100, 100), 0);          //  100: at the limit
    CHECK_INT (queue.bytes, 100);
    CHECK_INT (nws_queue_push (&queue, one, 100, 100), -ENOBUFS);
    CHECK_INT (nws_queue_push (&queue, none, 100, 100), 0);
    CHECK_INT (nws_queue_push (&queue, none, 100, 100), 0);
    CHECK_INT (none->refs, 3);
    CHECK_INT (queue.count, 5);
    CHECK_INT (queue.bytes, 100);
    //  Whichever limit is hit first refuses.
    CHECK_INT (nws_queue_push (&queue, none, 5, 1000), -ENOBUFS);
    s_pop_expect (&queue, forty [0]);
    CHECK_INT (queue.bytes, 60);
    CHECK_INT (nws_queue_push (&queue, forty [2], 100, 100), 0);
    CHECK_INT (queue.bytes, 100);
    s_pop_expect (&queue, forty [1]);
    s_pop_expect (&queue, twenty);
    s_pop_expect (&queue, none);
    s_pop_expect (&queue, none);
    s_pop_expect (&queue, forty [2]);
    CHECK_INT (queue.bytes, 0);
    nws_queue_clear (&queue);
    s_unref_all (forty, 3);
    nws_frame_t *rest [] = { twenty, none, huge, one };
    s_unref_all (rest, 4);
}

//  A ring a burst grew past 64 slots is given back once it drains; a
//  small one is kept for the next message. Either way it works on.
static void
shrink (void)
{
    nws_queue_t queue = { 0 };
    nws_frame_t *frames [S_FRAMES];
    s_frames (frames, S_FRAMES, 1);
    s_push_range (&queue, frames, 0, 64, S_FRAMES);
    CHECK_INT (queue.cap, 64);
    s_pop_range (&queue, frames, 0, 64);
    CHECK_INT (queue.cap, 64);
    CHECK (queue.ring != NULL);
    //  65 needs 128 slots: given back at the last pop, not before.
    s_push_range (&queue, frames, 0, 65, S_FRAMES);
    CHECK_INT (queue.cap, 128);
    s_pop_range (&queue, frames, 0, 64);
    CHECK_INT (queue.cap, 128);
    s_pop_expect (&queue, frames [64]);
    CHECK_INT (queue.cap, 0);
    CHECK (queue.ring == NULL);
    CHECK_INT (queue.bytes, 0);
    s_check_shape (&queue);
    //  It starts again from 8 slots, in order.
    s_push_range (&queue, frames, 0, 10, S_FRAMES);
    CHECK_INT (queue.cap, 16);
    s_check_shape (&queue);
    s_pop_range (&queue, frames, 0, 10);
    nws_queue_clear (&queue);
    s_unref_all (frames, S_FRAMES);
}

//  clear drops the queue's reference to every frame, also when wrapped or
//  holding one frame several times, and leaves a zeroed queue.
static void
clear_releases (void)
{
    nws_queue_t queue = { 0 };
    nws_frame_t *frames [40];
    s_frames (frames, 40, 7);
    s_push_range (&queue, frames, 0, 6, 100);
    for (int i = 0; i < 5; i++)
        nws_queue_pop (&queue);
    s_push_range (&queue, frames, 6, 40, 100);
    for (int i = 0; i < 3; i++)
        CHECK_INT (nws_queue_push (&queue, frames [10], 100, SIZE_MAX), 0);
    CHECK_INT (frames [10]->refs, 5);
    CHECK_INT (queue.count, 38);
    nws_queue_clear (&queue);
    CHECK (queue.ring == NULL);
    CHECK_INT (queue.count, 0);
    CHECK_INT (queue.cap, 0);
    CHECK_INT (queue.head, 0);
    CHECK_INT (queue.bytes, 0);
    s_unref_all (frames, 40);
    //  The queue's reference may be the last: clear frees the frame (ASan
    //  and LeakSanitizer tell if not).
    nws_frame_t *last = s_frame (9);
    CHECK_INT (nws_queue_push (&queue, last, 10, SIZE_MAX), 0);
    nws_frame_unref (&last);
    nws_queue_clear (&queue);
}

//  One frame fanned out to many queues costs one reference each; each
//  queue gives its own back.
static void
fan_out (void)
{
    nws_queue_t queues [10] = { { 0 } };
    nws_frame_t *frame = s_frame (100);
    for (int i = 0; i < 10; i++)
        CHECK_INT (nws_queue_push (&queues [i], frame, 4, 1000), 0);
    CHECK_INT (frame->refs, 11);
    for (int i = 0; i < 5; i++)
        nws_queue_pop (&queues [i]);
    CHECK_INT (frame->refs, 6);
    for (int i = 0; i < 10; i++)
        nws_queue_clear (&queues [i]);
    CHECK_INT (frame->refs, 1);
    CHECK_MEM (nws_frame_payload (frame), "xxxx", 4);
    nws_frame_unref (&frame);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (frame_new_reserve),
        NWS_UNIT_CASE (empty),
        NWS_UNIT_CASE (fifo_order),
        NWS_UNIT_CASE (growth),
        NWS_UNIT_CASE (wrap_around),
        NWS_UNIT_CASE (full_by_count),
        NWS_UNIT_CASE (full_by_bytes),
        NWS_UNIT_CASE (shrink),
        NWS_UNIT_CASE (clear_releases),
        NWS_UNIT_CASE (fan_out),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
