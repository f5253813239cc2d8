/*  Unit tests of nws_hubmsg over real libzmq inproc sockets: a PAIR for
    exact frame-level control, and XPUB/SUB for topic filtering. Each case
    makes its own context and ends by terminating it, which only returns
    once every socket is closed.  */
#include "nws_hubmsg.h"
#include "nws_unit.h"

#define S_RCVTIMEO_MS 5000          /* a missing message fails, never hangs */

typedef struct {
    void *ctx;                      /* this case's context */
    void *tx;                       /* sends raw frames */
    void *rx;                       /* read with nws_hubmsg_recv */
} pair_t;

static void
s_pair_open (pair_t *pair)
{
    int linger = 0, timeout = S_RCVTIMEO_MS;
    pair->ctx = zmq_ctx_new ();
    CHECK (pair->ctx);
    pair->rx = zmq_socket (pair->ctx, ZMQ_PAIR);
    pair->tx = zmq_socket (pair->ctx, ZMQ_PAIR);
    CHECK (pair->rx && pair->tx);
    CHECK_INT (zmq_setsockopt (pair->rx, ZMQ_LINGER, &linger, sizeof linger), 0);
    CHECK_INT (zmq_setsockopt (pair->tx, ZMQ_LINGER, &linger, sizeof linger), 0);
    CHECK_INT (zmq_setsockopt (pair->rx, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    CHECK_INT (zmq_bind (pair->rx, "inproc://hubmsg"), 0);
    CHECK_INT (zmq_connect (pair->tx, "inproc://hubmsg"), 0);
}

static void
s_pair_close (pair_t *pair)
{
    CHECK_INT (zmq_close (pair->tx), 0);
    CHECK_INT (zmq_close (pair->rx), 0);
    CHECK_INT (zmq_ctx_term (pair->ctx), 0);
}

//  Sends one multipart message of count frames, data [i] of len [i] bytes.
static void
s_send_frames (void *sock, int count, const void *const *data, const size_t *len)
{
    for (int i = 0; i < count; i++)
        CHECK_INT (zmq_send (sock, data [i], len [i], i + 1 < count ? ZMQ_SNDMORE : 0),
                   (int) len [i]);
}

static uint8_t s_good_env [NWS_ENVELOPE_SIZE];

static void
s_encode_good (uint64_t seq)
{
    nws_envelope_t env = { .kind = NWS_KIND_BINARY, .flags = NWS_FLAG_FROM_PROXY,
                           .origin = (UINT64_C (7) << 32) | 3, .seq = seq };
    nws_envelope_encode (&env, s_good_env);
}

//  Sends a valid 3-frame message on local/good/ with this payload.
static void
s_send_good (void *sock, const char *payload, uint64_t seq)
{
    s_encode_good (seq);
    const void *data [] = { "local/good/", s_good_env, payload };
    const size_t len [] = { 11, NWS_ENVELOPE_SIZE, strlen (payload) };
    s_send_frames (sock, 3, data, len);
}

//  Receives and checks the message s_send_good sent.
static void
s_expect_good (void *sock, const char *payload, uint64_t seq)
{
    nws_hubmsg_t msg;
    const char *why = "untouched";
    int rc = nws_hubmsg_recv (sock, &msg, 0, &why);
    if (rc != 0)
        fprintf (stderr, "recv: %d (%s)\n", rc, why);
    CHECK_INT (rc, 0);
    CHECK_STR (why, "untouched");       //  set only on -EBADMSG
    CHECK_INT (msg.external, 0);
    CHECK_INT (msg.channel.scope, NWS_SCOPE_LOCAL);
    CHECK_STR (msg.channel.name, "good");
    CHECK_INT (msg.env.kind, NWS_KIND_BINARY);
    CHECK_INT (msg.env.flags, NWS_FLAG_FROM_PROXY);
    CHECK_U64 (msg.env.origin, (UINT64_C (7) << 32) | 3);
    CHECK_U64 (msg.env.seq, seq);
    CHECK_INT (zmq_msg_size (&msg.topic), 11);
    CHECK_MEM (zmq_msg_data (&msg.topic), "local/good/", 11);
    CHECK_INT (zmq_msg_size (&msg.payload), strlen (payload));
    CHECK_MEM (zmq_msg_data (&msg.payload), payload, strlen (payload));
    nws_hubmsg_close (&msg);
}

//  Nothing more is waiting on sock.
static void
s_expect_empty (void *sock)
{
    nws_hubmsg_t msg;
    const char *why = NULL;
    CHECK_INT (nws_hubmsg_recv (sock, &msg, ZMQ_DONTWAIT, &why), -EAGAIN);
    CHECK (why == NULL);
}

static void
three_frames (void)
{
    pair_t pair;
    s_pair_open (&pair);
    uint8_t env [NWS_ENVELOPE_SIZE];
    nws_envelope_t in = { .kind = NWS_KIND_TEXT, .flags = NWS_FLAG_CONTROL,
                          .origin = UINT64_MAX, .seq = UINT64_MAX - 1 };
    nws_envelope_encode (&in, env);
    const void *data [] = { "broadcast/news/", env, "hello\0world" };
    const size_t len [] = { 15, sizeof env, 11 };
    s_send_frames (pair.tx, 3, data, len);

    nws_hubmsg_t msg;
    CHECK_INT (nws_hubmsg_recv (pair.rx, &msg, 0, NULL), 0);
    CHECK_INT (msg.external, 0);
    CHECK_INT (msg.channel.scope, NWS_SCOPE_BROADCAST);
    CHECK_STR (msg.channel.name, "news");
    CHECK_INT (msg.channel.name_len, 4);
    CHECK_INT (msg.env.kind, NWS_KIND_TEXT);
    CHECK_INT (msg.env.flags, NWS_FLAG_CONTROL);
    CHECK_U64 (msg.env.origin, UINT64_MAX);
    CHECK_U64 (msg.env.seq, UINT64_MAX - 1);
    CHECK_INT (zmq_msg_size (&msg.topic), 15);
    CHECK_MEM (zmq_msg_data (&msg.topic), "broadcast/news/", 15);
    CHECK_INT (zmq_msg_size (&msg.payload), 11);
    CHECK_MEM (zmq_msg_data (&msg.payload), "hello\0world", 11);
    nws_hubmsg_close (&msg);
    s_expect_empty (pair.rx);
    s_pair_close (&pair);
}

//  nws_hubmsg_send writes what nws_hubmsg_recv reads, empty payloads too.
static void
send_then_recv (void)
{
    pair_t pair;
    s_pair_open (&pair);
    nws_envelope_t in = { .kind = NWS_KIND_BINARY, .flags = 0,
                          .origin = UINT64_C (0x1234567800000001), .seq = 1 };
    static const uint8_t payload [] = { 0, 1, 2, 0xff, 0xfe, 0 };
    CHECK_INT (nws_hubmsg_send (pair.tx, "local/bin/", 10, &in, payload, sizeof payload), 0);
    in.seq = 2;
    CHECK_INT (nws_hubmsg_send (pair.tx, "local/bin/", 10, &in, "", 0), 0);

    nws_hubmsg_t msg;
    for (uint64_t seq = 1; seq <= 2; seq++) {
        CHECK_INT (nws_hubmsg_recv (pair.rx, &msg, 0, NULL), 0);
        CHECK_INT (msg.external, 0);
        CHECK_STR (msg.channel.name, "bin");
        CHECK_INT (msg.env.kind, NWS_KIND_BINARY);
        CHECK_U64 (msg.env.origin, UINT64_C (0x1234567800000001));
        CHECK_U64 (msg.env.seq, seq);
        size_t want = seq == 1 ? sizeof payload : 0;
        CHECK_INT (zmq_msg_size (&msg.payload), want);
        if (want)
            CHECK_MEM (zmq_msg_data (&msg.payload), payload, want);
        nws_hubmsg_close (&msg);
    }

    //  the wire form is exactly [topic][20-byte envelope][payload]
    in.seq = 3;
    CHECK_INT (nws_hubmsg_send (pair.tx, "local/bin/", 10, &in, "p", 1), 0);
    uint8_t frame [64], expected [NWS_ENVELOPE_SIZE];
    int more;
    size_t more_size = sizeof more;
    CHECK_INT (zmq_recv (pair.rx, frame, sizeof frame, 0), 10);
    CHECK_MEM (frame, "local/bin/", 10);
    CHECK_INT (zmq_getsockopt (pair.rx, ZMQ_RCVMORE, &more, &more_size), 0);
    CHECK_INT (more, 1);
    CHECK_INT (zmq_recv (pair.rx, frame, sizeof frame, 0), NWS_ENVELOPE_SIZE);
    nws_envelope_encode (&in, expected);
    CHECK_MEM (frame, expected, NWS_ENVELOPE_SIZE);
    CHECK_INT (zmq_recv (pair.rx, frame, sizeof frame, 0), 1);
    CHECK_INT (frame [0], 'p');
    CHECK_INT (zmq_getsockopt (pair.rx, ZMQ_RCVMORE, &more, &more_size), 0);
    CHECK_INT (more, 0);
    s_pair_close (&pair);
}

//  [topic][payload] from an outside publisher: text, origin 0, external.
static void
two_frames_external (void)
{
    pair_t pair;
    s_pair_open (&pair);
    const void *data [] = { "local/chat/", "hi there" };
    const size_t len [] = { 11, 8 };
    s_send_frames (pair.tx, 2, data, len);

    nws_hubmsg_t msg;
    memset (&msg.env, 0x5a, sizeof msg.env);
    const char *why = "untouched";
    CHECK_INT (nws_hubmsg_recv (pair.rx, &msg, 0, &why), 0);
    CHECK_STR (why, "untouched");
    CHECK_INT (msg.external, 1);
    CHECK_INT (msg.channel.scope, NWS_SCOPE_LOCAL);
    CHECK_STR (msg.channel.name, "chat");
    CHECK_INT (msg.env.kind, NWS_KIND_TEXT);
    CHECK_INT (msg.env.flags, 0);
    CHECK_U64 (msg.env.origin, 0);
    CHECK_U64 (msg.env.seq, 0);
    CHECK_INT (zmq_msg_size (&msg.topic), 11);
    CHECK_MEM (zmq_msg_data (&msg.topic), "local/chat/", 11);
    CHECK_INT (zmq_msg_size (&msg.payload), 8);
    CHECK_MEM (zmq_msg_data (&msg.payload), "hi there", 8);
    nws_hubmsg_close (&msg);

    //  a 20-byte payload is still a payload when there are only 2 frames
    s_encode_good (9);
    const void *data2 [] = { "broadcast/x/", s_good_env };
    const size_t len2 [] = { 12, NWS_ENVELOPE_SIZE };
    s_send_frames (pair.tx, 2, data2, len2);
    CHECK_INT (nws_hubmsg_recv (pair.rx, &msg, 0, NULL), 0);
    CHECK_INT (msg.external, 1);
    CHECK_U64 (msg.env.seq, 0);
    CHECK_INT (zmq_msg_size (&msg.payload), NWS_ENVELOPE_SIZE);
    nws_hubmsg_close (&msg);
    s_pair_close (&pair);
}

typedef struct {
    const char *label;              /* for the failure report */
    int count;                      /* frames */
    const void *data [12];          /* NULL: a valid envelope */
    size_t len [12];                /* of each frame */
    const char *why;                /* the reason expected */
} bad_case_t;

static const uint8_t s_env_v2 [NWS_ENVELOPE_SIZE] = { 2, 1 };
static const uint8_t s_env_kind3 [NWS_ENVELOPE_SIZE] = { 1, 3 };
static const uint8_t s_env_flags [NWS_ENVELOPE_SIZE] = { 1, 1, 0x80 };
static const uint8_t s_env_reserved [NWS_ENVELOPE_SIZE] = { 1, 1, 0, 1 };
static const uint8_t s_env_short [NWS_ENVELOPE_SIZE] = { 1, 1 };

static const bad_case_t s_bad [] = {
    { "1 frame", 1, { "local/chat/" }, { 11 }, "fewer than 2 frames" },
    { "1 empty frame", 1, { "" }, { 0 }, "fewer than 2 frames" },
    { "4 frames", 4, { "local/chat/", NULL, "a", "b" }, { 11, 20, 1, 1 },
      "more than 3 frames" },
    { "12 frames", 12, { "local/chat/", NULL, "1", "2", "3", "4", "5", "6", "7",
      "8", "9", "10" }, { 11, 20, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2 }, "more than 3 frames" },
    { "bad topic, 2 frames", 2, { "local/chat", "x" }, { 10, 1 },
      "topic is not <scope>/<name>/" },
    { "bad topic, 3 frames", 3, { "global/chat/", NULL, "x" }, { 12, 20, 1 },
      "topic is not <scope>/<name>/" },
    { "empty topic", 2, { "", "x" }, { 0, 1 }, "topic is not <scope>/<name>/" },
    { "scope only", 3, { "broadcast/", NULL, "x" }, { 10, 20, 1 },
      "topic is not <scope>/<name>/" },
    { "envelope version 2", 3, { "local/chat/", s_env_v2, "x" }, { 11, 20, 1 },
      "unknown envelope version" },
    { "envelope kind 3", 3, { "local/chat/", s_env_kind3, "x" }, { 11, 20, 1 },
      "malformed envelope" },
    { "envelope flag 0x80", 3, { "local/chat/", s_env_flags, "x" }, { 11, 20, 1 },
      "malformed envelope" },
    { "envelope reserved", 3, { "local/chat/", s_env_reserved, "x" }, { 11, 20, 1 },
      "malformed envelope" },
    { "envelope 19 bytes", 3, { "local/chat/", s_env_short, "x" }, { 11, 19, 1 },
      "malformed envelope" },
    { "envelope empty", 3, { "local/chat/", "", "x" }, { 11, 0, 1 },
      "malformed envelope" },
    { NULL }
};

static void
s_send_bad (void *sock, const bad_case_t *c)
{
    const void *data [12];
    s_encode_good (1);
    for (int i = 0; i < c->count; i++)
        data [i] = c->data [i] ? c->data [i] : s_good_env;
    s_send_frames (sock, c->count, data, c->len);
}

static void
s_expect_bad (void *sock, const bad_case_t *c)
{
    nws_hubmsg_t msg;
    const char *why = NULL;
    int rc = nws_hubmsg_recv (sock, &msg, 0, &why);
    if (rc != -EBADMSG || !why || strcmp (why, c->why) != 0) {
        fprintf (stderr, "%s: rc %d, why '%s'; expected -EBADMSG, '%s'\n",
                 c->label, rc, why ? why : "(null)", c->why);
        CHECK (0);
    }
}

//  Each malformed message is rejected with its reason, and the good one
//  sent after it is then read whole: nothing of the bad one is left over.
static void
bad_then_good (void)
{
    pair_t pair;
    s_pair_open (&pair);
    uint64_t seq = 100;
    for (const bad_case_t *c = s_bad; c->label; c++, seq++) {
        s_send_bad (pair.tx, c);
        s_send_good (pair.tx, c->label, seq);
        s_expect_bad (pair.rx, c);
        s_expect_good (pair.rx, c->label, seq);
        s_expect_empty (pair.rx);
    }
    s_pair_close (&pair);
}

//  All the bad messages queued back to back, then one good one.
static void
bad_burst_then_good (void)
{
    pair_t pair;
    s_pair_open (&pair);
    for (const bad_case_t *c = s_bad; c->label; c++)
        s_send_bad (pair.tx, c);
    s_send_good (pair.tx, "after the burst", 42);
    for (const bad_case_t *c = s_bad; c->label; c++)
        s_expect_bad (pair.rx, c);
    s_expect_good (pair.rx, "after the burst", 42);
    s_expect_empty (pair.rx);
    s_pair_close (&pair);
}

//  why may be NULL; the message is still consumed.
static void
bad_without_why (void)
{
    pair_t pair;
    s_pair_open (&pair);
    s_send_bad (pair.tx, &s_bad [2]);   //  4 frames
    s_send_good (pair.tx, "next", 5);
    nws_hubmsg_t msg;
    CHECK_INT (nws_hubmsg_recv (pair.rx, &msg, 0, NULL), -EBADMSG);
    s_expect_good (pair.rx, "next", 5);
    s_pair_close (&pair);
}

//  ZMQ_DONTWAIT on an empty socket: -EAGAIN; a timeout reads the same.
static void
nothing_waiting (void)
{
    pair_t pair;
    s_pair_open (&pair);
    s_expect_empty (pair.rx);
    int timeout = 10;
    CHECK_INT (zmq_setsockopt (pair.rx, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    nws_hubmsg_t msg;
    CHECK_INT (nws_hubmsg_recv (pair.rx, &msg, 0, NULL), -EAGAIN);
    s_send_good (pair.tx, "late", 1);
    timeout = S_RCVTIMEO_MS;
    CHECK_INT (zmq_setsockopt (pair.rx, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    s_expect_good (pair.rx, "late", 1);
    s_pair_close (&pair);
}

//  Another libzmq error is passed up as a negative errno.
static void
zmq_error_passed_up (void)
{
    void *ctx = zmq_ctx_new ();
    CHECK (ctx);
    void *pub = zmq_socket (ctx, ZMQ_PUB);
    CHECK (pub);
    nws_hubmsg_t msg;
    CHECK_INT (nws_hubmsg_recv (pub, &msg, ZMQ_DONTWAIT, NULL), -ENOTSUP);
    CHECK_INT (zmq_close (pub), 0);
    CHECK_INT (zmq_ctx_term (ctx), 0);
}

//  Receives raw frames into one string "f1|f2|f3" (frames joined by '|').
static void
s_recv_joined (void *sock, char *buf, size_t cap)
{
    size_t used = 0;
    int more = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        CHECK (zmq_msg_recv (&part, sock, 0) >= 0);
        size_t n = zmq_msg_size (&part);
        CHECK (used + n + 2 < cap);
        if (used)
            buf [used++] = '|';
        memcpy (buf + used, zmq_msg_data (&part), n);
        used += n;
        more = zmq_msg_more (&part);
        zmq_msg_close (&part);
    }
    buf [used] = '\0';
}

//  Over XPUB/SUB, a subscription to "local/chat/" receives that channel
//  and not "local/chatroom/" nor "broadcast/chat/"; one to "broadcast/"
//  receives every broadcast channel. Readiness is the subscription
//  arriving at the XPUB, not a sleep.
static void
pubsub_topics (void)
{
    int linger = 0, timeout = S_RCVTIMEO_MS;
    void *ctx = zmq_ctx_new ();
    CHECK (ctx);
    void *xpub = zmq_socket (ctx, ZMQ_XPUB);
    void *sub = zmq_socket (ctx, ZMQ_SUB);
    CHECK (xpub && sub);
    CHECK_INT (zmq_setsockopt (xpub, ZMQ_LINGER, &linger, sizeof linger), 0);
    CHECK_INT (zmq_setsockopt (sub, ZMQ_LINGER, &linger, sizeof linger), 0);
    CHECK_INT (zmq_setsockopt (xpub, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    CHECK_INT (zmq_setsockopt (sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    CHECK_INT (zmq_bind (xpub, "inproc://hub-out"), 0);
    CHECK_INT (zmq_connect (sub, "inproc://hub-out"), 0);

    nws_channel_t chat = { NWS_SCOPE_LOCAL, 4, "chat" };
    char topic [NWS_TOPIC_MAX];
    int tlen = nws_channel_topic (&chat, topic, sizeof topic);
    CHECK_INT (tlen, 11);
    CHECK_INT (zmq_setsockopt (sub, ZMQ_SUBSCRIBE, topic, (size_t) tlen), 0);
    CHECK_INT (zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "broadcast/", 10), 0);
    char got [128];
    s_recv_joined (xpub, got, sizeof got);
    CHECK_STR (got, "\001local/chat/");
    s_recv_joined (xpub, got, sizeof got);
    CHECK_STR (got, "\001broadcast/");

    nws_envelope_t env = { .kind = NWS_KIND_TEXT, .origin = UINT64_C (1) << 32 };
    static const struct { const char *topic; const char *payload; int delivered; } sends [] = {
        { "local/chatroom/", "room", 0 },
        { "local/cha/", "cha", 0 },
        { "local/chat/", "chat 1", 1 },
        { "broadcast/chat/", "bchat", 1 },
        { "broadcast/chatroom/", "broom", 1 },
        { "local/chat.x/", "chatx", 0 },
        { "local/chat/", "chat 2", 1 },
    };
    const size_t n = sizeof sends / sizeof sends [0];
    for (size_t i = 0; i < n; i++) {
        env.seq = i + 1;
        CHECK_INT (nws_hubmsg_send (xpub, sends [i].topic, strlen (sends [i].topic),
                                    &env, sends [i].payload, strlen (sends [i].payload)), 0);
    }
    //  messages arrive in order, so once the last is read any filtered-out
    //  one would already have shown up
    for (size_t i = 0; i < n; i++) {
        if (!sends [i].delivered)
            continue;
        nws_hubmsg_t msg;
        CHECK_INT (nws_hubmsg_recv (sub, &msg, 0, NULL), 0);
        nws_channel_t want;
        CHECK_INT (nws_channel_from_topic (sends [i].topic, strlen (sends [i].topic), &want), 0);
        CHECK_INT (msg.channel.scope, want.scope);
        CHECK_STR (msg.channel.name, want.name);
        CHECK_U64 (msg.env.seq, i + 1);
        CHECK_INT (zmq_msg_size (&msg.payload), strlen (sends [i].payload));
        CHECK_MEM (zmq_msg_data (&msg.payload), sends [i].payload, strlen (sends [i].payload));
        nws_hubmsg_close (&msg);
    }
    s_expect_empty (sub);
    CHECK_INT (zmq_close (sub), 0);
    CHECK_INT (zmq_close (xpub), 0);
    CHECK_INT (zmq_ctx_term (ctx), 0);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (three_frames),
        NWS_UNIT_CASE (send_then_recv),
        NWS_UNIT_CASE (two_frames_external),
        NWS_UNIT_CASE (bad_then_good),
        NWS_UNIT_CASE (bad_burst_then_good),
        NWS_UNIT_CASE (bad_without_why),
        NWS_UNIT_CASE (nothing_waiting),
        NWS_UNIT_CASE (zmq_error_passed_up),
        NWS_UNIT_CASE (pubsub_topics),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
