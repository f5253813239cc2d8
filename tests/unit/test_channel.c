/*  Unit tests of nws_channel: names, request paths and hub topics.  */
#include "nws_channel.h"
#include "nws_unit.h"

//  The grammar of nws_channel.h, written out independently of the source.
static int
s_expected_ok (int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

//  A name of len bytes, all 'a' but the last, which cycles through classes.
static void
s_long_name (char *buf, size_t len)
{
    memset (buf, 'a', len);
    buf [len - 1] = 'Z';
    buf [len] = '\0';
}

//  Every byte value, alone and in the middle of a valid name.
static void
name_every_byte (void)
{
    int accepted = 0;
    for (int c = 0; c < 256; c++) {
        char one [1] = { (char) c };
        char mid [5] = { 'a', 'b', (char) c, 'c', 'd' };
        int want = s_expected_ok (c);
        if (nws_channel_name_valid (one, 1) != want
        ||  nws_channel_name_valid (mid, 5) != want) {
            fprintf (stderr, "byte 0x%02x: expected %s\n", c, want ? "valid" : "invalid");
            CHECK (0);
        }
        accepted += want;
    }
    CHECK_INT (accepted, 26 + 26 + 10 + 3);
}

//  Each byte class named in the brief, explicitly.
static void
name_byte_classes (void)
{
    CHECK_INT (nws_channel_name_valid ("abcdefghijklmnopqrstuvwxyz", 26), 1);
    CHECK_INT (nws_channel_name_valid ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26), 1);
    CHECK_INT (nws_channel_name_valid ("0123456789", 10), 1);
    CHECK_INT (nws_channel_name_valid (".", 1), 1);
    CHECK_INT (nws_channel_name_valid ("_", 1), 1);
    CHECK_INT (nws_channel_name_valid ("-", 1), 1);
    CHECK_INT (nws_channel_name_valid ("a.B_9-z", 7), 1);

    CHECK_INT (nws_channel_name_valid ("a/b", 3), 0);
    CHECK_INT (nws_channel_name_valid ("a%20b", 5), 0);
    CHECK_INT (nws_channel_name_valid ("a b", 3), 0);
    CHECK_INT (nws_channel_name_valid ("a\0b", 3), 0);     //  NUL inside
    CHECK_INT (nws_channel_name_valid ("ab\0", 3), 0);     //  NUL at the end, counted
    CHECK_INT (nws_channel_name_valid ("a\x80" "b", 3), 0);
    CHECK_INT (nws_channel_name_valid ("caf\xc3\xa9", 5), 0);  //  UTF-8
    CHECK_INT (nws_channel_name_valid ("a\xff", 2), 0);
    CHECK_INT (nws_channel_name_valid ("a?b", 3), 0);
    CHECK_INT (nws_channel_name_valid ("a#b", 3), 0);
    CHECK_INT (nws_channel_name_valid ("a\nb", 3), 0);
    CHECK_INT (nws_channel_name_valid ("a+b", 3), 0);
    CHECK_INT (nws_channel_name_valid ("a~b", 3), 0);
    CHECK_INT (nws_channel_name_valid ("a:b", 3), 0);

    //  len bounds what is read: the invalid byte after it does not count.
    CHECK_INT (nws_channel_name_valid ("ab/", 2), 1);
}

static void
name_length (void)
{
    char name [NWS_NAME_MAX + 2];
    CHECK_INT (nws_channel_name_valid ("", 0), 0);
    CHECK_INT (nws_channel_name_valid ("abc", 0), 0);
    CHECK_INT (nws_channel_name_valid (NULL, 0), 0);
    CHECK_INT (nws_channel_name_valid (NULL, 3), 0);
    for (size_t len = 1; len <= NWS_NAME_MAX; len++) {
        s_long_name (name, len);
        CHECK_INT (nws_channel_name_valid (name, len), 1);
    }
    s_long_name (name, 255);
    CHECK_INT (nws_channel_name_valid (name, 255), 1);
    s_long_name (name, 256);
    CHECK_INT (nws_channel_name_valid (name, 256), 0);
    CHECK_INT (nws_channel_name_valid (name, SIZE_MAX), 0);
}

static void
scope_str (void)
{
    CHECK_STR (nws_channel_scope_str (NWS_SCOPE_LOCAL), "local");
    CHECK_STR (nws_channel_scope_str (NWS_SCOPE_BROADCAST), "broadcast");
}

typedef struct {
    const char *path;               /* request path */
    int rc;                         /* expected return */
    nws_scope_t scope;              /* if rc == 0 */
    const char *name;               /* if rc == 0 */
} path_case_t;

#define REJECT(path, rc) { path, rc, NWS_SCOPE_LOCAL, NULL }

static void
parse_path_table (void)
{
    static const path_case_t cases [] = {
        { "/local/x", 0, NWS_SCOPE_LOCAL, "x" },
        { "/broadcast/x", 0, NWS_SCOPE_BROADCAST, "x" },
        { "/local/chat.room_1-A", 0, NWS_SCOPE_LOCAL, "chat.room_1-A" },
        { "/broadcast/news", 0, NWS_SCOPE_BROADCAST, "news" },
        //  under a scope, but no valid name
        REJECT ("/local/", -EINVAL),
        REJECT ("/broadcast/", -EINVAL),
        REJECT ("/local/a/b", -EINVAL),
        REJECT ("/local/x/", -EINVAL),
        REJECT ("/local//x", -EINVAL),
        REJECT ("/local/x?y", -EINVAL),
        REJECT ("/local/?x", -EINVAL),
        REJECT ("/local/x#y", -EINVAL),
        REJECT ("/local/x%2Fy", -EINVAL),
        REJECT ("/local/a b", -EINVAL),
        REJECT ("/broadcast/caf\xc3\xa9", -EINVAL),
        //  '..' never climbs out of a scope: a '/' after the scope is invalid
        REJECT ("/local/../broadcast/x", -EINVAL),
        REJECT ("/broadcast/../local/x", -EINVAL),
        REJECT ("/local/x/..", -EINVAL),
        REJECT ("/local/x/../y", -EINVAL),
        //  not under /local/ or /broadcast/
        REJECT ("/local", -ENOENT),
        REJECT ("/broadcast", -ENOENT),
        REJECT ("/locals/x", -ENOENT),
        REJECT ("/broadcasts/x", -ENOENT),
        REJECT ("/localx", -ENOENT),
        REJECT ("//local/x", -ENOENT),
        REJECT ("/../local/x", -ENOENT),
        REJECT ("/./local/x", -ENOENT),
        REJECT ("/LOCAL/x", -ENOENT),
        REJECT ("/Broadcast/x", -ENOENT),
        REJECT ("local/x", -ENOENT),
        REJECT ("/", -ENOENT),
        REJECT ("", -ENOENT),
        REJECT ("/x/local/y", -ENOENT),
        REJECT ("/loc", -ENOENT),
        REJECT ("/local?x", -ENOENT),
        { NULL, 0, NWS_SCOPE_LOCAL, NULL }
    };
    for (const path_case_t *c = cases; c->path; c++) {
        nws_channel_t channel;
        memset (&channel, 0x5a, sizeof channel);
        int rc = nws_channel_parse_path (c->path, &channel);
        if (rc != c->rc) {
            fprintf (stderr, "parse_path (\"%s\") = %d, expected %d\n", c->path, rc, c->rc);
            CHECK (0);
        }
        if (rc == 0) {
            CHECK_INT (channel.scope, c->scope);
            CHECK_STR (channel.name, c->name);
            CHECK_INT (channel.name_len, strlen (c->name));
        }
    }
}

static void
parse_path_null (void)
{
    nws_channel_t channel;
    CHECK_INT (nws_channel_parse_path (NULL, &channel), -ENOENT);
}

//  "." and ".." match the name grammar, so they are channels like any
//  other here. (A browser normalises "/local/.." away before sending it,
//  so such channels are reachable only by non-browser clients.)
static void
parse_path_dot_names (void)
{
    nws_channel_t channel;
    CHECK_INT (nws_channel_parse_path ("/local/..", &channel), 0);
    CHECK_STR (channel.name, "..");
    CHECK_INT (nws_channel_parse_path ("/broadcast/.", &channel), 0);
    CHECK_STR (channel.name, ".");
    CHECK_INT (channel.scope, NWS_SCOPE_BROADCAST);
}

static void
parse_path_length (void)
{
    char path [32 + NWS_NAME_MAX];
    nws_channel_t channel;
    strcpy (path, "/broadcast/");
    s_long_name (path + 11, 255);
    CHECK_INT (nws_channel_parse_path (path, &channel), 0);
    CHECK_INT (channel.name_len, 255);
    CHECK_INT (strlen (channel.name), 255);
    CHECK_MEM (channel.name, path + 11, 256);
    s_long_name (path + 11, 256);
    CHECK_INT (nws_channel_parse_path (path, &channel), -EINVAL);
}

//  Builds a channel from parts, the way parse_path would.
static nws_channel_t
s_channel (nws_scope_t scope, const char *name)
{
    nws_channel_t channel;
    memset (&channel, 0, sizeof channel);
    channel.scope = scope;
    channel.name_len = strlen (name);
    memcpy (channel.name, name, channel.name_len + 1);
    return channel;
}

//  topic() then from_topic() gives back the channel, for both scopes and
//  the longest name; the topic is exactly "<scope>/<name>/".
static void
topic_round_trip (void)
{
    char long_name [NWS_NAME_MAX + 1];
    s_long_name (long_name, NWS_NAME_MAX);
    const char *names [] = { "x", "chat", "a.B_9-z", "..", long_name };
    const nws_scope_t scopes [] = { NWS_SCOPE_LOCAL, NWS_SCOPE_BROADCAST };
    for (size_t s = 0; s < 2; s++)
        for (size_t n = 0; n < sizeof names / sizeof names [0]; n++) {
            nws_channel_t in = s_channel (scopes [s], names [n]), out;
            char expected [NWS_TOPIC_MAX + 1];
            int elen = snprintf (expected, sizeof expected, "%s/%s/",
                                 s ? "broadcast" : "local", names [n]);
            CHECK (elen > 0 && elen <= NWS_TOPIC_MAX);

            char topic [NWS_TOPIC_MAX + 8];
            memset (topic, '#', sizeof topic);
            int len = nws_channel_topic (&in, topic, NWS_TOPIC_MAX);
            CHECK_INT (len, elen);
            CHECK_MEM (topic, expected, (size_t) len);
            CHECK_INT (topic [len], '#');       //  not NUL-terminated, nothing past it

            memset (&out, 0x5a, sizeof out);
            CHECK_INT (nws_channel_from_topic (topic, (size_t) len, &out), 0);
            CHECK_INT (out.scope, in.scope);
            CHECK_INT (out.name_len, in.name_len);
            CHECK_STR (out.name, in.name);
        }
}

//  The longest topic is exactly NWS_TOPIC_MAX bytes, and that is enough.
static void
topic_max (void)
{
    char name [NWS_NAME_MAX + 1], topic [NWS_TOPIC_MAX];
    s_long_name (name, NWS_NAME_MAX);
    nws_channel_t channel = s_channel (NWS_SCOPE_BROADCAST, name), out;
    int len = nws_channel_topic (&channel, topic, sizeof topic);
    CHECK_INT (len, NWS_TOPIC_MAX);
    CHECK_MEM (topic, "broadcast/", 10);
    CHECK_MEM (topic + 10, name, NWS_NAME_MAX);
    CHECK_INT (topic [NWS_TOPIC_MAX - 1], '/');

    //  from a heap copy of exactly len bytes, so ASan sees any over-read
    char *copy = malloc ((size_t) len);
    CHECK (copy);
    memcpy (copy, topic, (size_t) len);
    CHECK_INT (nws_channel_from_topic (copy, (size_t) len, &out), 0);
    CHECK_INT (out.name_len, NWS_NAME_MAX);
    CHECK_STR (out.name, name);
    free (copy);
}

static void
topic_capacity (void)
{
    nws_channel_t channel = s_channel (NWS_SCOPE_LOCAL, "chat");
    char buf [16];
    memset (buf, '#', sizeof buf);
    CHECK_INT (nws_channel_topic (&channel, buf, 11), 11);    //  "local/chat/"
    CHECK_MEM (buf, "local/chat/", 11);
    memset (buf, '#', sizeof buf);
    CHECK_INT (nws_channel_topic (&channel, buf, 10), -ENOSPC);
    CHECK_INT (nws_channel_topic (&channel, buf, 1), -ENOSPC);
    CHECK_INT (nws_channel_topic (&channel, buf, 0), -ENOSPC);
    for (size_t i = 0; i < sizeof buf; i++)
        CHECK_INT (buf [i], '#');       //  nothing written when it does not fit
}

static int
s_is_prefix (const char *a, int alen, const char *b, int blen)
{
    return alen <= blen && memcmp (a, b, (size_t) alen) == 0;
}

//  A subscription to one channel's topic selects that channel only: the
//  topic of "chat" is not a prefix of the topic of "chatroom", nor the
//  reverse, though "chat" is a prefix of "chatroom".
static void
topic_prefix_property (void)
{
    nws_channel_t chat = s_channel (NWS_SCOPE_LOCAL, "chat");
    nws_channel_t room = s_channel (NWS_SCOPE_LOCAL, "chatroom");
    char a [NWS_TOPIC_MAX], b [NWS_TOPIC_MAX];
    int alen = nws_channel_topic (&chat, a, sizeof a);
    int blen = nws_channel_topic (&room, b, sizeof b);
    CHECK_INT (alen, 11);
    CHECK_INT (blen, 15);
    CHECK_MEM (a, "local/chat/", 11);
    CHECK_MEM (b, "local/chatroom/", 15);
    CHECK (!s_is_prefix (a, alen, b, blen));
    CHECK (!s_is_prefix (b, blen, a, alen));

    //  The same for every name extended by one more valid byte, in both
    //  scopes; and "<scope>/" is a prefix of exactly its own scope's topics.
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 256; c++) {
            if (!s_expected_ok (c))
                continue;
            char longer [8] = "chat";
            longer [4] = (char) c;
            nws_channel_t x = s_channel ((nws_scope_t) s, "chat");
            nws_channel_t y = s_channel ((nws_scope_t) s, longer);
            alen = nws_channel_topic (&x, a, sizeof a);
            blen = nws_channel_topic (&y, b, sizeof b);
            CHECK (!s_is_prefix (a, alen, b, blen));
            CHECK (!s_is_prefix (b, blen, a, alen));
            CHECK (s_is_prefix (s ? "broadcast/" : "local/", s ? 10 : 6, b, blen));
            CHECK (!s_is_prefix (s ? "local/" : "broadcast/", s ? 6 : 10, b, blen));
        }
}

typedef struct {
    const char *topic;              /* bytes */
    size_t len;                     /* how many of them */
} topic_case_t;

#define T(s) { s, sizeof s - 1 }

static void
from_topic_rejects (void)
{
    char long_topic [NWS_TOPIC_MAX + 2];
    memcpy (long_topic, "local/", 6);
    s_long_name (long_topic + 6, NWS_NAME_MAX + 1);
    long_topic [6 + NWS_NAME_MAX + 1] = '/';

    const topic_case_t cases [] = {
        //  missing the trailing slash
        T ("local/chat"), T ("broadcast/chat"), T ("local"),
        //  missing the slash after the scope
        T ("localchat/"), T ("broadcastchat/"),
        //  unknown scope
        T ("global/chat/"), T ("Local/chat/"), T ("BROADCAST/chat/"),
        T ("locals/chat/"), T ("loca/chat/"), T ("/local/chat/"), T ("x/chat/"),
        //  empty name
        T ("local/"), T ("broadcast/"), T ("local//"), T ("broadcast//"),
        //  trailing junk, or a bad name
        T ("local/chat/x"), T ("local/chat/x/"), T ("local/chat//"),
        T ("local/chat/\n"), T ("local/ch at/"), T ("local/ch\0t/"),
        T ("local/chat\0/"), T ("local/caf\xc3\xa9/"), T ("local/a?b/"),
        //  degenerate
        T (""), T ("/"), T ("//"),
        { long_topic, 6 + NWS_NAME_MAX + 2 },
        { NULL, 0 }
    };
    for (const topic_case_t *c = cases; c->topic; c++) {
        nws_channel_t channel;
        //  a heap copy of exactly len bytes (ASan catches an over-read)
        char *copy = malloc (c->len ? c->len : 1);
        CHECK (copy);
        memcpy (copy, c->topic, c->len);
        int rc = nws_channel_from_topic (copy, c->len, &channel);
        free (copy);
        if (rc != -EINVAL) {
            fprintf (stderr, "from_topic (\"%.*s\", %zu) = %d, expected -EINVAL\n",
                     (int) c->len, c->topic, c->len, rc);
            CHECK (0);
        }
    }
    nws_channel_t channel;
    CHECK_INT (nws_channel_from_topic (NULL, 0, &channel), -EINVAL);
    CHECK_INT (nws_channel_from_topic (NULL, 11, &channel), -EINVAL);
}

//  len, not a NUL, ends the topic: a longer buffer is read only up to len.
static void
from_topic_uses_len (void)
{
    nws_channel_t channel;
    CHECK_INT (nws_channel_from_topic ("local/chat/room/", 11, &channel), 0);
    CHECK_STR (channel.name, "chat");
    CHECK_INT (channel.scope, NWS_SCOPE_LOCAL);
    CHECK_INT (nws_channel_from_topic ("broadcast/x/yz", 12, &channel), 0);
    CHECK_STR (channel.name, "x");
    CHECK_INT (channel.scope, NWS_SCOPE_BROADCAST);
    CHECK_INT (nws_channel_from_topic ("local/chat/", 10, &channel), -EINVAL);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (name_every_byte),
        NWS_UNIT_CASE (name_byte_classes),
        NWS_UNIT_CASE (name_length),
        NWS_UNIT_CASE (scope_str),
        NWS_UNIT_CASE (parse_path_table),
        NWS_UNIT_CASE (parse_path_null),
        NWS_UNIT_CASE (parse_path_dot_names),
        NWS_UNIT_CASE (parse_path_length),
        NWS_UNIT_CASE (topic_round_trip),
        NWS_UNIT_CASE (topic_max),
        NWS_UNIT_CASE (topic_capacity),
        NWS_UNIT_CASE (topic_prefix_property),
        NWS_UNIT_CASE (from_topic_rejects),
        NWS_UNIT_CASE (from_topic_uses_len),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
