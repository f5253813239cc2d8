/*  fuzz_channel - request paths and channel names (nws_channel_parse_path),
    and the hub topics and interest markers made from a channel.

    Input: any bytes. As a C string (up to the first NUL, as the gateway
    hands it over) they are a request path; as len bytes, a topic frame and
    an interest marker. Properties, each against a reference written here
    from nws_channel.h's words rather than from its source:

    - parse_path, from_topic, from_interest and name_valid accept exactly
      what the reference accepts, with the same error; an accepted input is
      rebuilt byte for byte from the channel (there is one spelling).
    - the topic of an accepted channel parses back to the same channel,
      and so does its interest marker; neither parses as the other.
    - a channel's topic is never a prefix of another channel's topic, and
      an interest marker is a prefix of no topic: checked against channels
      derived from the parsed one (a byte longer, a byte shorter, the last
      byte changed, the other scope).
    - topic and interest writers never write past cap, and answer
      -ENOSPC when cap is one byte short.
*/
#include <errno.h>

#include "nws_channel.h"
#include "nws_fuzz.h"

static int
s_ref_name_valid (const uint8_t *name, size_t len)
{
    if (len < 1 || len > 255)
        return 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = name [i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static const char *s_scope_names [2] = { "local", "broadcast" };

//  "/local/<name>" or "/broadcast/<name>": 0, -ENOENT or -EINVAL.
static int
s_ref_parse_path (const char *path, int *scope, const char **name)
{
    for (int s = 0; s < 2; s++) {
        size_t n = strlen (s_scope_names [s]);
        if (path [0] == '/' && strncmp (path + 1, s_scope_names [s], n) == 0
        &&  path [1 + n] == '/') {
            *scope = s;
            *name = path + n + 2;
            return s_ref_name_valid ((const uint8_t *) *name, strlen (*name)) ? 0 : -EINVAL;
        }
    }
    return -ENOENT;
}

//  "<scope>/<name>" followed by tail (a "/" or "/+"): 1 if it is, else 0.
static int
s_ref_topic_like (const uint8_t *data, size_t len, const char *tail)
{
    size_t tlen = strlen (tail);
    for (int s = 0; s < 2; s++) {
        size_t n = strlen (s_scope_names [s]);
        if (len >= n + 1 + tlen && memcmp (data, s_scope_names [s], n) == 0
        &&  data [n] == '/' && memcmp (data + len - tlen, tail, tlen) == 0
        &&  s_ref_name_valid (data + n + 1, len - n - 1 - tlen))
            return 1;
    }
    return 0;
}

static int
s_same (const nws_channel_t *a, const nws_channel_t *b)
{
    return a->scope == b->scope && a->name_len == b->name_len
        && memcmp (a->name, b->name, a->name_len) == 0;
}

static void
s_check_fields (const nws_channel_t *c)
{
    FUZZ_CHECK (c->scope == NWS_SCOPE_LOCAL || c->scope == NWS_SCOPE_BROADCAST);
    FUZZ_CHECK (c->name_len >= 1 && c->name_len <= NWS_NAME_MAX);
    FUZZ_CHECK (c->name [c->name_len] == '\0');
    FUZZ_CHECK (strlen (c->name) == c->name_len);
    FUZZ_CHECK (s_ref_name_valid ((const uint8_t *) c->name, c->name_len));
}

//  Writes with writer into a heap buffer of exactly cap bytes.
static int
s_write (int (*writer) (const nws_channel_t *, char *, size_t),
         const nws_channel_t *c, size_t cap, char *copy)
{
    char *buf = malloc (cap ? cap : 1);
    FUZZ_CHECK (buf);
    int len = writer (c, buf, cap);
    if (len > 0 && copy)
        memcpy (copy, buf, (size_t) len);
    free (buf);
    return len;
}

//  The topic of c into buf (NWS_TOPIC_MAX + 1 bytes), checking the writer's
//  bounds on the way; returns its length.
static size_t
s_topic (const nws_channel_t *c, char *buf)
{
    size_t want = strlen (s_scope_names [c->scope]) + 1 + c->name_len + 1;
    FUZZ_CHECK (want <= NWS_TOPIC_MAX);
    FUZZ_CHECK (s_write (nws_channel_topic, c, want - 1, NULL) == -ENOSPC);
    FUZZ_CHECK (s_write (nws_channel_topic, c, want, buf) == (int) want);
    return want;
}

static size_t
s_interest (const nws_channel_t *c, char *buf)
{
    size_t want = strlen (s_scope_names [c->scope]) + 1 + c->name_len + 2;
    FUZZ_CHECK (s_write (nws_channel_interest, c, want - 1, NULL) == -ENOSPC);
    FUZZ_CHECK (s_write (nws_channel_interest, c, want, buf) == (int) want);
    return want;
}

static int
s_prefix (const char *a, size_t alen, const char *b, size_t blen)
{
    return alen <= blen && memcmp (a, b, alen) == 0;
}

//  Everything said above about one valid channel c and one other, d.
static void
s_check_pair (const nws_channel_t *c, const nws_channel_t *d)
{
    char ct [NWS_TOPIC_MAX + 2], dt [NWS_TOPIC_MAX + 2], ci [NWS_TOPIC_MAX + 2];
    size_t ctl = s_topic (c, ct), dtl = s_topic (d, dt), cil = s_interest (c, ci);
    if (!s_same (c, d)) {
        FUZZ_CHECK (!s_prefix (ct, ctl, dt, dtl));
        FUZZ_CHECK (!s_prefix (dt, dtl, ct, ctl));
    }
    FUZZ_CHECK (!s_prefix (ci, cil, dt, dtl));
}

static void
s_check_channel (const nws_channel_t *c)
{
    s_check_fields (c);
    char topic [NWS_TOPIC_MAX + 2], marker [NWS_TOPIC_MAX + 2];
    size_t tlen = s_topic (c, topic), mlen = s_interest (c, marker);
    nws_channel_t back;

    FUZZ_CHECK (nws_channel_from_topic (topic, tlen, &back) == 0 && s_same (c, &back));
    FUZZ_CHECK (nws_channel_from_interest (marker, mlen, &back) == 0 && s_same (c, &back));
    FUZZ_CHECK (nws_channel_from_topic (marker, mlen, &back) == -EINVAL);
    FUZZ_CHECK (nws_channel_from_interest (topic, tlen, &back) == -EINVAL);

    //  The same name as a path parses to the same channel.
    char path [NWS_TOPIC_MAX + 2];
    snprintf (path, sizeof path, "/%s/%s", s_scope_names [c->scope], c->name);
    FUZZ_CHECK (nws_channel_parse_path (path, &back) == 0 && s_same (c, &back));

    //  Channels one edit away.
    nws_channel_t d;
    d = *c;
    d.scope = c->scope == NWS_SCOPE_LOCAL ? NWS_SCOPE_BROADCAST : NWS_SCOPE_LOCAL;
    s_check_pair (c, &d);
    if (c->name_len < NWS_NAME_MAX) {
        d = *c;
        d.name [d.name_len++] = c->name [0];
        d.name [d.name_len] = '\0';
        s_check_pair (c, &d);
        s_check_pair (&d, c);
    }
    if (c->name_len > 1) {
        d = *c;
        d.name [--d.name_len] = '\0';
        s_check_pair (c, &d);
        s_check_pair (&d, c);
    }
    d = *c;
    d.name [d.name_len - 1] = d.name [d.name_len - 1] == '-' ? '_' : '-';
    s_check_pair (c, &d);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    nws_channel_t channel, back;

    //  As a request path.
    char *path = fuzz_strdup (data, size);
    int want_scope = -1;
    const char *want_name = NULL;
    int want = s_ref_parse_path (path, &want_scope, &want_name);
    memset (&channel, 0xA5, sizeof channel);
    int rc = nws_channel_parse_path (path, &channel);
    FUZZ_CHECK (rc == want);
    if (rc == 0) {
        FUZZ_CHECK ((int) channel.scope == want_scope);
        FUZZ_CHECK (strcmp (channel.name, want_name) == 0);
        char again [NWS_TOPIC_MAX + 2];
        snprintf (again, sizeof again, "/%s/%s", nws_channel_scope_str (channel.scope),
                  channel.name);
        FUZZ_CHECK (strcmp (again, path) == 0);
        s_check_channel (&channel);
    }
    free (path);

    //  As a name, a topic frame and an interest marker (bytes, not strings).
    FUZZ_CHECK (nws_channel_name_valid ((const char *) data, size)
                == s_ref_name_valid (data, size));
    uint8_t *frame = malloc (size ? size : 1);
    FUZZ_CHECK (frame);
    memcpy (frame, data, size);
    rc = nws_channel_from_topic (frame, size, &channel);
    FUZZ_CHECK (rc == 0 || rc == -EINVAL);
    FUZZ_CHECK ((rc == 0) == s_ref_topic_like (data, size, "/"));
    if (rc == 0) {
        char topic [NWS_TOPIC_MAX + 2];
        FUZZ_CHECK (s_topic (&channel, topic) == size && memcmp (topic, data, size) == 0);
        s_check_channel (&channel);
    }
    rc = nws_channel_from_interest (frame, size, &back);
    FUZZ_CHECK (rc == 0 || rc == -EINVAL);
    FUZZ_CHECK ((rc == 0) == s_ref_topic_like (data, size, "/+"));
    if (rc == 0) {
        char marker [NWS_TOPIC_MAX + 2];
        FUZZ_CHECK (s_interest (&back, marker) == size && memcmp (marker, data, size) == 0);
        s_check_channel (&back);
    }
    free (frame);
    return 0;
}
