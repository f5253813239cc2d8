/*  fuzz_hubmsg - hub messages as a gateway or the hub receives them
    (nws_hubmsg_recv over a real ZeroMQ socket pair), their envelopes
    (nws_envelope_decode) and the UTF-8 check of text payloads
    (nws_utf8_valid).

    Input: the frames of one multipart message, separated by "|^|" (no
    topic can hold '|'); any bytes otherwise. Properties:

    - nws_hubmsg_recv takes the whole message off the socket, whatever it
      is (nothing is left for the next call), and accepts it exactly when a
      reference says so: 2 frames with a valid topic, or 3 with a valid
      topic and envelope; then topic, channel, envelope and payload are the
      frames that were sent.
    - nws_envelope_decode on the raw bytes returns what a reference reading
      of the byte table in nws_envelope.h returns; an accepted envelope is
      encoded back to the same 20 bytes; decode(encode(e)) == e for an
      envelope made of input bytes, when its fields are valid.
    - what nws_hubmsg_send sends, nws_hubmsg_recv reads back the same.
    - nws_utf8_valid agrees with a plain decoder written here, on the input,
      every frame and the input at every alignment; nws_utf8_scan, fed the
      input in two pieces as a gateway gets fragments, reaches the same
      verdict, and the prefix it calls complete is valid.
    - nws_channel_from_topic and nws_channel_from_interest never crash on a
      frame.

    The sockets are an inproc PAIR, made once: libFuzzer calls this
    function millions of times in one process.
*/
#include <errno.h>
#include <zmq.h>

#include "nws_envelope.h"
#include "nws_fuzz.h"
#include "nws_hubmsg.h"
#include "nws_utf8.h"

#define S_SEP "|^|"
#define S_SEP_LEN 3
#define S_MAX_FRAMES 8              /* more than enough to exceed the limit of 3 */

static void *s_ctx, *s_out, *s_in;  /* context; sending and receiving ends */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc, (void) argv;
    s_ctx = zmq_ctx_new ();
    FUZZ_CHECK (s_ctx);
    s_out = zmq_socket (s_ctx, ZMQ_PAIR);
    s_in = zmq_socket (s_ctx, ZMQ_PAIR);
    FUZZ_CHECK (s_out && s_in);
    FUZZ_CHECK (zmq_bind (s_in, "inproc://fuzz-hubmsg") == 0);
    FUZZ_CHECK (zmq_connect (s_out, "inproc://fuzz-hubmsg") == 0);
    return 0;
}

//  A plain UTF-8 decoder: lead byte gives the length, continuation bytes
//  are 10xxxxxx, then no overlong form, no surrogate, nothing past U+10FFFF.
static int
s_ref_utf8 (const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = p [i], min;
        size_t len;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            len = 2, c &= 0x1F, min = 0x80;
        else
        if ((c & 0xF0) == 0xE0)
            len = 3, c &= 0x0F, min = 0x800;
        else
        if ((c & 0xF8) == 0xF0)
            len = 4, c &= 0x07, min = 0x10000;
        else
            return 0;
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p [i + k] & 0xC0) != 0x80)
                return 0;
            c = c << 6 | (p [i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static void
s_check_utf8 (const uint8_t *data, size_t size)
{
    //  A heap copy of exactly size bytes: the validator reads 8 at a time.
    uint8_t *copy = malloc (size ? size : 1);
    FUZZ_CHECK (copy);
    memcpy (copy, data, size);
    int valid = s_ref_utf8 (data, size);
    FUZZ_CHECK (nws_utf8_valid (copy, size) == valid);
    //  In two pieces, split where the first byte says.
    size_t split = size ? data [0] % (size + 1) : 0, done = 0;
    int bad;
    done = nws_utf8_scan (copy, split, &bad);
    FUZZ_CHECK (done <= split && s_ref_utf8 (data, done));
    if (!bad) {
        FUZZ_CHECK (split - done <= 3);
        done += nws_utf8_scan (copy + done, size - done, &bad);
        FUZZ_CHECK (s_ref_utf8 (data, done));
    }
    FUZZ_CHECK ((!bad && done == size) == valid);
    free (copy);
}

//  The byte table of nws_envelope.h, read independently.
static int
s_ref_envelope (const uint8_t *p, size_t len)
{
    if (len < 1)
        return -EINVAL;
    if (p [0] != 1)
        return -EPROTO;
    if (len != 20 || (p [1] != 1 && p [1] != 2) || (p [2] & 0xFC) || p [3])
        return -EINVAL;
    return 0;
}

static uint64_t
s_be64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p [i];
    return v;
}

static void
s_check_envelope (const uint8_t *data, size_t size)
{
    nws_envelope_t env;
    uint8_t *copy = malloc (size ? size : 1);
    FUZZ_CHECK (copy);
    memcpy (copy, data, size);
    int rc = nws_envelope_decode (copy, size, &env);
    free (copy);
    FUZZ_CHECK (rc == s_ref_envelope (data, size));
    if (rc == 0) {
        FUZZ_CHECK (env.kind == data [1] && env.flags == data [2]);
        FUZZ_CHECK (env.origin == s_be64 (data + 4) && env.seq == s_be64 (data + 12));
        uint8_t again [NWS_ENVELOPE_SIZE];
        nws_envelope_encode (&env, again);
        FUZZ_CHECK (memcmp (again, data, NWS_ENVELOPE_SIZE) == 0);
    }
    //  Any field values from the input, through encode and decode.
    if (size >= 18) {
        nws_envelope_t made = {
            .kind = data [0], .flags = data [1],
            .origin = s_be64 (data + 2), .seq = s_be64 (data + 10)
        }, back;
        uint8_t wire [NWS_ENVELOPE_SIZE];
        nws_envelope_encode (&made, wire);
        int valid = (made.kind == NWS_KIND_TEXT || made.kind == NWS_KIND_BINARY)
                 && !(made.flags & ~NWS_FLAGS_KNOWN);
        rc = nws_envelope_decode (wire, sizeof wire, &back);
        FUZZ_CHECK (rc == (valid ? 0 : -EINVAL));
        if (valid)
            FUZZ_CHECK (back.kind == made.kind && back.flags == made.flags
                        && back.origin == made.origin && back.seq == made.seq);
    }
}

static int
s_same_bytes (zmq_msg_t *msg, const uint8_t *data, size_t len)
{
    return zmq_msg_size (msg) == len
        && (len == 0 || memcmp (zmq_msg_data (msg), data, len) == 0);
}

//  Nothing may be left on the receiving socket. (libFuzzer's timer sends
//  SIGALRM now and then, and libzmq may answer EINTR: asked again.)
static void
s_check_drained (void)
{
    zmq_msg_t junk;
    zmq_msg_init (&junk);
    int rc;
    do
        rc = zmq_msg_recv (&junk, s_in, ZMQ_DONTWAIT);
    while (rc < 0 && errno == EINTR);
    zmq_msg_close (&junk);
    FUZZ_CHECK (rc < 0 && errno == EAGAIN);
}

//  nws_hubmsg_recv, asked again on EINTR, which it may only return when it
//  took nothing off the socket.
static int
s_recv (nws_hubmsg_t *msg, const char **why)
{
    int rc;
    do
        rc = nws_hubmsg_recv (s_in, msg, 0, why);
    while (rc == -EINTR);
    return rc;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const uint8_t *frame [S_MAX_FRAMES];
    size_t frame_len [S_MAX_FRAMES];
    int count = 0;
    const uint8_t *at = data, *end = data + size;
    while (count < S_MAX_FRAMES - 1) {
        const uint8_t *sep = memmem (at, (size_t) (end - at), S_SEP, S_SEP_LEN);
        if (!sep)
            break;
        frame [count] = at;
        frame_len [count++] = (size_t) (sep - at);
        at = sep + S_SEP_LEN;
    }
    frame [count] = at;
    frame_len [count++] = (size_t) (end - at);

    //  Decoders on the raw bytes and on each frame.
    s_check_utf8 (data, size);
    for (size_t skew = 1; skew < 8 && skew < size; skew++)
        s_check_utf8 (data + skew, size - skew);
    s_check_envelope (data, size);
    nws_channel_t channel;
    for (int i = 0; i < count; i++) {
        s_check_utf8 (frame [i], frame_len [i]);
        s_check_envelope (frame [i], frame_len [i]);
        (void) nws_channel_from_topic (frame [i], frame_len [i], &channel);
        (void) nws_channel_from_interest (frame [i], frame_len [i], &channel);
    }

    //  The whole message through a socket.
    for (int i = 0; i < count; i++) {
        int rc;
        do
            rc = zmq_send (s_out, frame [i], frame_len [i], i + 1 < count ? ZMQ_SNDMORE : 0);
        while (rc < 0 && errno == EINTR);
        FUZZ_CHECK (rc == (int) frame_len [i]);
    }
    nws_envelope_t env;
    int want = count >= 2 && count <= 3
            && nws_channel_from_topic (frame [0], frame_len [0], &channel) == 0
            && (count == 2 || s_ref_envelope (frame [1], frame_len [1]) == 0);
    nws_hubmsg_t msg;
    const char *why = NULL;
    int rc = s_recv (&msg, &why);
    s_check_drained ();
    if (!want) {
        FUZZ_CHECK (rc == -EBADMSG && why && *why);
        return 0;
    }
    FUZZ_CHECK (rc == 0);
    FUZZ_CHECK (msg.external == (count == 2));
    FUZZ_CHECK (msg.channel.scope == channel.scope && msg.channel.name_len == channel.name_len
                && strcmp (msg.channel.name, channel.name) == 0);
    FUZZ_CHECK (s_same_bytes (&msg.topic, frame [0], frame_len [0]));
    FUZZ_CHECK (s_same_bytes (&msg.payload, frame [count - 1], frame_len [count - 1]));
    if (count == 3) {
        FUZZ_CHECK (nws_envelope_decode (frame [1], frame_len [1], &env) == 0);
        FUZZ_CHECK (msg.env.kind == env.kind && msg.env.flags == env.flags
                    && msg.env.origin == env.origin && msg.env.seq == env.seq);
    }
    else
        FUZZ_CHECK (msg.env.kind == NWS_KIND_TEXT && msg.env.flags == 0
                    && msg.env.origin == 0 && msg.env.seq == 0);

    //  Sent again by nws_hubmsg_send, read back the same.
    env = msg.env;
    if (env.kind == NWS_KIND_TEXT)
        env.flags ^= NWS_FLAG_FROM_PROXY;
    FUZZ_CHECK (nws_hubmsg_send (s_out, frame [0], frame_len [0], &env,
                                 frame [count - 1], frame_len [count - 1]) == 0);
    nws_hubmsg_close (&msg);
    rc = s_recv (&msg, &why);
    FUZZ_CHECK (rc == 0 && !msg.external);
    FUZZ_CHECK (msg.env.kind == env.kind && msg.env.flags == env.flags
                && msg.env.origin == env.origin && msg.env.seq == env.seq);
    FUZZ_CHECK (s_same_bytes (&msg.topic, frame [0], frame_len [0]));
    FUZZ_CHECK (s_same_bytes (&msg.payload, frame [count - 1], frame_len [count - 1]));
    nws_hubmsg_close (&msg);
    s_check_drained ();
    return 0;
}
