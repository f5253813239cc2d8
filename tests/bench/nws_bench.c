/*  nws-bench - fan-out benchmark: one sender, N receivers, one channel.

    Opens N receivers, then one sender, on ws://HOST:PORT/local/<channel>.
    Once every handshake is done and a warm-up message has reached every
    receiver, the clock starts and the sender sends M messages of S bytes,
    never more than W ahead of the slowest receiver. Every receiver checks
    the order of what it gets and records each message's latency. The
    report gives throughput, latency percentiles, lost, duplicated and
    reordered messages, and the benchmark's own CPU share.

    One thread drives every connection through one epoll, with a minimal
    RFC 6455 client per connection, so the benchmark costs little next to
    the server it measures. It needs nothing beyond libc.

    Limits: ws:// only (no TLS), no extensions (so no compression), the
    Sec-WebSocket-Accept header is not checked (the 101 status is), the
    first address the host resolves to is the only one tried, at most
    2^32 - 2 messages, latency percentiles within 1/128 (0.8%).
*/
#define _DEFAULT_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*  Payload, S bytes (S >= 16). Printable ASCII, so also valid as text:

    bytes   content
    0..15   base64url (RFC 4648 section 5) of 12 bytes:
              0..3   sequence number, u32 big-endian (S_WARMUP_SEQ: warm-up)
              4..11  send time, CLOCK_MONOTONIC ns, u64 big-endian
    16..23  run tag: 8 random base64url characters, when S >= 24, so that
            another run on the same channel shows as foreign messages
    ..      padding, 'x'

    Client frames (RFC 6455 section 5.2), as s_frame_head writes them:

    bytes   content
    0       0x80 (FIN) | opcode
    1       0x80 (MASK) | length, or 126: u16 follows, or 127: u64 follows
    2..     extended length, big-endian (0, 2 or 8 bytes)
    +4      masking key
    ...     payload XOR key [i % 4]
*/
#define S_HEADER_SIZE   16                  /* payload bytes holding seq and time */
#define S_TAG_SIZE      8                   /* run tag after the header, room permitting */
#define S_SIZE_MAX      (64u << 20)         /* the hub's largest message */
#define S_MESSAGES_MAX  0xFFFFFFFEu         /* seq is a u32 and ~0 is taken */
#define S_WARMUP_SEQ    0xFFFFFFFFu         /* seq of warm-up messages */
#define S_RECEIVERS_MAX 100000              /* one fd each */
#define S_READ_CHUNK    (64u << 10)         /* least room offered to each recv */
#define S_SEND_BATCH    (64u << 10)         /* queue this much, then send */
#define S_HEAD_MAX      8192                /* longest HTTP response head */
#define S_MS            1000000ull          /* ns */
#define S_SEC           1000000000ull       /* ns */
//  A receiver's subscription may reach the hub a little after its
//  handshake, so the warm-up is repeated until every receiver saw one.
#define S_WARMUP_EVERY  (200 * S_MS)
//  After the last message reached every receiver, wait this long for
//  earlier ones still missing (late, so reordered) before calling them lost.
#define S_GRACE         (1 * S_SEC)

#define S_OP_CONT       0x0
#define S_OP_TEXT       0x1
#define S_OP_BINARY     0x2
#define S_OP_CLOSE      0x8
#define S_OP_PING       0x9
#define S_OP_PONG       0xA

//  Latency histogram: values below 2 * 2^B ns are exact, larger ones fall
//  in 2^B buckets per power of two, i.e. within 1/2^B of their value.
#define S_HIST_BITS     7
#define S_HIST_SUB      (1u << S_HIST_BITS)
#define S_HIST_BUCKETS  (S_HIST_SUB * (65 - S_HIST_BITS))

typedef enum {
    S_IDLE,                         /* not connected yet */
    S_CONNECTING,                   /* TCP connect in progress */
    S_HANDSHAKE,                    /* upgrade request sent, 101 awaited */
    S_OPEN,                         /* WebSocket frames flow */
    S_CLOSED                        /* failed or shut down, out of epoll */
} s_state_t;

typedef enum {
    S_PHASE_RECEIVERS,              /* receivers connecting */
    S_PHASE_SENDER,                 /* sender connecting */
    S_PHASE_WARMUP,                 /* warm-up sent, waiting for every receiver */
    S_PHASE_RUNNING,                /* clock started, messages flow */
    S_PHASE_DONE                    /* all delivered, or given up */
} s_phase_t;

typedef struct {
    const char *host;               /* server name or address */
    const char *port;               /* TCP port, as getaddrinfo wants it */
    const char *channel;            /* path is /local/<channel> */
    uint32_t receivers;             /* N */
    uint64_t messages;              /* M */
    uint64_t size;                  /* payload bytes, >= S_HEADER_SIZE */
    uint64_t window;                /* most messages ahead of the slowest receiver */
    bool binary;                    /* binary frames instead of text */
    uint64_t timeout;               /* seconds for the whole run */
} s_config_t;

typedef struct {
    uint8_t *data;                  /* NULL until first used */
    size_t off;                     /* first byte not consumed */
    size_t len;                     /* end of the bytes held */
    size_t cap;                     /* bytes allocated */
} s_buf_t;

typedef struct {
    char name [24];                 /* "sender" or "receiver 7", for messages */
    bool is_sender;                 /* else a receiver */
    int fd;                         /* -1 when none */
    s_state_t state;                /* where in its life */
    bool want_out;                  /* EPOLLOUT is registered */
    s_buf_t in;                     /* received, not parsed yet */
    s_buf_t out;                    /* to send */
    size_t need;                    /* bytes the incomplete frame in `in` needs */
    s_buf_t frag;                   /* fragments of a message being reassembled */
    int frag_opcode;                /* its opcode, 0 when none */
    uint8_t *seen;                  /* receiver: bitmap of seqs received */
    uint64_t distinct;              /* receiver: seqs received at least once */
    uint64_t reached;               /* receiver: highest seq received + 1 */
    uint64_t dup;                   /* receiver: seqs received again */
    uint64_t reordered;             /* receiver: seqs received after a later one */
    bool warm;                      /* receiver: a warm-up message arrived */
} s_conn_t;

typedef struct {
    s_config_t config;              /* from the command line */
    struct addrinfo *addr;          /* server address, first one used */
    char request [600];             /* upgrade request minus key and end */
    size_t request_len;             /* strlen (request) */
    int epfd;                       /* the one epoll */
    struct epoll_event *events;     /* epoll_wait output, receivers + 1 */
    s_conn_t *receivers;            /* config.receivers of them */
    s_conn_t sender;                /* the one sender */
    s_phase_t phase;                /* where the run is */
    s_phase_t ended_in;             /* phase when it ended, for the report */
    uint32_t open;                  /* receivers past the handshake */
    uint32_t warm;                  /* receivers that saw a warm-up */
    uint32_t complete;              /* receivers that got every message */
    uint32_t reached_end;           /* receivers that got the last message */
    uint64_t sent;                  /* measured messages queued by the sender */
    uint64_t floor;                 /* min reached over receivers, as last computed */
    uint8_t *padding;               /* config.size bytes of payload template */
    uint64_t rng;                   /* xorshift64* state, for masking keys */
    uint64_t deadline;              /* give up at this time */
    uint64_t warmup_next;           /* time to repeat the warm-up */
    uint64_t grace_end;             /* stop waiting for stragglers, 0 if unset */
    uint64_t start;                 /* clock start, after the warm-up */
    uint64_t stop;                  /* time the traffic ended, 0 until then */
    uint64_t last_delivery;         /* time of the last measured delivery */
    uint64_t foreign;               /* messages that are not this run's */
    struct rusage ru_start;         /* own CPU at clock start */
    struct rusage ru_stop;          /* own CPU at the end */
    bool failed;                    /* a connection failed */
    bool timed_out;                 /* deadline passed */
    bool interrupted;               /* SIGINT or SIGTERM */
    uint64_t hist [S_HIST_BUCKETS]; /* latency counts, see s_hist_index */
    uint64_t hist_count;            /* latencies recorded */
    uint64_t lat_max;               /* largest latency, exact, ns */
} s_bench_t;

static volatile sig_atomic_t s_stop = 0;

static const char s_b64_std [] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char s_b64_url [] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
s_on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

static uint64_t
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * S_SEC + (uint64_t) ts.tv_nsec;
}

//  Prints "nws-bench: <conn>: <message>" on stderr.
static void
s_conn_error (const s_conn_t *conn, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "nws-bench: %s: ", conn->name);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
}

//  xorshift64*: masking keys need to be unpredictable to proxies, not
//  cryptographic, and this keeps the sender cheap.
static uint64_t
s_random (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

//  Fills buf with len random bytes from the kernel, or from the clock if
//  getrandom fails (only the handshake keys and the seed depend on it).
static void
s_entropy (void *buf, size_t len)
{
    if (getrandom (buf, len, 0) == (ssize_t) len)
        return;
    uint64_t x = s_now () ^ (uint64_t) getpid () << 32;
    for (size_t i = 0; i < len; i++)
        ((uint8_t *) buf) [i] = (uint8_t) (s_random (&x) >> 56);
}

//  Base64 of len bytes with the given alphabet, '=' padded if pad; writes
//  4 * ceil(len / 3) characters or fewer without padding, no NUL.
static size_t
s_base64 (const uint8_t *src, size_t len, char *dst, const char *alphabet, bool pad)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t group = (uint32_t) src [i] << 16;
        if (i + 1 < len)
            group |= (uint32_t) src [i + 1] << 8;
        if (i + 2 < len)
            group |= src [i + 2];
        dst [n++] = alphabet [group >> 18];
        dst [n++] = alphabet [(group >> 12) & 63];
        if (i + 1 < len)
            dst [n++] = alphabet [(group >> 6) & 63];
        else
        if (pad)
            dst [n++] = '=';
        if (i + 2 < len)
            dst [n++] = alphabet [group & 63];
        else
        if (pad)
            dst [n++] = '=';
    }
    return n;
}

static int
s_b64_url_value (uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

//  Writes the S_HEADER_SIZE payload header (table at the top).
static void
s_payload_header (uint8_t *dst, uint32_t seq, uint64_t time)
{
    uint8_t raw [12];
    for (int i = 0; i < 4; i++)
        raw [i] = (uint8_t) (seq >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        raw [4 + i] = (uint8_t) (time >> (56 - 8 * i));
    s_base64 (raw, sizeof raw, (char *) dst, s_b64_url, false);
}

//  Reads a payload header. Returns 0, or -EINVAL if it is not one.
static int
s_payload_parse (const uint8_t *src, uint32_t *seq, uint64_t *time)
{
    uint8_t raw [12];
    for (int i = 0; i < 4; i++) {
        uint32_t group = 0;
        for (int j = 0; j < 4; j++) {
            int value = s_b64_url_value (src [4 * i + j]);
            if (value < 0)
                return -EINVAL;
            group = group << 6 | (uint32_t) value;
        }
        raw [3 * i] = (uint8_t) (group >> 16);
        raw [3 * i + 1] = (uint8_t) (group >> 8);
        raw [3 * i + 2] = (uint8_t) group;
    }
    *seq = 0;
    for (int i = 0; i < 4; i++)
        *seq = *seq << 8 | raw [i];
    *time = 0;
    for (int i = 0; i < 8; i++)
        *time = *time << 8 | raw [4 + i];
    return 0;
}

//  Writes a client frame head (table at the top); returns its length,
//  at most 14 bytes.
static size_t
s_frame_head (uint8_t *dst, int opcode, uint64_t len, const uint8_t key [4])
{
    size_t n = 0;
    dst [n++] = (uint8_t) (0x80 | opcode);
    if (len < 126)
        dst [n++] = (uint8_t) (0x80 | len);
    else
    if (len <= 0xFFFF) {
        dst [n++] = 0x80 | 126;
        dst [n++] = (uint8_t) (len >> 8);
        dst [n++] = (uint8_t) len;
    }
    else {
        dst [n++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            dst [n++] = (uint8_t) (len >> shift);
    }
    memcpy (dst + n, key, 4);
    return n + 4;
}

//  dst = src XOR key, with src starting at a multiple of 4 in the payload.
//  Eight bytes at a time: the sender masks every byte it sends.
static void
s_mask_copy (uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key [4])
{
    uint32_t key32;
    memcpy (&key32, key, 4);
    uint64_t key64 = (uint64_t) key32 << 32 | key32;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy (&word, src + i, 8);
        word ^= key64;
        memcpy (dst + i, &word, 8);
    }
    for (; i < len; i++)
        dst [i] = src [i] ^ key [i & 3];
}

//  Makes room for want more bytes after len, first by dropping consumed
//  bytes, then by growing. Returns 0 or -ENOMEM.
static int
s_buf_reserve (s_buf_t *self, size_t want)
{
    if (self->cap - self->len >= want)
        return 0;
    if (self->off > 0) {
        memmove (self->data, self->data + self->off, self->len - self->off);
        self->len -= self->off;
        self->off = 0;
        if (self->cap - self->len >= want)
            return 0;
    }
    size_t cap = self->cap ? self->cap : 4096;
    while (cap - self->len < want)
        cap *= 2;
    uint8_t *data = realloc (self->data, cap);
    if (!data)
        return -ENOMEM;
    self->data = data;
    self->cap = cap;
    return 0;
}

static int
s_buf_append (s_buf_t *self, const void *src, size_t len)
{
    int rc = s_buf_reserve (self, len);
    if (rc)
        return rc;
    memcpy (self->data + self->len, src, len);
    self->len += len;
    return 0;
}

static void
s_buf_free (s_buf_t *self)
{
    free (self->data);
    *self = (s_buf_t) { 0 };
}

static size_t
s_hist_index (uint64_t value)
{
    if (value < 2 * S_HIST_SUB)
        return (size_t) value;
    int msb = 63 - __builtin_clzll (value);
    int shift = msb - S_HIST_BITS;
    return 2 * S_HIST_SUB + (size_t) (msb - S_HIST_BITS - 1) * S_HIST_SUB
         + (size_t) ((value >> shift) - S_HIST_SUB);
}

//  Highest value that falls in bucket index.
static uint64_t
s_hist_upper (size_t index)
{
    if (index < 2 * S_HIST_SUB)
        return index;
    size_t group = (index - 2 * S_HIST_SUB) / S_HIST_SUB;
    uint64_t sub = (index - 2 * S_HIST_SUB) % S_HIST_SUB;
    int shift = (int) group + 1;
    if (shift + S_HIST_BITS + 1 >= 64 && sub == S_HIST_SUB - 1)
        return UINT64_MAX;
    return ((S_HIST_SUB + sub + 1) << shift) - 1;
}

static void
s_hist_add (s_bench_t *self, uint64_t value)
{
    self->hist [s_hist_index (value)]++;
    self->hist_count++;
    if (value > self->lat_max)
        self->lat_max = value;
}

//  Latency at fraction p (0..1) of the recorded ones, ns; 0 if none.
static uint64_t
s_hist_percentile (const s_bench_t *self, double p)
{
    if (self->hist_count == 0)
        return 0;
    uint64_t rank = (uint64_t) (p * (double) self->hist_count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < S_HIST_BUCKETS; i++) {
        seen += self->hist [i];
        if (seen >= rank) {
            uint64_t upper = s_hist_upper (i);
            return upper < self->lat_max ? upper : self->lat_max;
        }
    }
    return self->lat_max;
}

//  Registers the events conn wants: always input, output while bytes wait.
static int
s_conn_watch (s_bench_t *self, s_conn_t *conn, int op, bool want_out)
{
    struct epoll_event event = {
        .events = EPOLLIN | (want_out ? EPOLLOUT : 0),
        .data.ptr = conn
    };
    if (epoll_ctl (self->epfd, op, conn->fd, &event)) {
        int err = errno;
        s_conn_error (conn, "epoll_ctl: %s", strerror (err));
        return -err;
    }
    conn->want_out = want_out;
    return 0;
}

//  Deferred close: the connection leaves epoll and the run is marked
//  failed; its fd and buffers go at the end, in s_bench_destroy.
static void
s_conn_fail (s_bench_t *self, s_conn_t *conn)
{
    if (conn->state == S_CLOSED)
        return;
    if (conn->fd >= 0)
        epoll_ctl (self->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
    conn->state = S_CLOSED;
    self->failed = true;
}

//  Sends what conn->out holds, as much as the socket takes, and watches
//  for output while some is left. Returns 0 or a negative errno.
static int
s_conn_flush (s_bench_t *self, s_conn_t *conn)
{
    s_buf_t *out = &conn->out;
    while (out->off < out->len) {
        ssize_t n = send (conn->fd, out->data + out->off, out->len - out->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            int err = errno;
            s_conn_error (conn, "send: %s", strerror (err));
            return -err;
        }
        out->off += (size_t) n;
    }
    if (out->off == out->len)
        out->off = out->len = 0;
    bool want_out = out->len > 0;
    if (want_out != conn->want_out)
        return s_conn_watch (self, conn, EPOLL_CTL_MOD, want_out);
    return 0;
}

//  Queues a masked frame with a copy of the payload.
static int
s_conn_put_frame (s_bench_t *self, s_conn_t *conn, int opcode, const uint8_t *payload, size_t len)
{
    int rc = s_buf_reserve (&conn->out, 14 + len);
    if (rc) {
        s_conn_error (conn, "out of memory for a %zu-byte frame", len);
        return rc;
    }
    uint32_t random = (uint32_t) s_random (&self->rng);
    uint8_t key [4];
    memcpy (key, &random, 4);
    uint8_t *dst = conn->out.data + conn->out.len;
    size_t head = s_frame_head (dst, opcode, len, key);
    s_mask_copy (dst + head, payload, len, key);
    conn->out.len += head + len;
    return 0;
}

//  Starts a non-blocking connect; s_conn_on_connect follows on EPOLLOUT.
static int
s_conn_connect (s_bench_t *self, s_conn_t *conn)
{
    const struct addrinfo *addr = self->addr;
    conn->fd = socket (addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (conn->fd < 0) {
        int err = errno;
        s_conn_error (conn, "socket: %s", strerror (err));
        return -err;
    }
    //  Latency matters more than segment count here.
    int one = 1;
    setsockopt (conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect (conn->fd, addr->ai_addr, addr->ai_addrlen) && errno != EINPROGRESS) {
        int err = errno;
        s_conn_error (conn, "connect: %s", strerror (err));
        return -err;
    }
    conn->state = S_CONNECTING;
    return s_conn_watch (self, conn, EPOLL_CTL_ADD, true);
}

//  The TCP connect finished: on success, sends the upgrade request.
static int
s_conn_on_connect (s_bench_t *self, s_conn_t *conn)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt (conn->fd, SOL_SOCKET, SO_ERROR, &err, &len))
        err = errno;
    if (err == EINPROGRESS)
        return 0;
    if (err) {
        s_conn_error (conn, "connect to %s port %s: %s",
                      self->config.host, self->config.port, strerror (err));
        return -err;
    }
    uint8_t nonce [16];
    s_entropy (nonce, sizeof nonce);
    char key [25];
    key [s_base64 (nonce, sizeof nonce, key, s_b64_std, true)] = '\0';
    char end [64];
    int end_len = snprintf (end, sizeof end, "Sec-WebSocket-Key: %s\r\n\r\n", key);
    int rc = s_buf_append (&conn->out, self->request, self->request_len);
    if (rc == 0)
        rc = s_buf_append (&conn->out, end, (size_t) end_len);
    if (rc) {
        s_conn_error (conn, "out of memory");
        return rc;
    }
    conn->state = S_HANDSHAKE;
    return s_conn_flush (self, conn);
}

//  Consumes the HTTP response head once it is all in. Returns 1 when the
//  server switched protocols, 0 while more bytes are needed, or -EPROTO.
static int
s_conn_on_reply (s_conn_t *conn)
{
    const char *head = (const char *) conn->in.data + conn->in.off;
    size_t have = conn->in.len - conn->in.off;
    size_t end = 0;
    for (size_t i = 3; i < have && !end; i++)
        if (memcmp (head + i - 3, "\r\n\r\n", 4) == 0)
            end = i + 1;
    if (!end) {
        if (have <= S_HEAD_MAX)
            return 0;
        s_conn_error (conn, "HTTP response head longer than %d bytes", S_HEAD_MAX);
        return -EPROTO;
    }
    size_t line = 0;
    while (head [line] != '\r')
        line++;
    //  "HTTP/1.1 101 Switching Protocols": the status code is enough.
    if (line < 12 || memcmp (head, "HTTP/1.", 7) || memcmp (head + 8, " 101", 4)
    || (line > 12 && head [12] != ' ')) {
        s_conn_error (conn, "upgrade refused: %.*s", (int) (line < 200 ? line : 200), head);
        return -EPROTO;
    }
    conn->in.off += end;
    conn->state = S_OPEN;
    return 1;
}

static uint64_t
s_min_reached (const s_bench_t *self)
{
    uint64_t least = UINT64_MAX;
    for (uint32_t i = 0; i < self->config.receivers; i++)
        if (self->receivers [i].reached < least)
            least = self->receivers [i].reached;
    return least;
}

//  A whole message reached a receiver at time now: checks it belongs to
//  this run, then counts it. Order rules, per receiver: a seq seen before
//  is a duplicate; one below the highest seen is reordered (it came after
//  a later one); one never seen by the end is lost.
static void
s_receiver_on_message (s_bench_t *self, s_conn_t *conn, const uint8_t *data, size_t len, uint64_t now)
{
    uint32_t seq;
    uint64_t sent_at;
    size_t tag = len >= S_HEADER_SIZE + S_TAG_SIZE ? S_TAG_SIZE : 0;
    if (len != self->config.size || s_payload_parse (data, &seq, &sent_at)
    ||  memcmp (data + S_HEADER_SIZE, self->padding + S_HEADER_SIZE, tag)) {
        self->foreign++;
        return;
    }
    if (seq == S_WARMUP_SEQ) {
        if (!conn->warm) {
            conn->warm = true;
            self->warm++;
        }
        return;
    }
    if (seq >= self->sent) {
        self->foreign++;                //  not sent by us (yet)
        return;
    }
    uint8_t bit = (uint8_t) (1u << (seq & 7));
    if (conn->seen [seq >> 3] & bit) {
        conn->dup++;
        return;
    }
    conn->seen [seq >> 3] |= bit;
    if (++conn->distinct == self->config.messages)
        self->complete++;
    if (seq < conn->reached)
        conn->reordered++;
    else {
        conn->reached = (uint64_t) seq + 1;
        if (conn->reached == self->config.messages)
            self->reached_end++;
    }
    s_hist_add (self, now > sent_at ? now - sent_at : 0);
    self->last_delivery = now;
}

static void
s_conn_on_message (s_bench_t *self, s_conn_t *conn, const uint8_t *data, size_t len, uint64_t now)
{
    //  The sender ignores data: a server may echo back to it.
    if (!conn->is_sender)
        s_receiver_on_message (self, conn, data, len, now);
}

//  Largest message or frame accepted: none of ours is larger, and refusing
//  the rest keeps memory bounded.
static uint64_t
s_message_limit (const s_bench_t *self)
{
    return self->config.size > S_READ_CHUNK ? self->config.size : S_READ_CHUNK;
}

//  One whole frame from the server. Returns 0 or a negative errno (the
//  server closed, or broke the protocol).
static int
s_conn_on_frame (s_bench_t *self, s_conn_t *conn, int fin, int opcode,
                 const uint8_t *payload, size_t len, uint64_t now)
{
    switch (opcode) {
        case S_OP_TEXT:
        case S_OP_BINARY:
            if (conn->frag_opcode) {
                s_conn_error (conn, "new message inside a fragmented one");
                return -EPROTO;
            }
            if (fin) {
                s_conn_on_message (self, conn, payload, len, now);
                return 0;
            }
            conn->frag_opcode = opcode;
            conn->frag.off = conn->frag.len = 0;
            if (s_buf_append (&conn->frag, payload, len)) {
                s_conn_error (conn, "out of memory");
                return -ENOMEM;
            }
            return 0;

        case S_OP_CONT:
            if (!conn->frag_opcode) {
                s_conn_error (conn, "continuation frame without a message");
                return -EPROTO;
            }
            if (conn->frag.len + len > s_message_limit (self)) {
                s_conn_error (conn, "fragmented message longer than any this benchmark sends");
                return -EMSGSIZE;
            }
            if (s_buf_append (&conn->frag, payload, len)) {
                s_conn_error (conn, "out of memory");
                return -ENOMEM;
            }
            if (fin) {
                s_conn_on_message (self, conn, conn->frag.data, conn->frag.len, now);
                conn->frag_opcode = 0;
                conn->frag.len = 0;
            }
            return 0;

        case S_OP_PING: {
            if (!fin || len > 125) {
                s_conn_error (conn, "invalid ping frame");
                return -EPROTO;
            }
            int rc = s_conn_put_frame (self, conn, S_OP_PONG, payload, len);
            return rc ? rc : s_conn_flush (self, conn);
        }
        case S_OP_PONG:
            return 0;

        case S_OP_CLOSE: {
            unsigned code = len >= 2 ? (unsigned) payload [0] << 8 | payload [1] : 1005;
            int reason = len > 2 ? (int) (len - 2) : 0;
            s_conn_error (conn, "server closed the connection: %u %.*s",
                          code, reason, len > 2 ? (const char *) payload + 2 : "");
            return -ECONNRESET;
        }
        default:
            s_conn_error (conn, "unknown opcode 0x%x", opcode);
            return -EPROTO;
    }
}

//  Handles the complete frames at the front of conn->in. When the rest is
//  an incomplete frame, sets conn->need to the bytes it needs so that the
//  next read makes room for all of it. Returns 0 or a negative errno.
static int
s_conn_parse (s_bench_t *self, s_conn_t *conn, uint64_t now)
{
    s_buf_t *in = &conn->in;
    conn->need = 0;
    while (conn->state == S_OPEN && in->off < in->len) {
        const uint8_t *p = in->data + in->off;
        size_t have = in->len - in->off;
        if (have < 2) {
            conn->need = 2;
            break;
        }
        if (p [1] & 0x80) {
            s_conn_error (conn, "masked frame from the server");
            return -EPROTO;
        }
        if (p [0] & 0x70) {
            s_conn_error (conn, "frame with RSV bits but no extension agreed");
            return -EPROTO;
        }
        uint64_t len = p [1] & 0x7f;
        size_t head = len == 126 ? 4 : len == 127 ? 10 : 2;
        if (have < head) {
            conn->need = head;
            break;
        }
        if (len == 126)
            len = (uint64_t) p [2] << 8 | p [3];
        else
        if (len == 127) {
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | p [i];
        }
        if (len > s_message_limit (self)) {
            s_conn_error (conn, "frame of %" PRIu64 " bytes, more than any this benchmark sends", len);
            return -EMSGSIZE;
        }
        if (have < head + len) {
            conn->need = head + (size_t) len;
            break;
        }
        in->off += head + (size_t) len;
        int rc = s_conn_on_frame (self, conn, p [0] & 0x80, p [0] & 0x0f, p + head, (size_t) len, now);
        if (rc)
            return rc;
    }
    if (in->off == in->len)
        in->off = in->len = 0;
    return 0;
}

//  Input on an open or handshaking connection: one recv, then whatever it
//  completed. One recv per wake-up keeps many receivers served fairly.
static int
s_conn_on_input (s_bench_t *self, s_conn_t *conn)
{
    s_buf_t *in = &conn->in;
    size_t have = in->len - in->off;
    size_t want = S_READ_CHUNK;
    if (conn->need > have && conn->need - have > want)
        want = conn->need - have;
    if (s_buf_reserve (in, want)) {
        s_conn_error (conn, "out of memory");
        return -ENOMEM;
    }
    ssize_t n = recv (conn->fd, in->data + in->len, in->cap - in->len, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        int err = errno;
        s_conn_error (conn, "recv: %s", strerror (err));
        return -err;
    }
    if (n == 0) {
        s_conn_error (conn, "connection closed by the server");
        return -ECONNRESET;
    }
    in->len += (size_t) n;
    uint64_t now = s_now ();
    if (conn->state == S_HANDSHAKE) {
        int rc = s_conn_on_reply (conn);
        if (rc <= 0)
            return rc;
        if (!conn->is_sender)
            self->open++;
    }
    return s_conn_parse (self, conn, now);
}

//  Dispatches one epoll event to the connection's handlers.
static void
s_conn_on_event (s_bench_t *self, s_conn_t *conn, uint32_t events)
{
    int rc = 0;
    if (conn->state == S_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            rc = s_conn_on_connect (self, conn);
    }
    else {
        if (events & EPOLLOUT)
            rc = s_conn_flush (self, conn);
        if (rc == 0 && conn->state != S_CLOSED && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            rc = s_conn_on_input (self, conn);
    }
    if (rc)
        s_conn_fail (self, conn);
}

//  Queues one data message with the current time and sequence number seq.
static int
s_sender_put (s_bench_t *self, uint32_t seq)
{
    s_conn_t *conn = &self->sender;
    size_t size = (size_t) self->config.size;
    if (s_buf_reserve (&conn->out, 14 + size)) {
        s_conn_error (conn, "out of memory");
        return -ENOMEM;
    }
    uint32_t random = (uint32_t) s_random (&self->rng);
    uint8_t key [4];
    memcpy (key, &random, 4);
    uint8_t *dst = conn->out.data + conn->out.len;
    size_t head = s_frame_head (dst, self->config.binary ? S_OP_BINARY : S_OP_TEXT, size, key);
    uint8_t header [S_HEADER_SIZE];
    s_payload_header (header, seq, s_now ());
    s_mask_copy (dst + head, header, S_HEADER_SIZE, key);
    s_mask_copy (dst + head + S_HEADER_SIZE, self->padding + S_HEADER_SIZE,
                 size - S_HEADER_SIZE, key);
    conn->out.len += head + size;
    return 0;
}

//  Queues and sends messages while the window allows and the socket takes
//  them. Returns 0 or a negative errno.
static int
s_sender_pump (s_bench_t *self)
{
    s_conn_t *conn = &self->sender;
    const s_config_t *config = &self->config;
    while (self->sent < config->messages) {
        if (self->sent - self->floor >= config->window) {
            self->floor = s_min_reached (self);
            if (self->sent - self->floor >= config->window)
                break;
        }
        if (conn->out.len - conn->out.off >= S_SEND_BATCH) {
            int rc = s_conn_flush (self, conn);
            if (rc)
                return rc;
            if (conn->out.len - conn->out.off >= S_SEND_BATCH)
                return 0;               //  socket full: EPOLLOUT resumes us
        }
        int rc = s_sender_put (self, (uint32_t) self->sent);
        if (rc)
            return rc;
        self->sent++;
    }
    return s_conn_flush (self, conn);
}

static int
s_sender_warmup (s_bench_t *self, uint64_t now)
{
    self->warmup_next = now + S_WARMUP_EVERY;
    int rc = s_sender_put (self, S_WARMUP_SEQ);
    return rc ? rc : s_conn_flush (self, &self->sender);
}

//  Notes the time and CPU used so far, once: at the end of the traffic,
//  which is before the grace wait when there is one.
static void
s_bench_snapshot (s_bench_t *self, uint64_t now)
{
    if (self->stop)
        return;
    self->stop = now;
    getrusage (RUSAGE_SELF, &self->ru_stop);
}

static void
s_bench_finish (s_bench_t *self, uint64_t now)
{
    s_bench_snapshot (self, now);
    self->ended_in = self->phase;
    self->phase = S_PHASE_DONE;
}

//  Moves the run on after a batch of events: connects the sender once the
//  receivers are in, warms up, starts the clock, feeds the sender, and
//  decides when it is over.
static void
s_bench_advance (s_bench_t *self)
{
    uint64_t now = s_now ();
    int rc = 0;
    if (self->phase == S_PHASE_RECEIVERS && self->open == self->config.receivers) {
        rc = s_conn_connect (self, &self->sender);
        self->phase = S_PHASE_SENDER;
    }
    else
    if (self->phase == S_PHASE_SENDER && self->sender.state == S_OPEN) {
        rc = s_sender_warmup (self, now);
        self->phase = S_PHASE_WARMUP;
    }
    else
    if (self->phase == S_PHASE_WARMUP) {
        if (self->warm == self->config.receivers) {
            self->phase = S_PHASE_RUNNING;
            self->start = s_now ();
            getrusage (RUSAGE_SELF, &self->ru_start);
        }
        else
        if (now >= self->warmup_next)
            rc = s_sender_warmup (self, now);
    }
    if (self->phase == S_PHASE_RUNNING && rc == 0) {
        rc = s_sender_pump (self);
        if (self->complete == self->config.receivers)
            s_bench_finish (self, now);
        else
        if (self->reached_end == self->config.receivers) {
            if (!self->grace_end) {
                self->grace_end = now + S_GRACE;
                s_bench_snapshot (self, now);
            }
            else
            if (now >= self->grace_end)
                s_bench_finish (self, now);
        }
    }
    if (rc)
        s_conn_fail (self, &self->sender);
}

//  Milliseconds epoll may sleep before a timer of the run is due.
static int
s_bench_wait_ms (const s_bench_t *self, uint64_t now)
{
    uint64_t until = self->deadline;
    if (self->phase == S_PHASE_WARMUP && self->warmup_next < until)
        until = self->warmup_next;
    if (self->grace_end && self->grace_end < until)
        until = self->grace_end;
    if (until <= now)
        return 0;
    uint64_t ms = (until - now + S_MS - 1) / S_MS;
    return ms > INT_MAX ? INT_MAX : (int) ms;
}

//  The event loop. Returns when the run is done, failed, timed out or
//  was interrupted.
static void
s_bench_run (s_bench_t *self)
{
    int max_events = (int) self->config.receivers + 1;
    while (self->phase != S_PHASE_DONE) {
        uint64_t now = s_now ();
        if (s_stop || self->failed || now >= self->deadline) {
            self->interrupted = s_stop;
            self->timed_out = !s_stop && !self->failed;
            s_bench_finish (self, now);
            break;
        }
        int n = epoll_wait (self->epfd, self->events, max_events, s_bench_wait_ms (self, now));
        if (n < 0 && errno != EINTR) {
            fprintf (stderr, "nws-bench: epoll_wait: %s\n", strerror (errno));
            self->failed = true;
            continue;
        }
        for (int i = 0; i < n; i++)
            s_conn_on_event (self, self->events [i].data.ptr, self->events [i].events);
        if (!self->failed)
            s_bench_advance (self);
    }
}

static void
s_conn_init (s_conn_t *conn, const char *name)
{
    *conn = (s_conn_t) { .fd = -1, .state = S_IDLE };
    snprintf (conn->name, sizeof conn->name, "%s", name);
}

//  Polite end: a close frame (1000, normal) where the connection is open,
//  sent if the socket takes it now; then the fd is closed.
static void
s_conn_shutdown (s_bench_t *self, s_conn_t *conn)
{
    if (conn->state == S_OPEN) {
        const uint8_t normal [2] = { 1000 >> 8, 1000 & 0xff };
        if (s_conn_put_frame (self, conn, S_OP_CLOSE, normal, 2) == 0)
            send (conn->fd, conn->out.data + conn->out.off, conn->out.len - conn->out.off,
                  MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (conn->fd >= 0)
        close (conn->fd);
    conn->fd = -1;
    conn->state = S_CLOSED;
    s_buf_free (&conn->in);
    s_buf_free (&conn->out);
    s_buf_free (&conn->frag);
    free (conn->seen);
    conn->seen = NULL;
}

static void
s_bench_destroy (s_bench_t **self_p)
{
    s_bench_t *self = *self_p;
    if (!self)
        return;
    if (self->receivers)
        for (uint32_t i = 0; i < self->config.receivers; i++)
            s_conn_shutdown (self, &self->receivers [i]);
    s_conn_shutdown (self, &self->sender);
    if (self->epfd >= 0)
        close (self->epfd);
    if (self->addr)
        freeaddrinfo (self->addr);
    free (self->receivers);
    free (self->events);
    free (self->padding);
    free (self);
    *self_p = NULL;
}

//  Lets the process hold one fd per connection plus a few.
static int
s_raise_fd_limit (rlim_t need)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) || limit.rlim_cur >= need)
        return 0;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < need) {
        fprintf (stderr, "nws-bench: need %lu file descriptors, the hard limit is %lu\n",
                 (unsigned long) need, (unsigned long) limit.rlim_max);
        return -EMFILE;
    }
    limit.rlim_cur = need;
    if (setrlimit (RLIMIT_NOFILE, &limit)) {
        int err = errno;
        fprintf (stderr, "nws-bench: setrlimit: %s\n", strerror (err));
        return -err;
    }
    return 0;
}

//  Resolves the server, allocates every connection and starts the
//  receivers' connects. Returns the bench or NULL, having said why.
static s_bench_t *
s_bench_new (const s_config_t *config)
{
    s_bench_t *self = calloc (1, sizeof *self);
    if (!self)
        goto nomem;
    self->config = *config;
    self->epfd = -1;
    s_conn_init (&self->sender, "sender");
    self->sender.is_sender = true;
    self->receivers = calloc (config->receivers, sizeof *self->receivers);
    if (!self->receivers) {
        self->config.receivers = 0;     //  so that destroy skips them
        goto nomem;
    }
    self->events = calloc ((size_t) config->receivers + 1, sizeof *self->events);
    self->padding = malloc ((size_t) config->size);
    if (!self->events || !self->padding)
        goto nomem;
    memset (self->padding, 'x', (size_t) config->size);
    s_entropy (&self->rng, sizeof self->rng);
    self->rng |= 1;                     //  xorshift must not start at 0
    if (config->size >= S_HEADER_SIZE + S_TAG_SIZE) {
        uint8_t tag [6];
        s_entropy (tag, sizeof tag);
        s_base64 (tag, sizeof tag, (char *) self->padding + S_HEADER_SIZE, s_b64_url, false);
    }
    for (uint32_t i = 0; i < config->receivers; i++) {
        char name [24];
        snprintf (name, sizeof name, "receiver %" PRIu32, i);
        s_conn_init (&self->receivers [i], name);
    }
    for (uint32_t i = 0; i < config->receivers; i++) {
        self->receivers [i].seen = calloc ((size_t) (config->messages + 7) / 8, 1);
        if (!self->receivers [i].seen)
            goto nomem;
    }
    if (s_raise_fd_limit ((rlim_t) config->receivers + 16))
        goto fail;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    int rc = getaddrinfo (config->host, config->port, &hints, &self->addr);
    if (rc) {
        fprintf (stderr, "nws-bench: %s port %s: %s\n", config->host, config->port, gai_strerror (rc));
        self->addr = NULL;
        goto fail;
    }
    //  An IPv6 literal goes in brackets in the Host header.
    bool v6 = strchr (config->host, ':') != NULL;
    int len = snprintf (self->request, sizeof self->request,
                        "GET /local/%s HTTP/1.1\r\n"
                        "Host: %s%s%s:%s\r\n"
                        "Upgrade: websocket\r\n"
                        "Connection: Upgrade\r\n"
                        "Sec-WebSocket-Version: 13\r\n",
                        config->channel, v6 ? "[" : "", config->host, v6 ? "]" : "", config->port);
    if (len < 0 || (size_t) len >= sizeof self->request) {
        fprintf (stderr, "nws-bench: host name too long\n");
        goto fail;
    }
    self->request_len = (size_t) len;

    self->epfd = epoll_create1 (EPOLL_CLOEXEC);
    if (self->epfd < 0) {
        fprintf (stderr, "nws-bench: epoll_create1: %s\n", strerror (errno));
        goto fail;
    }
    self->deadline = s_now () + config->timeout * S_SEC;
    for (uint32_t i = 0; i < config->receivers; i++)
        if (s_conn_connect (self, &self->receivers [i]))
            goto fail;
    return self;

nomem:
    fprintf (stderr, "nws-bench: out of memory\n");
fail:
    s_bench_destroy (&self);
    return NULL;
}

static const char *
s_phase_waiting (s_phase_t phase)
{
    switch (phase) {
        case S_PHASE_RECEIVERS: return "receivers' handshakes";
        case S_PHASE_SENDER:    return "the sender's handshake";
        case S_PHASE_WARMUP:    return "the warm-up message to reach every receiver";
        default:                return "messages";
    }
}

static double
s_seconds (struct timeval tv)
{
    return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

//  Prints the report and the RESULT line; returns the exit code: 0 if
//  every message reached every receiver once and in order, else 1.
//  A message missing below the highest one a receiver got is lost; one
//  above it had not arrived when the run stopped early (undelivered).
static int
s_bench_report (const s_bench_t *self)
{
    const s_config_t *config = &self->config;
    bool started = self->start != 0;
    uint64_t delivered = 0, lost = 0, undelivered = 0, dup = 0, reordered = 0;
    uint32_t faulty = 0;
    for (uint32_t i = 0; i < config->receivers; i++) {
        const s_conn_t *receiver = &self->receivers [i];
        delivered += receiver->distinct;
        lost += receiver->reached - receiver->distinct;
        undelivered += self->sent - receiver->reached;
        dup += receiver->dup;
        reordered += receiver->reordered;
        if (receiver->distinct < self->sent || receiver->dup || receiver->reordered)
            faulty++;
    }
    //  Elapsed ends at the last delivery: the grace wait is not traffic.
    uint64_t end = self->last_delivery > self->start ? self->last_delivery : self->stop;
    double elapsed = started ? (double) (end - self->start) / 1e9 : 0;
    double run = started ? (double) (self->stop - self->start) / 1e9 : 0;
    double rate = elapsed > 0 ? (double) delivered / elapsed : 0;
    double mbps = elapsed > 0 ? (double) delivered * (double) config->size / elapsed / 1e6 : 0;
    //  Over loopback, sys includes TCP work done for the peer (a send runs
    //  the receiving side's stack): user is what the client itself costs.
    double user = started ? s_seconds (self->ru_stop.ru_utime) - s_seconds (self->ru_start.ru_utime) : 0;
    double sys = started ? s_seconds (self->ru_stop.ru_stime) - s_seconds (self->ru_start.ru_stime) : 0;
    double cpu_share = run > 0 ? (user + sys) / run : 0;
    double p50 = (double) s_hist_percentile (self, 0.50) / 1e3;
    double p90 = (double) s_hist_percentile (self, 0.90) / 1e3;
    double p99 = (double) s_hist_percentile (self, 0.99) / 1e3;
    double max = (double) self->lat_max / 1e3;

    const char *status = "ok";
    if (self->interrupted)
        status = "interrupted";
    else
    if (self->failed)
        status = "error";
    else
    if (self->timed_out)
        status = "timeout";
    else
    if (lost || undelivered || dup || reordered || self->foreign)
        status = "integrity";

    if (self->timed_out)
        fprintf (stderr, "nws-bench: timed out after %" PRIu64 " s waiting for %s\n",
                 config->timeout, s_phase_waiting (self->ended_in));
    //  Before the clock started there is nothing to measure: RESULT only.
    if (started) {
        printf ("nws-bench: ws://%s:%s/local/%s, %s frames\n",
                config->host, config->port, config->channel, config->binary ? "binary" : "text");
        printf ("  messages    %" PRIu64 " of %" PRIu64 " bytes (%" PRIu64 " sent), window %" PRIu64 "\n",
                config->messages, config->size, self->sent, config->window);
        printf ("  receivers   %" PRIu32 "\n", config->receivers);
        printf ("  elapsed     %.3f s\n", elapsed);
        printf ("  deliveries  %.0f /s (%" PRIu64 " delivered)\n", rate, delivered);
        printf ("  delivered   %.2f MB/s of payload\n", mbps);
        printf ("  latency     p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us\n",
                p50, p90, p99, max);
        printf ("  integrity   %" PRIu64 " lost, %" PRIu64 " duplicated, %" PRIu64 " reordered, "
                "%" PRIu64 " foreign", lost, dup, reordered, self->foreign);
        if (undelivered)
            printf (", %" PRIu64 " undelivered when stopped", undelivered);
        printf ("\n");
        uint32_t shown = 0;
        for (uint32_t i = 0; i < config->receivers && shown < 10; i++) {
            const s_conn_t *receiver = &self->receivers [i];
            if (receiver->distinct == self->sent && !receiver->dup && !receiver->reordered)
                continue;
            printf ("    %-12s%" PRIu64 " lost, %" PRIu64 " duplicated, %" PRIu64 " reordered, "
                    "%" PRIu64 " undelivered\n", receiver->name, receiver->reached - receiver->distinct,
                    receiver->dup, receiver->reordered, self->sent - receiver->reached);
            shown++;
        }
        if (faulty > shown)
            printf ("    (and %" PRIu32 " more receivers)\n", faulty - shown);
        printf ("  own CPU     %.1f%% of one core (user %.3f s, sys %.3f s)\n",
                cpu_share * 100, user, sys);
        printf ("  status      %s\n", status);
    }
    printf ("RESULT status=%s messages=%" PRIu64 " sent=%" PRIu64 " receivers=%" PRIu32
            " size=%" PRIu64 " window=%" PRIu64 " binary=%d elapsed_s=%.6f deliveries_per_s=%.0f"
            " mb_per_s=%.3f p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f lost=%" PRIu64
            " dup=%" PRIu64 " reordered=%" PRIu64 " undelivered=%" PRIu64 " foreign=%" PRIu64
            " cpu_pct=%.1f user_s=%.3f sys_s=%.3f\n",
            status, config->messages, self->sent, config->receivers, config->size,
            config->window, config->binary, elapsed, rate, mbps, p50, p90, p99, max,
            lost, dup, reordered, undelivered, self->foreign, cpu_share * 100, user, sys);
    fflush (stdout);
    return strcmp (status, "ok") == 0 ? 0 : 1;
}

static void
s_usage (FILE *file)
{
    fprintf (file,
        "Usage: nws-bench [OPTION]...\n"
        "Fan-out benchmark for nws: one sender, N receivers on ws://HOST:PORT/local/CHANNEL.\n"
        "\n"
        "  --host HOST        server (default 127.0.0.1)\n"
        "  --port PORT        server port (default 9009)\n"
        "  --channel NAME     channel, [A-Za-z0-9._-]{1,255} (default bench)\n"
        "  --receivers N      receiving clients (default 10)\n"
        "  --messages M       messages to send, after a warm-up (default 100000)\n"
        "  --size S           payload bytes, at least %d (default 64)\n"
        "  --window W         stop sending while the sender is W messages ahead of\n"
        "                     the slowest receiver's highest one (default 1000)\n"
        "  --binary           binary frames (default text)\n"
        "  --timeout SECS     give up after this long, all phases (default 60)\n"
        "  --help             this text\n"
        "\n"
        "Prints a report and one line \"RESULT key=value ...\". Exits 0 if every\n"
        "message reached every receiver once and in order, 1 if not (or on a\n"
        "timeout or a connection error), 2 on a usage error. Messages of another\n"
        "run count as foreign: give concurrent runs channels of their own.\n",
        S_HEADER_SIZE);
}

//  Parses a decimal within [low, high] into *value. Returns 0 or -EINVAL,
//  having said why.
static int
s_parse_number (const char *option, const char *text, uint64_t low, uint64_t high, uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long number = strtoull (text, &end, 10);
    if (errno || end == text || *end || text [0] == '-' || number < low || number > high) {
        fprintf (stderr, "nws-bench: --%s wants a number from %" PRIu64 " to %" PRIu64 ", not '%s'\n",
                 option, low, high, text);
        return -EINVAL;
    }
    *value = number;
    return 0;
}

enum { S_OPT_HELP = 256 };          /* getopt_long value past any char */

static bool
s_channel_valid (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name [i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        ||    c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

//  Fills *config from the command line. Returns 0, 1 after --help, or
//  -EINVAL after saying what is wrong.
static int
s_parse_args (int argc, char **argv, s_config_t *config)
{
    static const struct option options [] = {
        { "host", required_argument, NULL, 'h' },
        { "port", required_argument, NULL, 'p' },
        { "channel", required_argument, NULL, 'c' },
        { "receivers", required_argument, NULL, 'r' },
        { "messages", required_argument, NULL, 'm' },
        { "size", required_argument, NULL, 's' },
        { "window", required_argument, NULL, 'w' },
        { "binary", no_argument, NULL, 'b' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, S_OPT_HELP },
        { NULL, 0, NULL, 0 }
    };
    *config = (s_config_t) {
        .host = "127.0.0.1", .port = "9009", .channel = "bench", .receivers = 10,
        .messages = 100000, .size = 64, .window = 1000, .timeout = 60
    };
    uint64_t port, receivers;
    int option, rc = 0;
    while (rc == 0 && (option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (option) {
            case 'h': config->host = optarg; break;
            case 'p':
                rc = s_parse_number ("port", optarg, 1, 65535, &port);
                config->port = optarg;
                break;
            case 'c': config->channel = optarg; break;
            case 'r':
                rc = s_parse_number ("receivers", optarg, 1, S_RECEIVERS_MAX, &receivers);
                config->receivers = (uint32_t) receivers;
                break;
            case 'm': rc = s_parse_number ("messages", optarg, 1, S_MESSAGES_MAX, &config->messages); break;
            case 's': rc = s_parse_number ("size", optarg, S_HEADER_SIZE, S_SIZE_MAX, &config->size); break;
            case 'w': rc = s_parse_number ("window", optarg, 1, UINT64_MAX, &config->window); break;
            case 'b': config->binary = true; break;
            case 't': rc = s_parse_number ("timeout", optarg, 1, 86400 * 365, &config->timeout); break;
            case S_OPT_HELP: s_usage (stdout); return 1;
            default: rc = -EINVAL; break;   //  getopt said why
        }
    }
    if (rc == 0 && optind < argc) {
        fprintf (stderr, "nws-bench: unexpected argument '%s'\n", argv [optind]);
        rc = -EINVAL;
    }
    if (rc == 0 && !s_channel_valid (config->channel)) {
        fprintf (stderr, "nws-bench: invalid channel name '%s'\n", config->channel);
        rc = -EINVAL;
    }
    if (rc)
        fprintf (stderr, "Try 'nws-bench --help'.\n");
    return rc;
}

int
main (int argc, char **argv)
{
    s_config_t config;
    int rc = s_parse_args (argc, argv, &config);
    if (rc)
        return rc > 0 ? 0 : 2;

    struct sigaction action = { .sa_handler = s_on_signal };
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);

    s_bench_t *bench = s_bench_new (&config);
    if (!bench)
        return 1;
    s_bench_run (bench);
    int status = s_bench_report (bench);
    s_bench_destroy (&bench);
    return status;
}
