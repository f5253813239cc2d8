/*  nws-bench - load generator for nws, or for any WebSocket server with its
    channel semantics (every message to all other clients of the same
    /local/<name>). Not a test: a tool; tests/bench/compare.py drives it.

    Modes (--mode):

    fanout   C channels, each with one sender and R receivers, on
             ws://HOST:PORT/local/<channel> (C = 1) or <channel>-<i>.
             Once every handshake is done and a warm-up message has reached
             every receiver, the clock starts and every sender sends M
             messages of S bytes, never more than W ahead of the slowest
             receiver of its channel; with --rate, at a fixed rate paced by a
             timerfd instead (latency without queueing). Every receiver
             checks the order of what it gets and records each message's
             latency. Reports deliveries/s, MB/s, latency p50/p90/p99/max,
             lost/duplicated/reordered messages (any is an error), each
             channel's finish time and fairness = slowest / fastest.
    connect  opens one anchor connection per channel (so that every channel
             exists), then N measured connections, K in flight at a time,
             and keeps them open: connections/s and handshake latency (from
             connect() to the 101 response). With --churn there are no
             anchors and every connection opens a channel of its own,
             <channel>-<i>, that did not exist before: the cost of a new
             channel on top of a connection.
    idle     as connect (N = 5000 by default), then holds the connections
             idle for --hold-ms and reports each server process's RSS growth
             per connection.

    The server's cost: --server-pid PID[,PID...] names the processes that
    make up the server (for nws: the hub and every gateway). Their CPU time
    (utime + stime of /proc/PID/stat: every thread, no children) is read
    when the clock starts and stops, their VmRSS before and after the
    measured connections open, and their open-files limit at the start.

    The benchmark's own cost: one thread drives every connection through
    one epoll, with a minimal RFC 6455 client per connection, reads into one
    shared buffer and parses frames in place; its CPU share (getrusage) is
    reported. Over loopback its sys time includes TCP work done for the
    server (ACKs it receives), its user time is what the client itself
    costs. It needs nothing beyond libc.

    Across a proxy link: --broadcast uses /broadcast/<name> instead of
    /local/<name>, and --sender-port P sends from the gateway on port P
    (same host) while the receivers stay on --port: with two proxies linked
    (tests/bench/link.py), every message crosses the link.

    Limits: ws:// only (no TLS), no extensions (so no compression), the
    Sec-WebSocket-Accept header is not checked (the 101 status is), the
    first address the host resolves to is the only one tried, at most
    2^32 - 2 messages per channel, percentiles within 1/128 (0.8%), server
    CPU in clock ticks (usually 10 ms).
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
#include <sys/timerfd.h>
#include <sys/types.h>
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
#define S_CONNS_MAX     1000000             /* connections in one run, one fd each */
#define S_CHANNELS_MAX  10000               /* channels in one run */
#define S_PIDS_MAX      16                  /* --server-pid entries */
#define S_READ_CHUNK    (64u << 10)         /* least room offered to each recv */
#define S_SCRATCH_SIZE  (256u << 10)        /* the shared receive buffer */
#define S_SEND_BATCH    (64u << 10)         /* queue this much, then send */
#define S_HEAD_MAX      8192                /* longest HTTP response head */
#define S_EVENTS_MAX    1024                /* epoll_wait batch */
#define S_ERRORS_SHOWN  20                  /* connection errors printed, then counted */
#define S_US            1000ull             /* ns */
#define S_MS            1000000ull          /* ns */
#define S_SEC           1000000000ull       /* ns */
#define S_TICK_MIN      (20 * S_US)         /* shortest pacing interval */
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
    S_MODE_FANOUT,                  /* senders and receivers, messages */
    S_MODE_CONNECT,                 /* connection setup rate */
    S_MODE_IDLE                     /* memory per idle connection */
} s_mode_t;

typedef enum {
    S_ROLE_RECEIVER,                /* fanout: receives and checks */
    S_ROLE_SENDER,                  /* fanout: sends */
    S_ROLE_ANCHOR,                  /* connect, idle: holds its channel open, not measured */
    S_ROLE_IDLE                     /* connect, idle: a measured connection */
} s_role_t;

typedef enum {
    S_IDLE,                         /* not connected yet */
    S_CONNECTING,                   /* TCP connect in progress */
    S_HANDSHAKE,                    /* upgrade request sent, 101 awaited */
    S_OPEN,                         /* WebSocket frames flow */
    S_CLOSED                        /* failed or shut down, out of epoll */
} s_state_t;

typedef enum {
    S_PHASE_RECEIVERS,              /* fanout: receivers connecting */
    S_PHASE_SENDERS,                /* fanout: senders connecting */
    S_PHASE_WARMUP,                 /* fanout: warm-up sent, waiting for every receiver */
    S_PHASE_RUNNING,                /* fanout: clock started, messages flow */
    S_PHASE_ANCHORS,                /* connect, idle: anchors connecting */
    S_PHASE_CONNECTING,             /* connect, idle: clock started, connections opening */
    S_PHASE_HOLD,                   /* idle: every connection open, holding them */
    S_PHASE_DONE                    /* finished, or given up */
} s_phase_t;

typedef struct {
    s_mode_t mode;                  /* what to measure */
    const char *host;               /* server name or address */
    const char *port;               /* TCP port, as getaddrinfo wants it */
    const char *sender_port;        /* fanout: senders' port, NULL = port */
    const char *scope;              /* "local" or "broadcast": the URL's first segment */
    const char *channel;            /* channel name, or prefix when several */
    uint32_t channels;              /* C */
    uint32_t receivers;             /* fanout: R per channel */
    uint64_t messages;              /* fanout: M per channel */
    uint64_t size;                  /* fanout: payload bytes, >= S_HEADER_SIZE */
    uint64_t window;                /* fanout: most messages ahead of a channel's slowest receiver */
    uint64_t rate;                  /* fanout: messages/s per sender, 0 = as the window allows */
    bool binary;                    /* fanout: binary frames instead of text */
    uint32_t connections;           /* connect, idle: N */
    uint32_t concurrency;           /* connections being set up at once, K */
    bool churn;                     /* connect, idle: a new channel per connection, no anchors */
    uint64_t hold_ms;               /* idle: how long to hold them before reading RSS */
    uint64_t timeout;               /* seconds for the whole run */
    pid_t pids [S_PIDS_MAX];        /* the server's processes */
    int pid_count;                  /* entries in pids */
} s_config_t;

typedef struct {
    uint8_t *data;                  /* NULL until first used */
    size_t off;                     /* first byte not consumed */
    size_t len;                     /* end of the bytes held */
    size_t cap;                     /* bytes allocated */
} s_buf_t;

typedef struct {
    uint64_t counts [S_HIST_BUCKETS];   /* see s_hist_index */
    uint64_t total;                 /* values recorded */
    uint64_t max;                   /* largest value, exact */
} s_hist_t;

typedef struct s_channel_t s_channel_t;

typedef struct {
    s_channel_t *channel;           /* the channel it joins */
    s_role_t role;                  /* what it does */
    uint32_t index;                 /* receiver or connection number, for messages */
    int fd;                         /* -1 when none */
    s_state_t state;                /* where in its life */
    bool want_out;                  /* EPOLLOUT is registered */
    uint64_t began;                 /* time its connect started */
    s_buf_t in;                     /* an incomplete frame (or head) from the last read */
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

struct s_channel_t {
    char name [256];                /* path is /<scope>/<name> */
    s_conn_t sender;                /* fanout: its sender; connect, idle: its anchor */
    s_conn_t *receivers;            /* fanout: config.receivers of them */
    uint32_t warm;                  /* receivers that saw a warm-up */
    uint32_t complete;              /* receivers that got every message */
    uint64_t sent;                  /* measured messages queued by the sender */
    uint64_t floor;                 /* min reached over receivers, as last computed */
    uint64_t last_sent;             /* time the last message was queued, 0 until then */
    uint64_t last_delivery;         /* time of its last measured delivery */
    uint64_t finish;                /* time its last receiver completed, 0 until then */
};

typedef struct {
    pid_t pid;                      /* the process */
    char comm [32];                 /* its name, from /proc/PID/comm */
    uint64_t cpu_start;             /* utime + stime in ticks when the clock started */
    uint64_t cpu_stop;              /* the same when it stopped */
    uint64_t rss_before;            /* VmRSS KiB before the measured connections */
    uint64_t rss_after;             /* VmRSS KiB after them (idle mode) */
    uint64_t fd_limit;              /* soft open-files limit, UINT64_MAX = unlimited, 0 = unknown */
    bool gone;                      /* could not be read at some point */
} s_server_t;

typedef struct {
    s_config_t config;              /* from the command line */
    struct addrinfo *addr;          /* server address, first one used */
    char host_header [300];         /* HOST:PORT, brackets around an IPv6 literal */
    struct addrinfo *sender_addr;   /* --sender-port: the senders' address, else NULL */
    char sender_host_header [300];  /* HOST:SENDER_PORT, when sender_addr is set */
    int epfd;                       /* the one epoll */
    int timerfd;                    /* fanout --rate pacing, -1 when none */
    struct epoll_event *events;     /* epoll_wait output */
    int max_events;                 /* its length */
    uint8_t *scratch;               /* S_SCRATCH_SIZE bytes every read goes through */
    s_channel_t *channels;          /* config.channels of them */
    s_conn_t *conns;                /* connect, idle: config.connections of them */
    s_conn_t **queue;               /* connections to open, in order */
    uint32_t queue_len;             /* entries in queue */
    uint32_t queue_next;            /* next one to open */
    uint32_t queue_cap;             /* room in queue */
    uint32_t in_flight;             /* connecting or handshaking now */
    uint32_t opened;                /* connections past the handshake, every role */
    uint32_t refused;               /* idle connections that failed to open */
    uint32_t dropped;               /* idle connections closed after opening */
    s_server_t servers [S_PIDS_MAX];    /* config.pid_count of them */
    s_phase_t phase;                /* where the run is */
    s_phase_t ended_in;             /* phase when it ended, for the report */
    uint32_t warm;                  /* receivers that saw a warm-up, every channel */
    uint32_t complete_channels;     /* channels whose receivers all got every message */
    uint32_t reached_end;           /* receivers that got their channel's last message */
    uint8_t *padding;               /* config.size bytes of payload template */
    uint64_t rng;                   /* xorshift64* state, for masking keys */
    uint64_t deadline;              /* give up at this time */
    uint64_t warmup_next;           /* time to repeat the warm-up */
    uint64_t grace_end;             /* stop waiting for stragglers, 0 if unset */
    uint64_t hold_end;              /* idle: stop holding, 0 if unset */
    uint64_t start;                 /* clock start */
    uint64_t stop;                  /* end of the measured part, 0 until then */
    uint64_t foreign;               /* messages that are not this run's */
    uint64_t errors;                /* connection errors, printed or not */
    struct rusage ru_start;         /* own CPU at clock start */
    struct rusage ru_stop;          /* own CPU at the end */
    uint64_t busy_start;            /* machine's busy ticks (/proc/stat) at clock start */
    uint64_t busy_stop;             /* the same at the end */
    uint64_t steal_start;           /* machine's steal ticks at clock start */
    uint64_t steal_stop;            /* the same at the end */
    bool failed;                    /* a connection the run needs failed */
    bool timed_out;                 /* deadline passed */
    bool interrupted;               /* SIGINT or SIGTERM */
    s_hist_t latency;               /* fanout: message latencies, ns */
    s_hist_t handshake;             /* measured handshakes, ns */
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

//  Untimed anchor connections a connect or idle run opens first: one per
//  channel, none with --churn (every connection makes its own channel).
static uint32_t
s_config_anchors (const s_config_t *config)
{
    return config->mode == S_MODE_FANOUT || config->churn ? 0 : config->channels;
}

static const char *
s_mode_name (s_mode_t mode)
{
    return mode == S_MODE_CONNECT ? "connect" : mode == S_MODE_IDLE ? "idle" : "fanout";
}

//  Writes a name for conn, for messages: "receiver 7 of bench-3".
static void
s_conn_name (const s_conn_t *conn, char *buf, size_t size)
{
    const char *channel = conn->channel ? conn->channel->name : "?";
    switch (conn->role) {
        case S_ROLE_SENDER:   snprintf (buf, size, "sender of %s", channel); break;
        case S_ROLE_RECEIVER: snprintf (buf, size, "receiver %" PRIu32 " of %s", conn->index, channel); break;
        case S_ROLE_ANCHOR:   snprintf (buf, size, "anchor of %s", channel); break;
        case S_ROLE_IDLE:     snprintf (buf, size, "connection %" PRIu32, conn->index); break;
    }
}

//  Prints "nws-bench: <conn>: <message>" on stderr, for the first
//  S_ERRORS_SHOWN errors of the run; counts the rest.
static void
s_conn_error (s_bench_t *self, const s_conn_t *conn, const char *format, ...)
{
    if (++self->errors > S_ERRORS_SHOWN)
        return;
    char name [300];
    s_conn_name (conn, name, sizeof name);
    va_list args;
    va_start (args, format);
    fprintf (stderr, "nws-bench: %s: ", name);
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
    size_t cap = self->cap ? self->cap : 256;
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
s_hist_add (s_hist_t *self, uint64_t value)
{
    self->counts [s_hist_index (value)]++;
    self->total++;
    if (value > self->max)
        self->max = value;
}

//  Value at fraction p (0..1) of the recorded ones, in microseconds
//  (from ns); 0 if none.
static double
s_hist_us (const s_hist_t *self, double p)
{
    if (self->total == 0)
        return 0;
    uint64_t rank = (uint64_t) (p * (double) self->total + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0, value = self->max;
    for (size_t i = 0; i < S_HIST_BUCKETS; i++) {
        seen += self->counts [i];
        if (seen >= rank) {
            uint64_t upper = s_hist_upper (i);
            value = upper < self->max ? upper : self->max;
            break;
        }
    }
    return (double) value / 1e3;
}

//  Reads up to size - 1 bytes of a /proc file into buf, NUL-terminated.
//  Returns the length or a negative errno.
static ssize_t
s_proc_read (pid_t pid, const char *file, char *buf, size_t size)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/%s", (int) pid, file);
    FILE *stream = fopen (path, "r");
    if (!stream)
        return -errno;
    size_t len = fread (buf, 1, size - 1, stream);
    fclose (stream);
    buf [len] = '\0';
    return (ssize_t) len;
}

//  CPU time of every thread of pid, user + system, in clock ticks
//  (fields 14 and 15 of /proc/PID/stat). Returns 0 or a negative errno.
static int
s_proc_cpu (pid_t pid, uint64_t *ticks)
{
    char buf [1024];
    if (s_proc_read (pid, "stat", buf, sizeof buf) < 0)
        return -ESRCH;
    //  The name (field 2) may hold spaces and parentheses: skip to its end.
    const char *rest = strrchr (buf, ')');
    unsigned long long utime, stime;
    if (!rest || sscanf (rest + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                         &utime, &stime) != 2)
        return -EPROTO;
    *ticks = utime + stime;
    return 0;
}

//  The value of a "Name:   1234 kB" line of /proc/PID/status, in KiB.
//  Returns 0 or a negative errno.
static int
s_proc_status_kib (pid_t pid, const char *name, uint64_t *kib)
{
    char buf [4096];
    if (s_proc_read (pid, "status", buf, sizeof buf) < 0)
        return -ESRCH;
    size_t len = strlen (name);
    for (const char *line = buf; line && *line; line = strchr (line, '\n'), line = line ? line + 1 : NULL)
        if (strncmp (line, name, len) == 0 && line [len] == ':') {
            *kib = strtoull (line + len + 1, NULL, 10);
            return 0;
        }
    return -ENOENT;
}

//  Soft "Max open files" of pid: a number, UINT64_MAX if unlimited, 0 if
//  it cannot be read.
static uint64_t
s_proc_fd_limit (pid_t pid)
{
    char buf [4096];
    if (s_proc_read (pid, "limits", buf, sizeof buf) < 0)
        return 0;
    const char *line = strstr (buf, "Max open files");
    if (!line)
        return 0;
    line += strlen ("Max open files");
    while (*line == ' ')
        line++;
    if (strncmp (line, "unlimited", 9) == 0)
        return UINT64_MAX;
    return strtoull (line, NULL, 10);
}

//  Reads each server process's CPU time into cpu_start (at_start) or
//  cpu_stop; a process that cannot be read is marked gone.
static void
s_servers_cpu (s_bench_t *self, bool at_start)
{
    for (int i = 0; i < self->config.pid_count; i++) {
        s_server_t *server = &self->servers [i];
        uint64_t ticks = 0;
        if (s_proc_cpu (server->pid, &ticks))
            server->gone = true;
        *(at_start ? &server->cpu_start : &server->cpu_stop) = ticks;
    }
}

//  Reads each server process's VmRSS into rss_before or rss_after.
static void
s_servers_rss (s_bench_t *self, bool before)
{
    for (int i = 0; i < self->config.pid_count; i++) {
        s_server_t *server = &self->servers [i];
        uint64_t kib = 0;
        if (s_proc_status_kib (server->pid, "VmRSS", &kib))
            server->gone = true;
        *(before ? &server->rss_before : &server->rss_after) = kib;
    }
}

//  Checks that every --server-pid can be read and notes its name and fd
//  limit. Returns 0 or -ESRCH, having said which.
static int
s_servers_init (s_bench_t *self)
{
    for (int i = 0; i < self->config.pid_count; i++) {
        s_server_t *server = &self->servers [i];
        server->pid = self->config.pids [i];
        uint64_t ticks;
        if (s_proc_cpu (server->pid, &ticks)) {
            fprintf (stderr, "nws-bench: --server-pid %d: no such process (or /proc unreadable)\n",
                     (int) server->pid);
            return -ESRCH;
        }
        if (s_proc_read (server->pid, "comm", server->comm, sizeof server->comm) > 0)
            server->comm [strcspn (server->comm, "\n")] = '\0';
        server->fd_limit = s_proc_fd_limit (server->pid);
    }
    return 0;
}

//  Server CPU time between the clock's start and stop, summed, in ns.
static uint64_t
s_servers_cpu_ns (const s_bench_t *self)
{
    uint64_t ticks = 0;
    for (int i = 0; i < self->config.pid_count; i++)
        if (self->servers [i].cpu_stop >= self->servers [i].cpu_start)
            ticks += self->servers [i].cpu_stop - self->servers [i].cpu_start;
    long hz = sysconf (_SC_CLK_TCK);
    return ticks * (S_SEC / (uint64_t) (hz > 0 ? hz : 100));
}

//  The machine's busy and steal time so far, in ticks, from the first
//  line of /proc/stat; zeros if it cannot be read.
static void
s_machine_cpu (uint64_t *busy, uint64_t *steal)
{
    *busy = *steal = 0;
    FILE *stream = fopen ("/proc/stat", "r");
    if (!stream)
        return;
    unsigned long long user, nice, system, idle, iowait, irq, softirq, stolen;
    if (fscanf (stream, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                &user, &nice, &system, &idle, &iowait, &irq, &softirq, &stolen) == 8) {
        *busy = user + nice + system + irq + softirq;
        *steal = stolen;
    }
    fclose (stream);
}

//  What the rest of the machine used while the clock ran, in % of one
//  core: busy time minus the servers' and ours (0 if negative), and
//  steal time (the hypervisor running someone else).
static void
s_bench_others (const s_bench_t *self, double run, double own_s, double *other_pct, double *steal_pct)
{
    long hz = sysconf (_SC_CLK_TCK);
    double tick = 1.0 / (double) (hz > 0 ? hz : 100);
    double busy = (double) (self->busy_stop - self->busy_start) * tick;
    double other = busy - own_s - (double) s_servers_cpu_ns (self) / 1e9;
    *other_pct = run > 0 && other > 0 ? other / run * 100 : 0;
    *steal_pct = run > 0 ? (double) (self->steal_stop - self->steal_start) * tick / run * 100 : 0;
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
        s_conn_error (self, conn, "epoll_ctl: %s", strerror (err));
        return -err;
    }
    conn->want_out = want_out;
    return 0;
}

//  Deferred close: the connection leaves epoll; its fd and buffers go at
//  the end, in s_bench_destroy. A measured connection that fails is
//  counted (refused while being set up, dropped after); any other fails
//  the run.
static void
s_conn_fail (s_bench_t *self, s_conn_t *conn)
{
    if (conn->state == S_CLOSED || conn->state == S_IDLE)
        return;
    bool setting_up = conn->state == S_CONNECTING || conn->state == S_HANDSHAKE;
    if (conn->fd >= 0)
        epoll_ctl (self->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
    conn->state = S_CLOSED;
    if (setting_up)
        self->in_flight--;
    if (conn->role != S_ROLE_IDLE)
        self->failed = true;
    else
    if (setting_up)
        self->refused++;
    else
        self->dropped++;
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
            s_conn_error (self, conn, "send: %s", strerror (err));
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
        s_conn_error (self, conn, "out of memory for a %zu-byte frame", len);
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
//  The connection counts as in flight from here.
static int
s_conn_connect (s_bench_t *self, s_conn_t *conn)
{
    bool sender_side = conn->role == S_ROLE_SENDER && self->sender_addr;
    const struct addrinfo *addr = sender_side ? self->sender_addr : self->addr;
    conn->state = S_CONNECTING;
    conn->began = s_now ();
    self->in_flight++;
    conn->fd = socket (addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (conn->fd < 0) {
        int err = errno;
        s_conn_error (self, conn, "socket: %s", strerror (err));
        return -err;
    }
    //  Latency matters more than segment count here.
    int one = 1;
    setsockopt (conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect (conn->fd, addr->ai_addr, addr->ai_addrlen) && errno != EINPROGRESS) {
        int err = errno;
        s_conn_error (self, conn, "connect: %s", strerror (err));
        return -err;
    }
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
    bool sender_side = conn->role == S_ROLE_SENDER && self->sender_addr;
    if (err) {
        s_conn_error (self, conn, "connect to %s port %s: %s", self->config.host,
                      sender_side ? self->config.sender_port : self->config.port, strerror (err));
        return -err;
    }
    uint8_t nonce [16];
    s_entropy (nonce, sizeof nonce);
    char key [25];
    key [s_base64 (nonce, sizeof nonce, key, s_b64_std, true)] = '\0';
    char request [1024];
    int request_len = snprintf (request, sizeof request,
                                "GET /%s/%s HTTP/1.1\r\n"
                                "Host: %s\r\n"
                                "Upgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Key: %s\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n",
                                self->config.scope, conn->channel->name,
                                sender_side ? self->sender_host_header : self->host_header, key);
    if (s_buf_append (&conn->out, request, (size_t) request_len)) {
        s_conn_error (self, conn, "out of memory");
        return -ENOMEM;
    }
    conn->state = S_HANDSHAKE;
    return s_conn_flush (self, conn);
}

//  Reads the HTTP response head at data once it is all in. Returns its
//  length when the server switched protocols, 0 while more bytes are
//  needed, or -EPROTO.
static ssize_t
s_conn_on_reply (s_bench_t *self, s_conn_t *conn, const uint8_t *data, size_t have, uint64_t now)
{
    const char *head = (const char *) data;
    size_t end = 0;
    for (size_t i = 3; i < have && !end; i++)
        if (head [i] == '\n' && memcmp (head + i - 3, "\r\n\r\n", 4) == 0)
            end = i + 1;
    if (!end) {
        if (have <= S_HEAD_MAX)
            return 0;
        s_conn_error (self, conn, "HTTP response head longer than %d bytes", S_HEAD_MAX);
        return -EPROTO;
    }
    size_t line = 0;
    while (head [line] != '\r')
        line++;
    //  "HTTP/1.1 101 Switching Protocols": the status code is enough.
    if (line < 12 || memcmp (head, "HTTP/1.", 7) || memcmp (head + 8, " 101", 4)
    || (line > 12 && head [12] != ' ')) {
        s_conn_error (self, conn, "upgrade refused: %.*s", (int) (line < 200 ? line : 200), head);
        return -EPROTO;
    }
    conn->state = S_OPEN;
    self->in_flight--;
    self->opened++;
    if (conn->role == S_ROLE_IDLE)
        s_hist_add (&self->handshake, now - conn->began);
    return (ssize_t) end;
}

static uint64_t
s_channel_min_reached (const s_bench_t *self, const s_channel_t *channel)
{
    uint64_t least = UINT64_MAX;
    for (uint32_t i = 0; i < self->config.receivers; i++)
        if (channel->receivers [i].reached < least)
            least = channel->receivers [i].reached;
    return least;
}

//  A whole message reached a receiver at time now: checks it belongs to
//  this run, then counts it. Order rules, per receiver: a seq seen before
//  is a duplicate; one below the highest seen is reordered (it came after
//  a later one); one never seen by the end is lost.
static void
s_receiver_on_message (s_bench_t *self, s_conn_t *conn, const uint8_t *data, size_t len, uint64_t now)
{
    s_channel_t *channel = conn->channel;
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
            channel->warm++;
            self->warm++;
        }
        return;
    }
    if (seq >= channel->sent) {
        self->foreign++;                //  not sent by us (yet)
        return;
    }
    uint8_t bit = (uint8_t) (1u << (seq & 7));
    if (conn->seen [seq >> 3] & bit) {
        conn->dup++;
        return;
    }
    conn->seen [seq >> 3] |= bit;
    if (seq < conn->reached)
        conn->reordered++;
    else {
        conn->reached = (uint64_t) seq + 1;
        if (conn->reached == self->config.messages)
            self->reached_end++;
    }
    s_hist_add (&self->latency, now > sent_at ? now - sent_at : 0);
    channel->last_delivery = now;
    if (++conn->distinct == self->config.messages
    &&  ++channel->complete == self->config.receivers) {
        channel->finish = now;
        self->complete_channels++;
    }
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
                s_conn_error (self, conn, "new message inside a fragmented one");
                return -EPROTO;
            }
            if (fin) {
                //  Only receivers look at data: a server may echo to the sender.
                if (conn->role == S_ROLE_RECEIVER)
                    s_receiver_on_message (self, conn, payload, len, now);
                return 0;
            }
            conn->frag_opcode = opcode;
            conn->frag.off = conn->frag.len = 0;
            if (s_buf_append (&conn->frag, payload, len)) {
                s_conn_error (self, conn, "out of memory");
                return -ENOMEM;
            }
            return 0;

        case S_OP_CONT:
            if (!conn->frag_opcode) {
                s_conn_error (self, conn, "continuation frame without a message");
                return -EPROTO;
            }
            if (conn->frag.len + len > s_message_limit (self)) {
                s_conn_error (self, conn, "fragmented message longer than any this benchmark sends");
                return -EMSGSIZE;
            }
            if (s_buf_append (&conn->frag, payload, len)) {
                s_conn_error (self, conn, "out of memory");
                return -ENOMEM;
            }
            if (fin) {
                if (conn->role == S_ROLE_RECEIVER)
                    s_receiver_on_message (self, conn, conn->frag.data, conn->frag.len, now);
                conn->frag_opcode = 0;
                conn->frag.len = 0;
            }
            return 0;

        case S_OP_PING: {
            if (!fin || len > 125) {
                s_conn_error (self, conn, "invalid ping frame");
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
            s_conn_error (self, conn, "server closed the connection: %u %.*s",
                          code, reason, len > 2 ? (const char *) payload + 2 : "");
            return -ECONNRESET;
        }
        default:
            s_conn_error (self, conn, "unknown opcode 0x%x", opcode);
            return -EPROTO;
    }
}

//  Handles the response head (while handshaking) and the complete frames
//  at the front of data. When the rest is an incomplete frame, sets
//  conn->need to the bytes it needs so that the next read makes room for
//  all of it. Returns the bytes consumed or a negative errno.
static ssize_t
s_conn_parse (s_bench_t *self, s_conn_t *conn, const uint8_t *data, size_t len, uint64_t now)
{
    size_t off = 0;
    conn->need = 0;
    if (conn->state == S_HANDSHAKE) {
        ssize_t head = s_conn_on_reply (self, conn, data, len, now);
        if (head <= 0)
            return head;
        off = (size_t) head;
    }
    while (conn->state == S_OPEN && off < len) {
        const uint8_t *p = data + off;
        size_t have = len - off;
        if (have < 2) {
            conn->need = 2;
            break;
        }
        if (p [1] & 0x80) {
            s_conn_error (self, conn, "masked frame from the server");
            return -EPROTO;
        }
        if (p [0] & 0x70) {
            s_conn_error (self, conn, "frame with RSV bits but no extension agreed");
            return -EPROTO;
        }
        uint64_t size = p [1] & 0x7f;
        size_t head = size == 126 ? 4 : size == 127 ? 10 : 2;
        if (have < head) {
            conn->need = head;
            break;
        }
        if (size == 126)
            size = (uint64_t) p [2] << 8 | p [3];
        else
        if (size == 127) {
            size = 0;
            for (int i = 2; i < 10; i++)
                size = size << 8 | p [i];
        }
        if (size > s_message_limit (self)) {
            s_conn_error (self, conn, "frame of %" PRIu64 " bytes, more than any this benchmark sends", size);
            return -EMSGSIZE;
        }
        if (have < head + size) {
            conn->need = head + (size_t) size;
            break;
        }
        off += head + (size_t) size;
        int rc = s_conn_on_frame (self, conn, p [0] & 0x80, p [0] & 0x0f, p + head, (size_t) size, now);
        if (rc)
            return rc;
    }
    return (ssize_t) off;
}

//  Input on an open or handshaking connection: one recv, then whatever it
//  completed (one recv per wake-up keeps many receivers served fairly).
//  The bytes go to the shared scratch buffer, after a copy of the
//  incomplete frame left by the last read; what is incomplete again is
//  kept in conn->in. A frame too large for the scratch buffer grows
//  conn->in instead.
static int
s_conn_on_input (s_bench_t *self, s_conn_t *conn)
{
    s_buf_t *in = &conn->in;
    size_t have = in->len - in->off;
    size_t want = S_READ_CHUNK;
    if (conn->need > have && conn->need - have > want)
        want = conn->need - have;
    bool scratch = have + want <= S_SCRATCH_SIZE;
    uint8_t *base;
    size_t room;
    if (scratch) {
        if (have)
            memcpy (self->scratch, in->data + in->off, have);
        base = self->scratch;
        room = S_SCRATCH_SIZE - have;
    }
    else {
        if (s_buf_reserve (in, want)) {
            s_conn_error (self, conn, "out of memory");
            return -ENOMEM;
        }
        base = in->data + in->off;
        room = in->cap - in->len;
    }
    ssize_t n = recv (conn->fd, base + have, room, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        int err = errno;
        s_conn_error (self, conn, "recv: %s", strerror (err));
        return -err;
    }
    if (n == 0) {
        s_conn_error (self, conn, "connection closed by the server");
        return -ECONNRESET;
    }
    size_t len = have + (size_t) n;
    ssize_t used = s_conn_parse (self, conn, base, len, s_now ());
    if (used < 0)
        return (int) used;
    if (scratch) {
        in->off = in->len = 0;
        if ((size_t) used < len && s_buf_append (in, base + used, len - (size_t) used)) {
            s_conn_error (self, conn, "out of memory");
            return -ENOMEM;
        }
    }
    else {
        in->len += (size_t) n;
        in->off += (size_t) used;
        if (in->off == in->len)
            in->off = in->len = 0;
    }
    return 0;
}

//  Dispatches one epoll event to the connection's handlers.
static void
s_conn_on_event (s_bench_t *self, s_conn_t *conn, uint32_t events)
{
    int rc = 0;
    if (conn->state == S_CLOSED)
        return;
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

//  Adds conn to the connections to open, in order.
static void
s_bench_queue (s_bench_t *self, s_conn_t *conn)
{
    if (self->queue_len < self->queue_cap)
        self->queue [self->queue_len++] = conn;
}

//  Starts queued connections while fewer than config.concurrency are
//  being set up.
static void
s_bench_feed (s_bench_t *self)
{
    while (self->queue_next < self->queue_len && self->in_flight < self->config.concurrency) {
        s_conn_t *conn = self->queue [self->queue_next++];
        if (s_conn_connect (self, conn))
            s_conn_fail (self, conn);
    }
}

//  Queues one data message with the current time and sequence number seq.
static int
s_sender_put (s_bench_t *self, s_conn_t *conn, uint32_t seq)
{
    size_t size = (size_t) self->config.size;
    if (s_buf_reserve (&conn->out, 14 + size)) {
        s_conn_error (self, conn, "out of memory");
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

//  Messages a sender may have queued by time now: all of them, or with
//  --rate, those due (message i is due at start + i / rate).
static uint64_t
s_bench_due (const s_bench_t *self, uint64_t now)
{
    const s_config_t *config = &self->config;
    if (!config->rate)
        return config->messages;
    unsigned __int128 due = (unsigned __int128) (now - self->start) * config->rate / S_SEC + 1;
    return due < config->messages ? (uint64_t) due : config->messages;
}

//  Queues and sends a channel's messages while the window and the pace
//  allow and the socket takes them. Returns 0 or a negative errno.
static int
s_channel_pump (s_bench_t *self, s_channel_t *channel, uint64_t now)
{
    s_conn_t *conn = &channel->sender;
    const s_config_t *config = &self->config;
    uint64_t due = s_bench_due (self, now);
    while (channel->sent < due) {
        if (channel->sent - channel->floor >= config->window) {
            channel->floor = s_channel_min_reached (self, channel);
            if (channel->sent - channel->floor >= config->window)
                break;
        }
        if (conn->out.len - conn->out.off >= S_SEND_BATCH) {
            int rc = s_conn_flush (self, conn);
            if (rc)
                return rc;
            if (conn->out.len - conn->out.off >= S_SEND_BATCH)
                return 0;               //  socket full: EPOLLOUT resumes us
        }
        int rc = s_sender_put (self, conn, (uint32_t) channel->sent);
        if (rc)
            return rc;
        if (++channel->sent == config->messages)
            channel->last_sent = s_now ();
    }
    return s_conn_flush (self, conn);
}

static int
s_channel_warmup (s_bench_t *self, s_channel_t *channel)
{
    int rc = s_sender_put (self, &channel->sender, S_WARMUP_SEQ);
    return rc ? rc : s_conn_flush (self, &channel->sender);
}

//  Starts the clock: notes the time, our CPU and the servers' CPU.
static void
s_bench_start (s_bench_t *self)
{
    s_servers_cpu (self, true);
    s_machine_cpu (&self->busy_start, &self->steal_start);
    getrusage (RUSAGE_SELF, &self->ru_start);
    self->start = s_now ();
}

//  Notes the time and CPU used so far, once: at the end of the measured
//  part, which is before the grace wait or the hold when there is one.
static void
s_bench_snapshot (s_bench_t *self, uint64_t now)
{
    if (self->stop)
        return;
    self->stop = now;
    getrusage (RUSAGE_SELF, &self->ru_stop);
    s_servers_cpu (self, false);
    s_machine_cpu (&self->busy_stop, &self->steal_stop);
}

static void
s_bench_finish (s_bench_t *self, uint64_t now)
{
    s_bench_snapshot (self, now);
    self->ended_in = self->phase;
    self->phase = S_PHASE_DONE;
}

//  Paces the senders (--rate): a periodic timer at the message interval,
//  or S_TICK_MIN when that is shorter (several messages per tick then).
static int
s_bench_arm_timer (s_bench_t *self, bool on)
{
    struct itimerspec spec = { 0 };
    if (on) {
        uint64_t interval = S_SEC / self->config.rate;
        if (interval < S_TICK_MIN)
            interval = S_TICK_MIN;
        spec.it_interval.tv_sec = (time_t) (interval / S_SEC);
        spec.it_interval.tv_nsec = (long) (interval % S_SEC);
        spec.it_value = spec.it_interval;
    }
    if (timerfd_settime (self->timerfd, 0, &spec, NULL)) {
        fprintf (stderr, "nws-bench: timerfd_settime: %s\n", strerror (errno));
        return -errno;
    }
    return 0;
}

//  Moves a fan-out run on after a batch of events: connects the senders
//  once the receivers are in, warms up, starts the clock, feeds the
//  senders, and decides when it is over.
static void
s_bench_advance_fanout (s_bench_t *self)
{
    const s_config_t *config = &self->config;
    uint64_t now = s_now ();
    uint32_t receivers = config->channels * config->receivers;
    if (self->phase == S_PHASE_RECEIVERS && self->opened == receivers) {
        for (uint32_t c = 0; c < config->channels; c++)
            s_bench_queue (self, &self->channels [c].sender);
        self->phase = S_PHASE_SENDERS;
    }
    if (self->phase == S_PHASE_SENDERS && self->opened == receivers + config->channels) {
        for (uint32_t c = 0; c < config->channels; c++)
            if (s_channel_warmup (self, &self->channels [c]))
                s_conn_fail (self, &self->channels [c].sender);
        self->warmup_next = now + S_WARMUP_EVERY;
        self->phase = S_PHASE_WARMUP;
    }
    else
    if (self->phase == S_PHASE_WARMUP) {
        if (self->warm == receivers) {
            s_bench_start (self);
            now = self->start;
            if (config->rate && s_bench_arm_timer (self, true))
                self->failed = true;
            self->phase = S_PHASE_RUNNING;
        }
        else
        if (now >= self->warmup_next) {
            for (uint32_t c = 0; c < config->channels; c++)
                if (self->channels [c].warm < config->receivers
                &&  s_channel_warmup (self, &self->channels [c]))
                    s_conn_fail (self, &self->channels [c].sender);
            self->warmup_next = now + S_WARMUP_EVERY;
        }
    }
    if (self->phase == S_PHASE_RUNNING && !self->failed) {
        bool all_sent = true;
        for (uint32_t c = 0; c < config->channels; c++) {
            s_channel_t *channel = &self->channels [c];
            if (s_channel_pump (self, channel, now))
                s_conn_fail (self, &channel->sender);
            all_sent &= channel->sent == config->messages;
        }
        if (config->rate && all_sent)
            s_bench_arm_timer (self, false);
        if (self->complete_channels == config->channels)
            s_bench_finish (self, now);
        else
        if (self->reached_end == receivers) {
            if (!self->grace_end) {
                self->grace_end = now + S_GRACE;
                s_bench_snapshot (self, now);
            }
            else
            if (now >= self->grace_end)
                s_bench_finish (self, now);
        }
    }
    s_bench_feed (self);
}

//  Moves a connect or idle run on: anchors first, then the clock starts
//  and the measured connections open, K at a time; idle then holds them
//  and reads the servers' RSS.
static void
s_bench_advance_setup (s_bench_t *self)
{
    const s_config_t *config = &self->config;
    uint64_t now = s_now ();
    if (self->phase == S_PHASE_ANCHORS && self->opened == s_config_anchors (config)) {
        s_servers_rss (self, true);
        s_bench_start (self);
        for (uint32_t i = 0; i < config->connections; i++)
            s_bench_queue (self, &self->conns [i]);
        self->phase = S_PHASE_CONNECTING;
    }
    s_bench_feed (self);
    if (self->phase == S_PHASE_CONNECTING
    &&  self->queue_next == self->queue_len && self->in_flight == 0) {
        s_bench_snapshot (self, now);
        if (config->mode == S_MODE_IDLE) {
            self->hold_end = now + config->hold_ms * S_MS;
            self->phase = S_PHASE_HOLD;
            //  For a script that keeps these open while it measures something else.
            printf ("holding %" PRIu32 " connections\n", self->opened - s_config_anchors (config));
            fflush (stdout);
        }
        else
            s_bench_finish (self, now);
    }
    if (self->phase == S_PHASE_HOLD && now >= self->hold_end) {
        s_servers_rss (self, false);
        s_bench_finish (self, now);
    }
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
    if (self->hold_end && self->hold_end < until)
        until = self->hold_end;
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
    while (self->phase != S_PHASE_DONE) {
        uint64_t now = s_now ();
        if (s_stop || self->failed || now >= self->deadline) {
            self->interrupted = s_stop;
            self->timed_out = !s_stop && !self->failed;
            s_bench_finish (self, now);
            break;
        }
        int n = epoll_wait (self->epfd, self->events, self->max_events, s_bench_wait_ms (self, now));
        if (n < 0 && errno != EINTR) {
            fprintf (stderr, "nws-bench: epoll_wait: %s\n", strerror (errno));
            self->failed = true;
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (self->events [i].data.ptr == NULL) {
                uint64_t expirations;
                if (read (self->timerfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
                    self->failed = true;
            }
            else
                s_conn_on_event (self, self->events [i].data.ptr, self->events [i].events);
        }
        if (self->failed)
            continue;
        if (self->config.mode == S_MODE_FANOUT)
            s_bench_advance_fanout (self);
        else
            s_bench_advance_setup (self);
    }
}

static void
s_conn_init (s_conn_t *conn, s_channel_t *channel, s_role_t role, uint32_t index)
{
    *conn = (s_conn_t) { .channel = channel, .role = role, .index = index, .fd = -1, .state = S_IDLE };
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
    if (self->conns)
        for (uint32_t i = 0; i < self->config.connections; i++)
            s_conn_shutdown (self, &self->conns [i]);
    if (self->channels)
        for (uint32_t c = 0; c < self->config.channels; c++) {
            s_channel_t *channel = &self->channels [c];
            if (channel->receivers)
                for (uint32_t i = 0; i < self->config.receivers; i++)
                    s_conn_shutdown (self, &channel->receivers [i]);
            free (channel->receivers);
            s_conn_shutdown (self, &channel->sender);
        }
    if (self->timerfd >= 0)
        close (self->timerfd);
    if (self->epfd >= 0)
        close (self->epfd);
    if (self->addr)
        freeaddrinfo (self->addr);
    if (self->sender_addr)
        freeaddrinfo (self->sender_addr);
    free (self->channels);
    free (self->conns);
    free (self->queue);
    free (self->events);
    free (self->scratch);
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

//  Allocates the channels and their connections for the mode. Returns 0
//  or -ENOMEM.
static int
s_bench_alloc (s_bench_t *self)
{
    const s_config_t *config = &self->config;
    bool fanout = config->mode == S_MODE_FANOUT;
    self->channels = calloc (config->channels, sizeof *self->channels);
    if (!self->channels)
        return -ENOMEM;
    //  Every connection is initialised (fd -1) before anything can fail,
    //  so that s_bench_destroy may run at any point.
    for (uint32_t c = 0; c < config->channels; c++) {
        s_channel_t *channel = &self->channels [c];
        if (config->channels == 1)
            snprintf (channel->name, sizeof channel->name, "%s", config->channel);
        else
            snprintf (channel->name, sizeof channel->name, "%s-%" PRIu32, config->channel, c);
        s_conn_init (&channel->sender, channel, fanout ? S_ROLE_SENDER : S_ROLE_ANCHOR, 0);
    }
    for (uint32_t c = 0; c < config->channels && fanout; c++) {
        s_channel_t *channel = &self->channels [c];
        channel->receivers = calloc (config->receivers, sizeof *channel->receivers);
        if (!channel->receivers)
            return -ENOMEM;
        for (uint32_t i = 0; i < config->receivers; i++)
            s_conn_init (&channel->receivers [i], channel, S_ROLE_RECEIVER, i);
        for (uint32_t i = 0; i < config->receivers; i++) {
            s_conn_t *receiver = &channel->receivers [i];
            receiver->seen = calloc ((size_t) (config->messages + 7) / 8, 1);
            if (!receiver->seen)
                return -ENOMEM;
        }
    }
    if (config->mode != S_MODE_FANOUT) {
        self->conns = calloc (config->connections, sizeof *self->conns);
        if (!self->conns)
            return -ENOMEM;
        //  Round robin over the channels.
        for (uint32_t i = 0; i < config->connections; i++)
            s_conn_init (&self->conns [i], &self->channels [i % config->channels], S_ROLE_IDLE, i);
    }
    return 0;
}

//  Total connections a run opens.
static uint64_t
s_config_connections (const s_config_t *config)
{
    if (config->mode == S_MODE_FANOUT)
        return (uint64_t) config->channels * (config->receivers + 1);
    return (uint64_t) config->connections + s_config_anchors (config);
}

//  Resolves the server, allocates every connection and queues the first
//  ones to open. Returns the bench or NULL, having said why.
static s_bench_t *
s_bench_new (const s_config_t *config)
{
    s_bench_t *self = calloc (1, sizeof *self);
    if (!self)
        goto nomem;
    self->config = *config;
    self->epfd = -1;
    self->timerfd = -1;
    uint64_t total = s_config_connections (config);
    self->queue_cap = (uint32_t) total;
    self->queue = calloc (total, sizeof *self->queue);
    self->max_events = total + 1 < S_EVENTS_MAX ? (int) total + 1 : S_EVENTS_MAX;
    self->events = calloc ((size_t) self->max_events, sizeof *self->events);
    self->scratch = malloc (S_SCRATCH_SIZE);
    self->padding = malloc ((size_t) config->size);
    if (!self->queue || !self->events || !self->scratch || !self->padding || s_bench_alloc (self))
        goto nomem;
    memset (self->padding, 'x', (size_t) config->size);
    s_entropy (&self->rng, sizeof self->rng);
    self->rng |= 1;                     //  xorshift must not start at 0
    if (config->size >= S_HEADER_SIZE + S_TAG_SIZE) {
        uint8_t tag [6];
        s_entropy (tag, sizeof tag);
        s_base64 (tag, sizeof tag, (char *) self->padding + S_HEADER_SIZE, s_b64_url, false);
    }
    if (s_servers_init (self))
        goto fail;
    for (int i = 0; i < config->pid_count; i++) {
        const s_server_t *server = &self->servers [i];
        if (config->mode != S_MODE_FANOUT && server->fd_limit && server->fd_limit < total + 64)
            fprintf (stderr, "nws-bench: warning: server pid %d (%s) may open at most %" PRIu64
                     " files, fewer than %" PRIu64 " connections need\n",
                     (int) server->pid, server->comm, server->fd_limit, total + 64);
    }
    if (s_raise_fd_limit ((rlim_t) total + 16))
        goto fail;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    int rc = getaddrinfo (config->host, config->port, &hints, &self->addr);
    if (rc) {
        fprintf (stderr, "nws-bench: %s port %s: %s\n", config->host, config->port, gai_strerror (rc));
        self->addr = NULL;
        goto fail;
    }
    if (config->sender_port) {
        rc = getaddrinfo (config->host, config->sender_port, &hints, &self->sender_addr);
        if (rc) {
            fprintf (stderr, "nws-bench: %s port %s: %s\n", config->host, config->sender_port,
                     gai_strerror (rc));
            self->sender_addr = NULL;
            goto fail;
        }
    }
    //  An IPv6 literal goes in brackets in the Host header.
    bool v6 = strchr (config->host, ':') != NULL;
    int len = snprintf (self->host_header, sizeof self->host_header, "%s%s%s:%s",
                        v6 ? "[" : "", config->host, v6 ? "]" : "", config->port);
    int sender_len = snprintf (self->sender_host_header, sizeof self->sender_host_header, "%s%s%s:%s",
                               v6 ? "[" : "", config->host, v6 ? "]" : "",
                               config->sender_port ? config->sender_port : config->port);
    if (len < 0 || (size_t) len >= sizeof self->host_header
    ||  sender_len < 0 || (size_t) sender_len >= sizeof self->sender_host_header) {
        fprintf (stderr, "nws-bench: host name too long\n");
        goto fail;
    }
    self->epfd = epoll_create1 (EPOLL_CLOEXEC);
    if (self->epfd < 0) {
        fprintf (stderr, "nws-bench: epoll_create1: %s\n", strerror (errno));
        goto fail;
    }
    if (config->rate) {
        self->timerfd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        struct epoll_event event = { .events = EPOLLIN, .data.ptr = NULL };
        if (self->timerfd < 0 || epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->timerfd, &event)) {
            fprintf (stderr, "nws-bench: timerfd: %s\n", strerror (errno));
            goto fail;
        }
    }
    self->deadline = s_now () + config->timeout * S_SEC;
    if (config->mode == S_MODE_FANOUT) {
        //  Receivers first, channel by channel; senders once they are in.
        for (uint32_t c = 0; c < config->channels; c++)
            for (uint32_t i = 0; i < config->receivers; i++)
                s_bench_queue (self, &self->channels [c].receivers [i]);
        self->phase = S_PHASE_RECEIVERS;
    }
    else {
        for (uint32_t c = 0; c < s_config_anchors (config); c++)
            s_bench_queue (self, &self->channels [c].sender);
        self->phase = S_PHASE_ANCHORS;
        if (config->churn)
            s_bench_advance_setup (self);
    }
    s_bench_feed (self);
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
        case S_PHASE_RECEIVERS:  return "receivers' handshakes";
        case S_PHASE_SENDERS:    return "the senders' handshakes";
        case S_PHASE_WARMUP:     return "the warm-up message to reach every receiver";
        case S_PHASE_ANCHORS:    return "the anchors' handshakes";
        case S_PHASE_CONNECTING: return "connections to open";
        default:                 return "messages";
    }
}

static double
s_seconds (struct timeval tv)
{
    return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

//  The run's status word: ok, interrupted, error, timeout, or integrity
//  (fan-out) / refused (setup) when something was lost on the way.
static const char *
s_bench_status (const s_bench_t *self, bool damaged)
{
    if (self->interrupted)
        return "interrupted";
    if (self->failed)
        return "error";
    if (self->timed_out)
        return "timeout";
    if (damaged)
        return self->config.mode == S_MODE_FANOUT ? "integrity" : "refused";
    return "ok";
}

//  Prints the server processes' lines: CPU, and RSS for idle runs.
static void
s_report_servers (const s_bench_t *self, double run)
{
    long hz = sysconf (_SC_CLK_TCK);
    for (int i = 0; i < self->config.pid_count; i++) {
        const s_server_t *server = &self->servers [i];
        double cpu = (double) (server->cpu_stop - server->cpu_start) / (double) (hz > 0 ? hz : 100);
        printf ("  %-12spid %d (%s): %.2f s CPU, %.1f%% of one core",
                i == 0 ? "server" : "", (int) server->pid, server->comm, cpu,
                run > 0 ? cpu / run * 100 : 0);
        if (self->config.mode == S_MODE_IDLE)
            printf (", RSS %" PRIu64 " -> %" PRIu64 " KiB", server->rss_before, server->rss_after);
        if (server->fd_limit == UINT64_MAX)
            printf (", open files unlimited");
        else
        if (server->fd_limit)
            printf (", open files <= %" PRIu64, server->fd_limit);
        printf ("%s\n", server->gone ? " (GONE: could not be read)" : "");
    }
}

//  Prints the fan-out report and the RESULT line; returns the exit code:
//  0 if every message reached every receiver once and in order, else 1.
//  A message missing below the highest one a receiver got is lost; one
//  above it had not arrived when the run stopped early (undelivered).
static int
s_bench_report_fanout (const s_bench_t *self)
{
    const s_config_t *config = &self->config;
    bool started = self->start != 0;
    uint64_t delivered = 0, lost = 0, undelivered = 0, dup = 0, reordered = 0, sent = 0;
    uint32_t faulty = 0;
    double chan_min = 0, chan_max = 0;
    uint64_t last_sent = 0;
    for (uint32_t c = 0; c < config->channels; c++) {
        const s_channel_t *channel = &self->channels [c];
        sent += channel->sent;
        if (channel->last_sent > last_sent)
            last_sent = channel->last_sent;
        uint64_t end = channel->finish ? channel->finish : channel->last_delivery;
        double t = started && end > self->start ? (double) (end - self->start) / 1e9 : 0;
        if (c == 0 || t < chan_min)
            chan_min = t;
        if (t > chan_max)
            chan_max = t;
        for (uint32_t i = 0; i < config->receivers; i++) {
            const s_conn_t *receiver = &channel->receivers [i];
            delivered += receiver->distinct;
            lost += receiver->reached - receiver->distinct;
            undelivered += channel->sent - receiver->reached;
            dup += receiver->dup;
            reordered += receiver->reordered;
            if (receiver->distinct < channel->sent || receiver->dup || receiver->reordered)
                faulty++;
        }
    }
    //  Elapsed ends at the last delivery: the grace wait is not traffic.
    double elapsed = chan_max;
    double run = started ? (double) (self->stop - self->start) / 1e9 : 0;
    double rate = elapsed > 0 ? (double) delivered / elapsed : 0;
    double mbps = elapsed > 0 ? (double) delivered * (double) config->size / elapsed / 1e6 : 0;
    double fairness = chan_min > 0 ? chan_max / chan_min : 0;
    double send_rate = started && last_sent > self->start
                     ? (double) sent / ((double) (last_sent - self->start) / 1e9) : 0;
    //  Over loopback, sys includes TCP work done for the peer (a send runs
    //  the receiving side's stack): user is what the client itself costs.
    double user = started ? s_seconds (self->ru_stop.ru_utime) - s_seconds (self->ru_start.ru_utime) : 0;
    double sys = started ? s_seconds (self->ru_stop.ru_stime) - s_seconds (self->ru_start.ru_stime) : 0;
    double cpu_share = run > 0 ? (user + sys) / run : 0;
    double server_ns = (double) s_servers_cpu_ns (self);
    double server_share = run > 0 ? server_ns / 1e9 / run : 0;
    double ns_per_delivery = delivered ? server_ns / (double) delivered : 0;
    double other_pct, steal_pct;
    s_bench_others (self, run, user + sys, &other_pct, &steal_pct);
    const s_hist_t *lat = &self->latency;

    const char *status = s_bench_status (self, lost || undelivered || dup || reordered || self->foreign);
    if (self->timed_out)
        fprintf (stderr, "nws-bench: timed out after %" PRIu64 " s waiting for %s\n",
                 config->timeout, s_phase_waiting (self->ended_in));
    //  Before the clock started there is nothing to measure: RESULT only.
    if (started) {
        if (config->channels == 1)
            printf ("nws-bench: ws://%s/%s/%s, %s frames\n", self->host_header,
                    config->scope, config->channel, config->binary ? "binary" : "text");
        else
            printf ("nws-bench: ws://%s/%s/%s-0..%" PRIu32 ", %s frames\n",
                    self->host_header, config->scope, config->channel, config->channels - 1,
                    config->binary ? "binary" : "text");
        if (self->sender_addr)
            printf ("  senders on  ws://%s/%s/...\n", self->sender_host_header, config->scope);
        printf ("  channels    %" PRIu32 " x (1 sender + %" PRIu32 " receivers)\n",
                config->channels, config->receivers);
        printf ("  messages    %" PRIu64 " of %" PRIu64 " bytes per channel (%" PRIu64 " sent), window %" PRIu64 "\n",
                config->messages, config->size, sent, config->window);
        if (config->rate)
            printf ("  pace        %" PRIu64 " messages/s per sender requested, %.0f achieved\n",
                    config->rate, send_rate);
        printf ("  elapsed     %.3f s\n", elapsed);
        if (config->channels > 1)
            printf ("  per channel finished in %.3f .. %.3f s: fairness %.3f (slowest / fastest)\n",
                    chan_min, chan_max, fairness);
        printf ("  deliveries  %.0f /s (%" PRIu64 " delivered)\n", rate, delivered);
        printf ("  delivered   %.2f MB/s of payload\n", mbps);
        printf ("  latency     p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us\n",
                s_hist_us (lat, 0.50), s_hist_us (lat, 0.90), s_hist_us (lat, 0.99), s_hist_us (lat, 1));
        printf ("  integrity   %" PRIu64 " lost, %" PRIu64 " duplicated, %" PRIu64 " reordered, "
                "%" PRIu64 " foreign", lost, dup, reordered, self->foreign);
        if (undelivered)
            printf (", %" PRIu64 " undelivered when stopped", undelivered);
        printf ("\n");
        uint32_t shown = 0;
        for (uint32_t c = 0; c < config->channels; c++)
            for (uint32_t i = 0; i < config->receivers && shown < 10; i++) {
                const s_channel_t *channel = &self->channels [c];
                const s_conn_t *receiver = &channel->receivers [i];
                if (receiver->distinct == channel->sent && !receiver->dup && !receiver->reordered)
                    continue;
                char name [300];
                s_conn_name (receiver, name, sizeof name);
                printf ("    %s: %" PRIu64 " lost, %" PRIu64 " duplicated, %" PRIu64 " reordered, "
                        "%" PRIu64 " undelivered\n", name, receiver->reached - receiver->distinct,
                        receiver->dup, receiver->reordered, channel->sent - receiver->reached);
                shown++;
            }
        if (faulty > shown)
            printf ("    (and %" PRIu32 " more receivers)\n", faulty - shown);
        s_report_servers (self, run);
        if (config->pid_count)
            printf ("  %-12stotal %.1f%% of one core, %.0f ns CPU per delivered message\n",
                    "", server_share * 100, ns_per_delivery);
        printf ("  own CPU     %.1f%% of one core (user %.3f s, sys %.3f s)\n",
                cpu_share * 100, user, sys);
        printf ("  others      %.1f%% of one core used by other processes, %.1f%% stolen\n",
                other_pct, steal_pct);
        printf ("  status      %s\n", status);
    }
    if (self->errors > S_ERRORS_SHOWN)
        fprintf (stderr, "nws-bench: %" PRIu64 " more connection errors not shown\n",
                 self->errors - S_ERRORS_SHOWN);
    printf ("RESULT mode=fanout status=%s channels=%" PRIu32 " receivers=%" PRIu32
            " messages=%" PRIu64 " sent=%" PRIu64 " size=%" PRIu64 " window=%" PRIu64
            " rate=%" PRIu64 " send_rate=%.0f binary=%d elapsed_s=%.6f deliveries_per_s=%.0f"
            " mb_per_s=%.3f p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f"
            " chan_min_s=%.6f chan_max_s=%.6f fairness=%.4f lost=%" PRIu64
            " dup=%" PRIu64 " reordered=%" PRIu64 " undelivered=%" PRIu64 " foreign=%" PRIu64
            " server_cpu_pct=%.1f server_ns_per_delivery=%.0f"
            " cpu_pct=%.1f user_s=%.3f sys_s=%.3f other_cpu_pct=%.1f steal_pct=%.1f\n",
            status, config->channels, config->receivers, config->messages, sent, config->size,
            config->window, config->rate, send_rate, config->binary, elapsed, rate, mbps,
            s_hist_us (lat, 0.50), s_hist_us (lat, 0.90), s_hist_us (lat, 0.99), s_hist_us (lat, 1),
            chan_min, chan_max, fairness, lost, dup, reordered, undelivered, self->foreign,
            server_share * 100, ns_per_delivery, cpu_share * 100, user, sys, other_pct, steal_pct);
    fflush (stdout);
    return strcmp (status, "ok") == 0 ? 0 : 1;
}

//  Prints the connect or idle report and the RESULT line; returns 0 if
//  every connection opened (and, idle, stayed open), else 1.
static int
s_bench_report_setup (const s_bench_t *self)
{
    const s_config_t *config = &self->config;
    bool started = self->start != 0;
    uint32_t anchors = s_config_anchors (config);
    uint32_t opened = self->opened > anchors ? self->opened - anchors : 0;
    double elapsed = started ? (double) (self->stop - self->start) / 1e9 : 0;
    double rate = elapsed > 0 ? (double) opened / elapsed : 0;
    double user = started ? s_seconds (self->ru_stop.ru_utime) - s_seconds (self->ru_start.ru_utime) : 0;
    double sys = started ? s_seconds (self->ru_stop.ru_stime) - s_seconds (self->ru_start.ru_stime) : 0;
    double cpu_share = elapsed > 0 ? (user + sys) / elapsed : 0;
    double server_ns = (double) s_servers_cpu_ns (self);
    double server_share = elapsed > 0 ? server_ns / 1e9 / elapsed : 0;
    double ns_per_conn = opened ? server_ns / (double) opened : 0;
    double other_pct, steal_pct;
    s_bench_others (self, elapsed, user + sys, &other_pct, &steal_pct);
    uint64_t rss_before = 0, rss_after = 0;
    for (int i = 0; i < config->pid_count; i++) {
        rss_before += self->servers [i].rss_before;
        rss_after += self->servers [i].rss_after;
    }
    bool idle = config->mode == S_MODE_IDLE;
    double kib_per_conn = idle && opened && rss_after ? ((double) rss_after - (double) rss_before) / opened : 0;
    const s_hist_t *hs = &self->handshake;
    const char *status = s_bench_status (self, self->refused || self->dropped || opened < config->connections);

    if (self->timed_out)
        fprintf (stderr, "nws-bench: timed out after %" PRIu64 " s waiting for %s\n",
                 config->timeout, s_phase_waiting (self->ended_in));
    if (started) {
        printf ("nws-bench: ws://%s/%s/%s%s, %" PRIu32 " %sconnections on %" PRIu32
                " %schannel%s, %" PRIu32 " in flight\n",
                self->host_header, config->scope, config->channel, config->channels > 1 ? "-<i>" : "",
                config->connections, idle ? "idle " : "", config->channels,
                config->churn ? "new " : "", config->channels > 1 ? "s" : "", config->concurrency);
        printf ("  opened      %" PRIu32 " in %.3f s: %.0f connections/s (%" PRIu32 " refused, %"
                PRIu32 " dropped)\n", opened, elapsed, rate, self->refused, self->dropped);
        printf ("  handshake   p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us\n",
                s_hist_us (hs, 0.50), s_hist_us (hs, 0.90), s_hist_us (hs, 0.99), s_hist_us (hs, 1));
        s_report_servers (self, elapsed);
        if (config->pid_count)
            printf ("  %-12stotal %.1f%% of one core while connecting, %.0f ns CPU per connection\n",
                    "", server_share * 100, ns_per_conn);
        if (idle && config->pid_count)
            printf ("  %-12sRSS %+" PRId64 " KiB after %" PRIu64 " ms idle: %.2f KiB per connection\n",
                    "", (int64_t) rss_after - (int64_t) rss_before, config->hold_ms, kib_per_conn);
        printf ("  own CPU     %.1f%% of one core (user %.3f s, sys %.3f s)\n",
                cpu_share * 100, user, sys);
        printf ("  others      %.1f%% of one core used by other processes, %.1f%% stolen\n",
                other_pct, steal_pct);
        printf ("  status      %s\n", status);
    }
    if (self->errors > S_ERRORS_SHOWN)
        fprintf (stderr, "nws-bench: %" PRIu64 " more connection errors not shown\n",
                 self->errors - S_ERRORS_SHOWN);
    printf ("RESULT mode=%s status=%s connections=%" PRIu32 " opened=%" PRIu32 " refused=%" PRIu32
            " dropped=%" PRIu32 " channels=%" PRIu32 " churn=%d concurrency=%" PRIu32 " elapsed_s=%.6f"
            " conn_per_s=%.0f hs_p50_us=%.1f hs_p90_us=%.1f hs_p99_us=%.1f hs_max_us=%.1f"
            " server_cpu_pct=%.1f server_ns_per_conn=%.0f rss_before_kib=%" PRIu64
            " rss_after_kib=%" PRIu64 " rss_kib_per_conn=%.3f cpu_pct=%.1f user_s=%.3f sys_s=%.3f"
            " other_cpu_pct=%.1f steal_pct=%.1f\n",
            s_mode_name (config->mode), status, config->connections, opened, self->refused,
            self->dropped, config->channels, config->churn, config->concurrency, elapsed, rate,
            s_hist_us (hs, 0.50), s_hist_us (hs, 0.90), s_hist_us (hs, 0.99), s_hist_us (hs, 1),
            server_share * 100, ns_per_conn, rss_before, rss_after, kib_per_conn,
            cpu_share * 100, user, sys, other_pct, steal_pct);
    fflush (stdout);
    return strcmp (status, "ok") == 0 ? 0 : 1;
}

static void
s_usage (FILE *file)
{
    fprintf (file,
        "Usage: nws-bench [OPTION]...\n"
        "Benchmark client for nws (or any server with its channel semantics).\n"
        "\n"
        "  --mode MODE        fanout (default), connect or idle\n"
        "  --host HOST        server (default 127.0.0.1)\n"
        "  --port PORT        server port (default 9009)\n"
        "  --channel NAME     channel, [A-Za-z0-9._-]{1,255} (default bench); with\n"
        "                     several channels, NAME-0, NAME-1, ...\n"
        "  --channels C       channels (default 1)\n"
        "  --broadcast        /broadcast/<channel> instead of /local/<channel>\n"
        "  --server-pid PID[,PID...]  the server's processes (for nws: the hub and\n"
        "                     every gateway): their CPU time, RSS and fd limits\n"
        "  --timeout SECS     give up after this long, all phases (default 60)\n"
        "  --help             this text\n"
        "\n"
        "fanout: C channels x (1 sender + R receivers), M messages per channel\n"
        "  --receivers R      receivers per channel (default 10)\n"
        "  --messages M       messages per sender, after a warm-up (default 100000)\n"
        "  --size S           payload bytes, at least %d (default 64)\n"
        "  --window W         stop a sender while it is W messages ahead of its\n"
        "                     channel's slowest receiver (default 1000)\n"
        "  --rate N           send N messages/s per sender, paced by a timer,\n"
        "                     instead of as fast as the window allows\n"
        "  --binary           binary frames (default text)\n"
        "  --sender-port P    senders connect to port P of the same host, the\n"
        "                     receivers to --port (two proxies linked, with\n"
        "                     --broadcast: every message crosses the link)\n"
        "\n"
        "connect, idle: N connections over C channels (round robin), K at a time,\n"
        "after one untimed anchor connection per channel\n"
        "  --connections N    (default 1000 for connect, 5000 for idle)\n"
        "  --concurrency K    connections being set up at once (default 100)\n"
        "  --churn            no anchors: connection i opens a new channel NAME-i\n"
        "                     of its own (C = N, at most %d)\n"
        "  --hold-ms MS       idle: hold them this long, then read the servers'\n"
        "                     RSS (default 1000); \"holding N connections\" is\n"
        "                     printed when the hold starts\n"
        "\n"
        "Prints a report and one line \"RESULT mode=... key=value ...\". Exits 0 if\n"
        "every message reached every receiver once and in order (fanout) or every\n"
        "connection opened and stayed open (connect, idle); 1 if not, or on a\n"
        "timeout or a connection error; 2 on a usage error. Messages of another run\n"
        "count as foreign: give concurrent runs channels of their own.\n",
        S_HEADER_SIZE, S_CHANNELS_MAX);
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

//  Appends the comma-separated pids in text to config->pids.
static int
s_parse_pids (const char *text, s_config_t *config)
{
    char copy [512];
    snprintf (copy, sizeof copy, "%s", text);
    char *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        uint64_t pid;
        if (s_parse_number ("server-pid", item, 1, INT_MAX, &pid))
            return -EINVAL;
        if (config->pid_count == S_PIDS_MAX) {
            fprintf (stderr, "nws-bench: at most %d server pids\n", S_PIDS_MAX);
            return -EINVAL;
        }
        config->pids [config->pid_count++] = (pid_t) pid;
    }
    return 0;
}

enum {                              /* getopt_long values past any char */
    S_OPT_HELP = 256, S_OPT_MODE, S_OPT_CHANNELS, S_OPT_RATE, S_OPT_PIDS,
    S_OPT_CONNECTIONS, S_OPT_CONCURRENCY, S_OPT_HOLD, S_OPT_CHURN, S_OPT_BROADCAST,
    S_OPT_SENDER_PORT
};

static bool
s_channel_valid (const char *name, uint32_t channels)
{
    size_t len = strlen (name);
    //  Room for "-<index>" when there are several.
    size_t suffix = channels > 1 ? (size_t) snprintf (NULL, 0, "-%" PRIu32, channels - 1) : 0;
    if (len == 0 || len + suffix > 255)
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
        { "mode", required_argument, NULL, S_OPT_MODE },
        { "host", required_argument, NULL, 'h' },
        { "port", required_argument, NULL, 'p' },
        { "channel", required_argument, NULL, 'c' },
        { "channels", required_argument, NULL, S_OPT_CHANNELS },
        { "receivers", required_argument, NULL, 'r' },
        { "messages", required_argument, NULL, 'm' },
        { "size", required_argument, NULL, 's' },
        { "window", required_argument, NULL, 'w' },
        { "rate", required_argument, NULL, S_OPT_RATE },
        { "binary", no_argument, NULL, 'b' },
        { "connections", required_argument, NULL, S_OPT_CONNECTIONS },
        { "concurrency", required_argument, NULL, S_OPT_CONCURRENCY },
        { "hold-ms", required_argument, NULL, S_OPT_HOLD },
        { "churn", no_argument, NULL, S_OPT_CHURN },
        { "broadcast", no_argument, NULL, S_OPT_BROADCAST },
        { "sender-port", required_argument, NULL, S_OPT_SENDER_PORT },
        { "server-pid", required_argument, NULL, S_OPT_PIDS },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, S_OPT_HELP },
        { NULL, 0, NULL, 0 }
    };
    *config = (s_config_t) {
        .mode = S_MODE_FANOUT, .host = "127.0.0.1", .port = "9009", .scope = "local", .channel = "bench",
        .channels = 1, .receivers = 10, .messages = 100000, .size = 64, .window = 1000,
        .concurrency = 100, .hold_ms = 1000, .timeout = 60
    };
    uint64_t port, number, connections = 0;
    int option, rc = 0;
    while (rc == 0 && (option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (option) {
            case S_OPT_MODE:
                if (strcmp (optarg, "fanout") == 0)
                    config->mode = S_MODE_FANOUT;
                else
                if (strcmp (optarg, "connect") == 0)
                    config->mode = S_MODE_CONNECT;
                else
                if (strcmp (optarg, "idle") == 0)
                    config->mode = S_MODE_IDLE;
                else {
                    fprintf (stderr, "nws-bench: --mode is fanout, connect or idle, not '%s'\n", optarg);
                    rc = -EINVAL;
                }
                break;
            case 'h': config->host = optarg; break;
            case 'p':
                rc = s_parse_number ("port", optarg, 1, 65535, &port);
                config->port = optarg;
                break;
            case 'c': config->channel = optarg; break;
            case S_OPT_CHANNELS:
                rc = s_parse_number ("channels", optarg, 1, S_CHANNELS_MAX, &number);
                config->channels = (uint32_t) number;
                break;
            case 'r':
                rc = s_parse_number ("receivers", optarg, 1, S_CONNS_MAX, &number);
                config->receivers = (uint32_t) number;
                break;
            case 'm': rc = s_parse_number ("messages", optarg, 1, S_MESSAGES_MAX, &config->messages); break;
            case 's': rc = s_parse_number ("size", optarg, S_HEADER_SIZE, S_SIZE_MAX, &config->size); break;
            case 'w': rc = s_parse_number ("window", optarg, 1, UINT64_MAX, &config->window); break;
            case S_OPT_RATE: rc = s_parse_number ("rate", optarg, 1, 100000000, &config->rate); break;
            case 'b': config->binary = true; break;
            case S_OPT_CONNECTIONS: rc = s_parse_number ("connections", optarg, 1, S_CONNS_MAX, &connections); break;
            case S_OPT_CONCURRENCY:
                rc = s_parse_number ("concurrency", optarg, 1, S_CONNS_MAX, &number);
                config->concurrency = (uint32_t) number;
                break;
            case S_OPT_HOLD: rc = s_parse_number ("hold-ms", optarg, 0, 3600000, &config->hold_ms); break;
            case S_OPT_CHURN: config->churn = true; break;
            case S_OPT_BROADCAST: config->scope = "broadcast"; break;
            case S_OPT_SENDER_PORT:
                rc = s_parse_number ("sender-port", optarg, 1, 65535, &port);
                config->sender_port = optarg;
                break;
            case S_OPT_PIDS: rc = s_parse_pids (optarg, config); break;
            case 't': rc = s_parse_number ("timeout", optarg, 1, 86400 * 365, &config->timeout); break;
            case S_OPT_HELP: s_usage (stdout); return 1;
            default: rc = -EINVAL; break;   //  getopt said why
        }
    }
    config->connections = (uint32_t) (connections ? connections
                                    : config->mode == S_MODE_IDLE ? 5000 : 1000);
    if (rc == 0 && config->churn) {
        if (config->mode == S_MODE_FANOUT || config->connections > S_CHANNELS_MAX) {
            fprintf (stderr, "nws-bench: --churn is for connect and idle, at most %d connections\n",
                     S_CHANNELS_MAX);
            rc = -EINVAL;
        }
        else
            config->channels = config->connections;
    }
    if (rc == 0 && config->sender_port && config->mode != S_MODE_FANOUT) {
        fprintf (stderr, "nws-bench: --sender-port is for fanout\n");
        rc = -EINVAL;
    }
    if (rc == 0 && optind < argc) {
        fprintf (stderr, "nws-bench: unexpected argument '%s'\n", argv [optind]);
        rc = -EINVAL;
    }
    if (rc == 0 && !s_channel_valid (config->channel, config->channels)) {
        fprintf (stderr, "nws-bench: invalid channel name '%s'\n", config->channel);
        rc = -EINVAL;
    }
    if (rc == 0 && s_config_connections (config) > S_CONNS_MAX) {
        fprintf (stderr, "nws-bench: at most %d connections in all\n", S_CONNS_MAX);
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
    int status = config.mode == S_MODE_FANOUT ? s_bench_report_fanout (bench)
                                              : s_bench_report_setup (bench);
    s_bench_destroy (&bench);
    return status;
}
