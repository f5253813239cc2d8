/*  nws-tap - watch and feed nws channels from the command line, modelled
    on mosquitto_sub and mosquitto_pub:

        nws-tap sub [OPTION]... [CHANNEL]...
        nws-tap pub [OPTION]... CHANNEL [MESSAGE | -]

    Thin: arguments, signals and the two loops. The hub sockets are
    nws_tap_sub and nws_tap_pub, the output is nws_tap_format.

    Exit status: 0 when done (count reached, end of input, Ctrl-C or
    SIGTERM, the reader of stdout gone), 1 on a runtime error (no hub, a
    message that could not be sent), 2 on a usage error.
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nws_channel.h"
#include "nws_hubmsg.h"
#include "nws_limits.h"
#include "nws_log.h"
#include "nws_opts.h"
#include "nws_process.h"
#include "nws_runtime.h"
#include "nws_tap_format.h"
#include "nws_tap_pub.h"
#include "nws_tap_sub.h"
#include "nws_utf8.h"

#define S_POLL_MS 500               /* longest wait before a signal is noticed */
#define S_LINGER_MS 5000            /* how long pub may take to flush at exit */
#define S_INPUT_MAX (1 << 30)       /* longest message read from input (the hub's own cap) */
#define S_BATCH 1024                /* messages printed between flushes */

static volatile sig_atomic_t s_stop = 0;


typedef struct {
    const char *runtime_dir;        /* --runtime-dir */
    const char *in;                 /* --in, or NULL: the runtime dir's */
    const char *out;                /* --out, or NULL: the runtime dir's */
    uint64_t connect_timeout;       /* --connect-timeout, ms; 0 = wait forever */
    int verbose;                    /* -v, --verbose */
    int json;                       /* --json */
    uint64_t count;                 /* -n, --count; 0 = no limit */
    int ready;                      /* --ready */
    int binary;                     /* --binary */
    const char *file;               /* --file, or NULL */
} s_args_t;

static const char *s_usage =
    "Usage: nws-tap sub [OPTION]... [CHANNEL]...\n"
    "       nws-tap pub [OPTION]... CHANNEL [MESSAGE | -]\n"
    "Watch (sub) or feed (pub) nws channels through the hub, without a WebSocket.\n"
    "A CHANNEL is SCOPE/NAME, e.g. local/chat or broadcast/news.\n"
    "'nws-tap sub --help' and 'nws-tap pub --help' list the options.\n";

static const char *s_sub_summary =
    "Prints the messages of the CHANNELs (SCOPE/NAME, e.g. local/chat; 'local' or\n"
    "'broadcast' for a whole scope; none for every channel) as they pass, one per\n"
    "line: the payload only, text as it is, binary escaped (\\\\, \\n, \\r, \\t, \\xHH).\n"
    "-v is --verbose, -n N is --count N, -h is --help.";

static const char *s_pub_summary =
    "Publishes MESSAGE on CHANNEL (SCOPE/NAME, e.g. local/chat), or, without MESSAGE\n"
    "or with '-', one message per line read from stdin (the newline removed). Text\n"
    "must be UTF-8; --binary sends bytes. Waits for the hub before sending, and\n"
    "for what was sent to reach it before exiting. -h is --help.";

//  The option table of a command ("sub" or "pub"), written into opts.
static void
s_table (const char *command, s_args_t *a, nws_opt_t *opts)
{
    int n = 0;
    opts [n++] = (nws_opt_t) { "runtime-dir", NWS_OPT_STRING, &a->runtime_dir, 0, 0, "DIR",
        "the hub's runtime directory (default $NWS_RUNTIME_DIR, /run/nws for root)" };
    opts [n++] = (nws_opt_t) { "in", NWS_OPT_STRING, &a->in, 0, 0, "ENDPOINT",
        "the hub's publisher endpoint, instead of the runtime directory's "
        "(e.g. tcp://127.0.0.1:5570)" };
    if (strcmp (command, "sub") == 0) {
        opts [n++] = (nws_opt_t) { "out", NWS_OPT_STRING, &a->out, 0, 0, "ENDPOINT",
            "the hub's subscriber endpoint, instead of the runtime directory's "
            "(alone, without --in, subscriptions are not confirmed)" };
        opts [n++] = (nws_opt_t) { "verbose", NWS_OPT_FLAG, &a->verbose, 0, 0, NULL,
            "print the channel before each payload (-v)" };
        opts [n++] = (nws_opt_t) { "json", NWS_OPT_FLAG, &a->json, 0, 0, NULL,
            "print JSON lines with the header fields (binary payloads as base64)" };
        opts [n++] = (nws_opt_t) { "count", NWS_OPT_UINT, &a->count, 1, UINT64_MAX, "N",
            "exit after N messages (-n N)" };
        opts [n++] = (nws_opt_t) { "ready", NWS_OPT_FLAG, &a->ready, 0, 0, NULL,
            "print 'ready' on stderr once the hub has confirmed the subscriptions" };
        opts [n++] = (nws_opt_t) { "connect-timeout", NWS_OPT_UINT, &a->connect_timeout, 0,
            86400000, "MS", "warn if the hub has not answered after MS (default 5000)" };
    }
    else {
        opts [n++] = (nws_opt_t) { "binary", NWS_OPT_FLAG, &a->binary, 0, 0, NULL,
            "send binary messages instead of text" };
        opts [n++] = (nws_opt_t) { "file", NWS_OPT_STRING, &a->file, 0, 0, "FILE",
            "send the whole of FILE ('-' for stdin) as one message" };
        opts [n++] = (nws_opt_t) { "connect-timeout", NWS_OPT_UINT, &a->connect_timeout, 0,
            86400000, "MS", "give up if the hub has not answered after MS (default 5000; "
            "0 = wait)" };
    }
    opts [n] = (nws_opt_t) { NULL };
}

//  nws_opts reads only --long options and no operands: this turns -v,
//  -n N, -nN and -h into long options and sets the operands aside. "--"
//  ends the options; "-" is an operand. opt_argv has room for 2 * argc + 1
//  pointers ("-nN" takes two), operands for argc. Returns 0 or -EINVAL
//  with err set.
static int
s_split (const nws_opt_t *opts, int argc, char **argv, char **opt_argv, int *opt_argc,
         char **operands, int *operand_count, char *err, size_t errlen)
{
    int no = 1, nop = 0;
    opt_argv [0] = "nws-tap";
    for (int i = 0; i < argc; i++) {
        char *arg = argv [i];
        if (strcmp (arg, "--") == 0) {
            while (++i < argc)
                operands [nop++] = argv [i];
            break;
        }
        if (arg [0] != '-' || arg [1] == '\0') {
            operands [nop++] = arg;
            continue;
        }
        if (arg [1] != '-') {
            if (strcmp (arg, "-v") == 0)
                opt_argv [no++] = "--verbose";
            else
            if (strcmp (arg, "-h") == 0)
                opt_argv [no++] = "--help";
            else
            if (strncmp (arg, "-n", 2) == 0) {
                opt_argv [no++] = "--count";
                if (arg [2])
                    opt_argv [no++] = arg + 2;
                else
                if (i + 1 < argc)
                    opt_argv [no++] = argv [++i];
            }
            else {
                snprintf (err, errlen, "unknown option '%.32s' (see --help)", arg);
                return -EINVAL;
            }
            continue;
        }
        opt_argv [no++] = arg;
        //  A value given as the next argument goes with its option.
        const char *name = arg + 2, *eq = strchr (name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen (name);
        for (const nws_opt_t *o = opts; o->name; o++)
            if (!eq && strlen (o->name) == len && memcmp (o->name, name, len) == 0
            &&  o->type != NWS_OPT_FLAG && i + 1 < argc)
                opt_argv [no++] = argv [++i];
    }
    *opt_argc = no;
    *operand_count = nop;
    return 0;
}

//  Parses a CHANNEL argument ("local/chat", "/local/chat" or
//  "local/chat/"; with whole_scope also "local" or "broadcast") into its
//  hub topic. Returns 0 or -EINVAL.
static int
s_topic (const char *arg, int whole_scope, char *topic, size_t cap, size_t *len)
{
    const char *p = arg [0] == '/' ? arg + 1 : arg;
    size_t n = strlen (p);
    if (n && p [n - 1] == '/')
        n--;
    if (n == 0 || n + 2 > cap)
        return -EINVAL;
    if (whole_scope && ((n == 5 && memcmp (p, "local", 5) == 0)
                    ||  (n == 9 && memcmp (p, "broadcast", 9) == 0))) {
        memcpy (topic, p, n);
        topic [n] = '/';
        *len = n + 1;
        return 0;
    }
    char path [NWS_TOPIC_MAX + 2];
    if (n + 2 > sizeof path)
        return -EINVAL;
    path [0] = '/';
    memcpy (path + 1, p, n);
    path [n + 1] = '\0';
    nws_channel_t channel;
    if (nws_channel_parse_path (path, &channel))
        return -EINVAL;
    int rc = nws_channel_topic (&channel, topic, cap);
    if (rc < 0)
        return rc;
    *len = (size_t) rc;
    return 0;
}

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  ---------------------------------------------------------------------
//  sub

//  Ends sub quietly when stdout's reader has gone (EPIPE), loudly on other
//  write errors. Returns -1 to go on, else the exit status.
static int
s_output_status (int rc)
{
    if (rc == 0)
        return -1;
    if (rc == -EPIPE)
        return 0;
    fprintf (stderr, "nws-tap: cannot write to stdout: %s\n", strerror (-rc));
    return 1;
}

//  Prints what is waiting, up to S_BATCH messages. Returns -1 to go on,
//  else the exit status.
static int
s_sub_drain (nws_tap_sub_t *sub, const s_args_t *args, uint64_t *printed)
{
    nws_tap_mode_t mode = args->json ? NWS_TAP_JSON
                        : args->verbose ? NWS_TAP_VERBOSE : NWS_TAP_PLAIN;
    for (int i = 0; i < S_BATCH; i++) {
        nws_hubmsg_t msg;
        uint64_t lost = 0;
        int rc = nws_tap_sub_next (sub, &msg, &lost);
        if (rc == -EAGAIN || rc == -EINTR)
            return -1;
        if (rc) {
            fprintf (stderr, "nws-tap: receiving from the hub: %s\n", zmq_strerror (-rc));
            return 1;
        }
        if (lost)
            nws_warn ("%llu message(s) lost on %s/%s from origin %016llx",
                      (unsigned long long) lost, nws_channel_scope_str (msg.channel.scope),
                      msg.channel.name, (unsigned long long) msg.env.origin);
        rc = nws_tap_format (stdout, mode, &msg.channel, &msg.env,
                             zmq_msg_data (&msg.payload), zmq_msg_size (&msg.payload));
        nws_hubmsg_close (&msg);
        int status = s_output_status (rc);
        if (status >= 0)
            return status;
        if (args->count && ++*printed >= args->count)
            return 0;
    }
    return -1;
}

static int
s_sub (const s_args_t *args, const char *out, const char *in, char **channels, int count)
{
    char (*topics) [NWS_TOPIC_MAX + 1] = calloc ((size_t) count + 1, sizeof *topics);
    const char **ptrs = calloc ((size_t) count + 1, sizeof *ptrs);
    size_t *lens = calloc ((size_t) count + 1, sizeof *lens);
    int status = 1;
    nws_tap_sub_t *sub = NULL;
    if (!topics || !ptrs || !lens)
        goto done;
    for (int i = 0; i < count; i++) {
        if (s_topic (channels [i], 1, topics [i], sizeof topics [i], &lens [i])) {
            fprintf (stderr, "nws-tap: '%.300s' is not a channel: expected SCOPE/NAME "
                     "(e.g. local/chat; NAME is [A-Za-z0-9._-]{1,255}), local or broadcast\n",
                     channels [i]);
            status = 2;
            goto done;
        }
        ptrs [i] = topics [i];
    }
    sub = nws_tap_sub_new (out, in, ptrs, lens, count);
    if (!sub)
        goto done;
    //  A pipe's reader going away shows as POLLERR on our end: notice it
    //  even while no message comes to be written.
    struct stat st;
    int watch_stdout = fstat (STDOUT_FILENO, &st) == 0
                    && (S_ISFIFO (st.st_mode) || S_ISSOCK (st.st_mode));
    int64_t start = s_now_ms ();
    int warned = 0, said_ready = 0;
    uint64_t printed = 0;
    status = -1;
    while (status < 0 && !s_stop) {
        zmq_pollitem_t items [3];
        long timeout;
        int n = nws_tap_sub_pollitems (sub, items, &timeout);
        if (watch_stdout)
            items [n++] = (zmq_pollitem_t) { NULL, STDOUT_FILENO, 0, 0 };
        if (timeout < 0 || timeout > S_POLL_MS)
            timeout = S_POLL_MS;
        if (zmq_poll (items, n, timeout) < 0 && errno != EINTR) {
            fprintf (stderr, "nws-tap: zmq_poll: %s\n", zmq_strerror (errno));
            status = 1;
            break;
        }
        if (watch_stdout && (items [n - 1].revents & ZMQ_POLLERR)) {
            status = 0;
            break;
        }
        status = s_sub_drain (sub, args, &printed);
        int wrote = s_output_status (fflush (stdout) == 0 ? 0 : -errno);
        if (wrote >= 0 && status <= 0)
            status = wrote;
        if (nws_tap_sub_confirmed (sub) && args->ready && !said_ready) {
            fprintf (stderr, "ready\n");
            said_ready = 1;
        }
        if (in && !warned && !nws_tap_sub_confirmed (sub) && args->connect_timeout
        &&  s_now_ms () - start >= (int64_t) args->connect_timeout) {
            nws_warn ("no answer from nws-hub at %s yet (is it running? is --runtime-dir "
                      "right?); still waiting", in);
            warned = 1;
        }
    }
    if (status < 0) {
        int wrote = s_output_status (fflush (stdout) == 0 ? 0 : -errno);
        status = wrote < 0 ? 0 : wrote;
    }
done:
    nws_tap_sub_destroy (&sub);
    free (topics);
    free (ptrs);
    free (lens);
    return status;
}

//  ---------------------------------------------------------------------
//  pub

typedef struct {
    int fd;                         /* where input comes from */
    char *data;                     /* what was read and not yet used */
    size_t len;                     /* bytes in data */
    size_t cap;                     /* bytes allocated */
    int eof;                        /* read returned 0 */
} s_input_t;

//  Reads what is there, waiting up to S_POLL_MS so that a signal is
//  noticed. Returns 0 (perhaps with nothing new) or a negative errno
//  (-EFBIG past S_INPUT_MAX).
static int
s_input_fill (s_input_t *input)
{
    struct pollfd pfd = { .fd = input->fd, .events = POLLIN };
    int rc = poll (&pfd, 1, S_POLL_MS);
    if (rc < 0)
        return errno == EINTR ? 0 : -errno;
    if (rc == 0)
        return 0;
    if (input->len == input->cap) {
        if (input->cap >= S_INPUT_MAX)
            return -EFBIG;
        size_t cap = input->cap ? input->cap * 2 : 65536;
        char *data = realloc (input->data, cap);
        if (!data)
            return -ENOMEM;
        input->data = data;
        input->cap = cap;
    }
    ssize_t n = read (input->fd, input->data + input->len, input->cap - input->len);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -errno;
    if (n == 0)
        input->eof = 1;
    input->len += (size_t) n;
    return 0;
}

typedef struct {
    nws_tap_pub_t *pub;             /* connected to the hub */
    const char *endpoint;           /* its endpoint, for messages */
    const char *topic;              /* of the channel */
    size_t topic_len;               /* its length */
    int kind;                       /* NWS_KIND_TEXT or NWS_KIND_BINARY */
    int64_t timeout_ms;             /* for the hub to answer; -1 = forever */
    uint64_t sent;                  /* messages sent */
    uint64_t refused;               /* not UTF-8 in text mode: not sent */
} s_pub_t;

//  Sends one message once the hub takes them. Returns 0, 1 (skipped: not
//  UTF-8), or a negative errno (-EINTR on a signal, -ETIMEDOUT).
static int
s_pub_send (s_pub_t *self, const char *data, size_t len, const char *what)
{
    if (self->kind == NWS_KIND_TEXT && !nws_utf8_valid (data, len)) {
        fprintf (stderr, "nws-tap: %s is not valid UTF-8, not sent (send bytes with "
                 "--binary)\n", what);
        self->refused++;
        return 1;
    }
    int rc = nws_tap_pub_wait (self->pub, self->timeout_ms, &s_stop);
    if (rc == -ETIMEDOUT)
        fprintf (stderr, "nws-tap: no nws-hub answered at %s within %lld ms (is it running? "
                 "is --runtime-dir right?)\n", self->endpoint, (long long) self->timeout_ms);
    if (rc)
        return rc;
    rc = nws_tap_pub_send (self->pub, self->topic, self->topic_len, self->kind, 0,
                           data, len, &s_stop);
    if (rc && rc != -EINTR)
        fprintf (stderr, "nws-tap: cannot send: %s\n", zmq_strerror (-rc));
    self->sent += rc == 0;
    return rc;
}

//  Sends each line of input (the last one may lack its newline).
static int
s_pub_lines (s_pub_t *self, s_input_t *input)
{
    size_t scanned = 0;             //  bytes of input->data known to hold no newline
    uint64_t line = 0;
    while (!s_stop) {
        char *start = input->data, *nl;
        while (input->len > scanned
           &&  (nl = memchr (input->data + scanned, '\n', input->len - scanned))) {
            char what [64];
            snprintf (what, sizeof what, "line %llu", (unsigned long long) ++line);
            int rc = s_pub_send (self, start, (size_t) (nl - start), what);
            if (rc < 0)
                return rc;
            size_t used = (size_t) (nl + 1 - input->data);
            memmove (input->data, nl + 1, input->len - used);
            input->len -= used;
            scanned = 0;
            start = input->data;
        }
        scanned = input->len;
        if (input->eof) {
            if (input->len) {
                char what [64];
                snprintf (what, sizeof what, "line %llu", (unsigned long long) ++line);
                int rc = s_pub_send (self, input->data, input->len, what);
                if (rc < 0)
                    return rc;
                input->len = 0;
            }
            return 0;
        }
        int rc = s_input_fill (input);
        if (rc == -EFBIG)
            fprintf (stderr, "nws-tap: line %llu is longer than %d bytes\n",
                     (unsigned long long) line + 1, S_INPUT_MAX);
        else
        if (rc)
            fprintf (stderr, "nws-tap: reading input: %s\n", strerror (-rc));
        if (rc)
            return rc;
    }
    return -EINTR;
}

//  Sends all of input as one message.
static int
s_pub_whole (s_pub_t *self, s_input_t *input, const char *name)
{
    while (!input->eof && !s_stop) {
        int rc = s_input_fill (input);
        if (rc) {
            fprintf (stderr, "nws-tap: reading %s: %s\n", name,
                     rc == -EFBIG ? "longer than 1 GiB" : strerror (-rc));
            return rc;
        }
    }
    if (s_stop)
        return -EINTR;
    return s_pub_send (self, input->data ? input->data : "", input->len, name);
}

static int
s_pub (const s_args_t *args, const char *in, char **operands, int count)
{
    char topic [NWS_TOPIC_MAX + 1];
    s_pub_t self = {
        .endpoint = in,
        .topic = topic,
        .kind = args->binary ? NWS_KIND_BINARY : NWS_KIND_TEXT,
        .timeout_ms = args->connect_timeout ? (int64_t) args->connect_timeout : -1,
    };
    if (count < 1 || count > 2) {
        fprintf (stderr, "nws-tap: pub takes CHANNEL and at most one MESSAGE "
                 "(put -- before a message that starts with '-')\n");
        return 2;
    }
    if (s_topic (operands [0], 0, topic, sizeof topic, &self.topic_len)) {
        fprintf (stderr, "nws-tap: '%.300s' is not a channel: expected SCOPE/NAME "
                 "(e.g. local/chat; NAME is [A-Za-z0-9._-]{1,255})\n", operands [0]);
        return 2;
    }
    const char *message = count == 2 && strcmp (operands [1], "-") != 0 ? operands [1] : NULL;
    if (message && args->file) {
        fprintf (stderr, "nws-tap: give MESSAGE or --file, not both\n");
        return 2;
    }
    if (message && self.kind == NWS_KIND_TEXT && !nws_utf8_valid (message, strlen (message))) {
        fprintf (stderr, "nws-tap: MESSAGE is not valid UTF-8 (send bytes with --binary)\n");
        return 1;
    }
    s_input_t input = { .fd = STDIN_FILENO };
    if (args->file && strcmp (args->file, "-") != 0) {
        input.fd = open (args->file, O_RDONLY | O_CLOEXEC);
        if (input.fd < 0) {
            fprintf (stderr, "nws-tap: %s: %s\n", args->file, strerror (errno));
            return 1;
        }
    }
    int rc;
    self.pub = nws_tap_pub_new (in, S_LINGER_MS);
    if (!self.pub)
        rc = -EIO;
    else
    if (message)
        rc = s_pub_send (&self, message, strlen (message), "MESSAGE");
    else
    if (args->file)
        rc = s_pub_whole (&self, &input, args->file);
    else
        rc = s_pub_lines (&self, &input);
    nws_tap_pub_destroy (&self.pub);    //  flushes what was sent
    if (input.fd != STDIN_FILENO)
        close (input.fd);
    free (input.data);
    if (rc == -EINTR)
        return 0;
    return rc < 0 || self.refused ? 1 : 0;
}

//  ---------------------------------------------------------------------

//  Runs "sub" or "pub" with argv [2..]; opt_argv has room for 2 * argc
//  pointers, operands for argc. Returns the exit status.
static int
s_command (const char *command, int argc, char **argv, char **opt_argv, char **operands)
{
    char default_dir [200];
    nws_runtime_default_dir (default_dir, sizeof default_dir);
    s_args_t args = { .runtime_dir = default_dir, .connect_timeout = 5000 };
    nws_opt_t opts [16];
    s_table (command, &args, opts);
    int opt_argc, count;
    char err [300];
    char program [16];
    snprintf (program, sizeof program, "nws-tap %s", command);
    int rc = s_split (opts, argc - 2, argv + 2, opt_argv, &opt_argc, operands, &count,
                      err, sizeof err);
    if (rc == 0)
        rc = nws_opts_parse (opts, opt_argc, opt_argv, err, sizeof err);
    if (rc == NWS_OPTS_HELP) {
        int sub = strcmp (command, "sub") == 0;
        nws_opts_usage (stdout, sub ? "nws-tap sub [CHANNEL]..." : "nws-tap pub CHANNEL [MESSAGE | -]",
                        sub ? s_sub_summary : s_pub_summary, opts);
        return 0;
    }
    if (rc == NWS_OPTS_VERSION) {
        printf ("nws-tap %s\n", NWS_VERSION);
        return 0;
    }
    if (rc == 0 && args.json && args.verbose) {
        snprintf (err, sizeof err, "--json and --verbose do not go together");
        rc = -EINVAL;
    }
    //  Endpoints: explicit ones, else the runtime directory's. A sub given
    //  only --out does not guess a publisher endpoint to confirm with.
    char in [NWS_ENDPOINT_MAX], out [NWS_ENDPOINT_MAX];
    if (rc == 0 && ((!args.in && nws_runtime_endpoint (args.runtime_dir, "hub-in", in, sizeof in))
                ||  (!args.out && nws_runtime_endpoint (args.runtime_dir, "hub-out", out, sizeof out)))) {
        snprintf (err, sizeof err, "--runtime-dir %.200s: too long for a Unix socket path",
                  args.runtime_dir);
        rc = -EINVAL;
    }
    const char *in_endpoint = args.in ? args.in : args.out ? NULL : in;
    const char *out_endpoint = args.out ? args.out : out;
    if (rc == 0 && args.ready && !in_endpoint) {
        snprintf (err, sizeof err, "--ready needs the hub's publisher endpoint (--in) "
                  "to confirm the subscriptions with");
        rc = -EINVAL;
    }
    if (rc) {
        fprintf (stderr, "%s: %s\n", program, err);
        return 2;
    }
    nws_log_init ("nws-tap", NWS_LOG_WARN);
    nws_process_stop_on_signals (&s_stop);

    if (strcmp (command, "sub") == 0)
        return s_sub (&args, out_endpoint, in_endpoint, operands, count);
    return s_pub (&args, args.in ? args.in : in, operands, count);
}

int
main (int argc, char **argv)
{
    if (argc < 2 || strcmp (argv [1], "--help") == 0 || strcmp (argv [1], "-h") == 0) {
        fputs (s_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp (argv [1], "--version") == 0) {
        printf ("nws-tap %s\n", NWS_VERSION);
        return 0;
    }
    if (strcmp (argv [1], "sub") != 0 && strcmp (argv [1], "pub") != 0) {
        fprintf (stderr, "nws-tap: unknown command '%.64s'\n%s", argv [1], s_usage);
        return 2;
    }
    char **opt_argv = calloc (2 * (size_t) argc + 1, sizeof *opt_argv);
    char **operands = calloc ((size_t) argc + 1, sizeof *operands);
    int rc = 1;
    if (opt_argv && operands)
        rc = s_command (argv [1], argc, argv, opt_argv, operands);
    free (opt_argv);
    free (operands);
    return rc;
}
