/*  nws_session - one WebSocket client: receive, framing, writes, close
    codes and keepalive.  */
#include "nws_session.h"

#include <czmq.h>
#include <string.h>

#include "nws_envelope.h"
#include "nws_limits.h"
#include "nws_utf8.h"

void
nws_session_heard (nws_session_t *self)
{
    self->last_rx = zclock_mono ();
    self->ping_sent = 0;
}

void
nws_session_close (nws_session_t *self, uint16_t code, const char *reason)
{
    if (self->state != NWS_SESSION_OPEN)
        return;
    self->state = NWS_SESSION_CLOSING;
    self->close_code = code;
    self->close_reason = reason;
    nws_queue_clear (&self->queue);
    lws_set_timeout (self->wsi, PENDING_TIMEOUT_CLOSE_SEND, NWS_SESSION_CLOSE_GRACE_SECS);
    lws_callback_on_writable (self->wsi);
}

static nws_session_rx_t
s_refuse (struct lws *wsi, nws_session_rx_t why, uint16_t code, const char *reason)
{
    lws_close_reason (wsi, code, (unsigned char *) reason, strlen (reason));
    return why;
}

nws_session_rx_t
nws_session_receive (nws_session_t *self, struct lws *wsi, const void *in, size_t len,
                     uint64_t max_message)
{
    if (self->state != NWS_SESSION_OPEN)
        return NWS_SESSION_RX_MORE;
    size_t announced = lws_remaining_packet_payload (wsi);
    if (!self->rx) {
        //  Sized for the frame announced, but a stranger's announcement
        //  reserves at most NWS_SESSION_RX_RESERVE: more only as bytes arrive.
        size_t expect = len + announced;
        if (expect > NWS_SESSION_RX_RESERVE)
            expect = NWS_SESSION_RX_RESERVE;
        self->rx = nws_frame_new (expect,
                                  lws_frame_is_binary (wsi) ? NWS_KIND_BINARY : NWS_KIND_TEXT);
        if (!self->rx)
            return NWS_SESSION_RX_FAILED;
        self->rx_utf8 = 0;
    }
    if (self->rx->len + len + announced > max_message)
        return s_refuse (wsi, NWS_SESSION_RX_TOO_BIG, NWS_CLOSE_TOO_BIG, "message too big");
    if (nws_frame_reserve (&self->rx, self->rx->len + len))
        return NWS_SESSION_RX_FAILED;
    nws_frame_t *rx = self->rx;
    memcpy (nws_frame_payload (rx) + rx->len, in, len);
    rx->len += len;
    int final = lws_is_final_fragment (wsi) && announced == 0;
    //  Text is checked as it comes (lws's own check is off: it judges
    //  frame by frame, misses a sequence cut short at the end, and its
    //  reasons overwrite each other), and once more at the end for a
    //  sequence cut short.
    if (rx->kind == NWS_KIND_TEXT) {
        int bad;
        self->rx_utf8 += nws_utf8_scan (nws_frame_payload (rx) + self->rx_utf8,
                                        rx->len - self->rx_utf8, &bad);
        if (bad || (final && self->rx_utf8 != rx->len))
            return s_refuse (wsi, NWS_SESSION_RX_BAD_UTF8, LWS_CLOSE_STATUS_INVALID_PAYLOAD,
                             "text message is not UTF-8");
    }
    return final ? NWS_SESSION_RX_MESSAGE : NWS_SESSION_RX_MORE;
}

size_t
nws_session_frame_header (uint8_t *out, uint8_t kind, size_t len)
{
    out [0] = 0x80 | (kind == NWS_KIND_BINARY ? 0x2 : 0x1);
    if (len < 126) {
        out [1] = (uint8_t) len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out [1] = 126;
        out [2] = (uint8_t) (len >> 8);
        out [3] = (uint8_t) len;
        return 4;
    }
    out [1] = 127;
    for (int i = 0; i < 8; i++)
        out [2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
    return 10;
}

//  lws allows one write per WRITEABLE callback: small frames are framed
//  here and go together (one syscall for many messages); a lone or large
//  frame goes as it is.
static int
s_write_queue (nws_session_t *self, struct lws *wsi, uint8_t *batch)
{
    nws_frame_t *frame = nws_queue_peek (&self->queue);
    if (!frame)
        return 0;
    if (self->queue.count == 1 || frame->len > NWS_SESSION_BATCH_BYTES / 4) {
        enum lws_write_protocol kind = frame->kind == NWS_KIND_BINARY ? LWS_WRITE_BINARY
                                                                        : LWS_WRITE_TEXT;
        if (lws_write (wsi, nws_frame_payload (frame), frame->len, kind) < (int) frame->len)
            return -1;
        nws_queue_pop (&self->queue);
        return 0;
    }
    size_t used = 0;
    uint8_t *out = batch + LWS_PRE;
    while (frame && used + 10 + frame->len <= NWS_SESSION_BATCH_BYTES) {
        used += nws_session_frame_header (out + used, frame->kind, frame->len);
        memcpy (out + used, nws_frame_payload (frame), frame->len);
        used += frame->len;
        nws_queue_pop (&self->queue);
        frame = nws_queue_peek (&self->queue);
    }
    return lws_write (wsi, out, used, LWS_WRITE_RAW) < (int) used ? -1 : 0;
}

int
nws_session_writeable (nws_session_t *self, struct lws *wsi)
{
    static uint8_t batch [LWS_PRE + NWS_SESSION_BATCH_BYTES];
    if (self->state == NWS_SESSION_CLOSING) {
        const char *reason = self->close_reason;
        lws_close_reason (wsi, self->close_code, (unsigned char *) reason, strlen (reason));
        return -1;
    }
    if (self->ping_due) {
        self->ping_due = 0;
        self->ping_sent = 1;
        self->ping_sent_at = zclock_mono ();
        //  Not empty: lws does not report an empty pong to us.
        memcpy (batch + LWS_PRE, "nws", 3);
        if (lws_write (wsi, batch + LWS_PRE, 3, LWS_WRITE_PING) < 0)
            return -1;
    }
    else
    if (s_write_queue (self, wsi, batch))
        return -1;
    if (self->queue.count)
        lws_callback_on_writable (wsi);
    return 0;
}

int
nws_session_close_code_valid (unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
        || (code >= 3000 && code <= 4999);
}

int
nws_session_close_check (const uint8_t *payload, size_t len)
{
    if (len == 1 || (len >= 2 && !nws_session_close_code_valid (
                                     (unsigned) (payload [0] << 8 | payload [1]))))
        return 1002;
    if (len > 2 && !nws_utf8_valid (payload + 2, len - 2))
        return 1007;
    return 0;
}

int
nws_session_peer_close (nws_session_t *self, struct lws *wsi, const void *in, size_t len)
{
    if (self->state == NWS_SESSION_OPEN)
        self->state = NWS_SESSION_CLOSING;
    nws_frame_unref (&self->rx);
    nws_queue_clear (&self->queue);
    int code = nws_session_close_check (in, len);
    if (code == 0)
        return 0;
    //  lws would echo the peer's close frame: write our own, and have lws
    //  just close.
    static const char bad_code [] = "\x88\x15\x03\xea" "invalid close frame";
    static const char bad_reason [] = "\x88\x1b\x03\xef" "close reason is not UTF-8";
    const char *close = code == 1002 ? bad_code : bad_reason;
    size_t close_len = code == 1002 ? sizeof bad_code - 1 : sizeof bad_reason - 1;
    uint8_t frame [LWS_PRE + sizeof bad_reason];
    memcpy (frame + LWS_PRE, close, close_len);
    lws_write (wsi, frame + LWS_PRE, close_len, LWS_WRITE_RAW);
    return code;
}

nws_keepalive_t
nws_session_keepalive (const nws_session_t *self, int64_t now, int64_t ping_ms,
                       int64_t idle_ms)
{
    int64_t silent = now - self->last_rx;
    if (silent > idle_ms && self->ping_sent && now - self->ping_sent_at >= 1000)
        return NWS_KEEPALIVE_DROP;
    if (silent > ping_ms && !self->ping_sent)
        return NWS_KEEPALIVE_PING;
    return NWS_KEEPALIVE_NONE;
}

int
nws_session_cork (nws_session_t *self, nws_session_t **corked)
{
    if (self->corked)
        return 0;
    int was_empty = *corked == NULL;
    self->corked = 1;
    self->cork_prev = NULL;
    self->cork_next = *corked;
    if (*corked)
        (*corked)->cork_prev = self;
    *corked = self;
    return was_empty;
}

void
nws_session_uncork (nws_session_t *self, nws_session_t **corked)
{
    if (!self->corked)
        return;
    if (self->cork_prev)
        self->cork_prev->cork_next = self->cork_next;
    else
        *corked = self->cork_next;
    if (self->cork_next)
        self->cork_next->cork_prev = self->cork_prev;
    self->cork_prev = self->cork_next = NULL;
    self->corked = 0;
}

void
nws_session_release (nws_session_t *self, nws_session_t **corked)
{
    nws_session_uncork (self, corked);
    nws_queue_clear (&self->queue);
    nws_frame_unref (&self->rx);
}
