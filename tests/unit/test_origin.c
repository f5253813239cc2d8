/*  Unit tests of nws_origin: Origin header values, --allow-origin rules
    (every form, bad ones, overlapping channels) and the bounded tally.  */
#include "nws_origin.h"
#include "nws_unit.h"

//  The header value in, the origin nws_origin_parse writes (NULL: refused).
static const struct {
    const char *in;
    const char *out;
} s_values [] = {
    { "https://app.example", "https://app.example" },
    { "http://localhost:3000", "http://localhost:3000" },
    { "null", "null" },
    { "NULL", "null" },
    { "HTTPS://App.EXAMPLE", "https://app.example" },
    { "  https://app.example\t ", "https://app.example" },
    { "https://app.example:443", "https://app.example" },
    { "http://app.example:80", "http://app.example" },
    { "https://app.example:80", "https://app.example:80" },
    { "http://[::1]:8080", "http://[::1]:8080" },
    { "http://[FE80::1]", "http://[fe80::1]" },
    { "chrome-extension://abcdefghijklmnop", "chrome-extension://abcdefghijklmnop" },
    { "http://127.0.0.1:9009", "http://127.0.0.1:9009" },
    { "", NULL },
    { "   ", NULL },
    { "https://", NULL },
    { "app.example", NULL },
    { "https://app.example/", NULL },
    { "https://app.example/path", NULL },
    { "https://user@app.example", NULL },
    { "https://app.example:", NULL },
    { "https://app.example:0", NULL },
    { "https://app.example:65536", NULL },
    { "https://app.example:123456", NULL },
    { "https://app .example", NULL },
    { "https ://app.example", NULL },
    { "https://app.example, https://b.example", NULL },
    { "https://*.example", NULL },
    { "http://localhost:*", NULL },
    { "*", NULL },
    { "https://caf\xc3\xa9.example", NULL },
    { "https://a\x01.example", NULL },
    { "http://[::1", NULL },
    { "http://[]", NULL },
    { "1http://a.example", NULL },
    { "nul", NULL },
};

static void
parse_values (void)
{
    char out [NWS_ORIGIN_MAX + 1];
    for (size_t i = 0; i < sizeof s_values / sizeof s_values [0]; i++) {
        int rc = nws_origin_parse (s_values [i].in, strlen (s_values [i].in), out, sizeof out);
        if (s_values [i].out ? rc != 0 || strcmp (out, s_values [i].out) != 0
                             : rc != -EINVAL || out [0] != '\0') {
            fprintf (stderr, "'%s': rc %d, out '%s', expected %s\n", s_values [i].in, rc, out,
                     s_values [i].out ? s_values [i].out : "-EINVAL");
            CHECK (0);
        }
    }
}

//  len, not a NUL, ends the value; longer than NWS_ORIGIN_MAX is refused.
static void
parse_length (void)
{
    char out [NWS_ORIGIN_MAX + 1];
    CHECK_INT (nws_origin_parse ("https://a.example/xyz", 17, out, sizeof out), 0);
    CHECK_STR (out, "https://a.example");
    char long_value [NWS_ORIGIN_MAX + 2];
    memcpy (long_value, "http://", 7);
    memset (long_value + 7, 'a', sizeof long_value - 7);
    //  A host over 253 bytes, though the value fits.
    CHECK_INT (nws_origin_parse (long_value, 7 + 254, out, sizeof out), -EINVAL);
    CHECK_INT (nws_origin_parse (long_value, 7 + 253, out, sizeof out), 0);
    CHECK_INT (nws_origin_parse (long_value, NWS_ORIGIN_MAX + 1, out, sizeof out), -EINVAL);
    //  A buffer too small for any origin is refused, not overrun.
    CHECK_INT (nws_origin_parse ("null", 4, out, NWS_ORIGIN_MAX), -EINVAL);
}

static nws_channel_t
s_channel (nws_scope_t scope, const char *name)
{
    nws_channel_t channel = { .scope = scope, .name_len = strlen (name) };
    strcpy (channel.name, name);
    return channel;
}

//  allow() with an origin as a header would carry it.
static int
s_allow (const nws_origin_rules_t *rules, nws_scope_t scope, const char *name, const char *value)
{
    nws_channel_t channel = s_channel (scope, name);
    char origin [NWS_ORIGIN_MAX + 1];
    int valid = nws_origin_parse (value, strlen (value), origin, sizeof origin) == 0;
    return nws_origin_rules_allow (rules, &channel, valid ? origin : NULL);
}

static nws_origin_rules_t *
s_rules (const char *const *texts)
{
    nws_origin_rules_t *rules = nws_origin_rules_new ();
    CHECK (rules);
    char err [200];
    for (; *texts; texts++)
        if (nws_origin_rules_add (rules, *texts, err, sizeof err)) {
            fprintf (stderr, "rule '%s': %s\n", *texts, err);
            CHECK (0);
        }
    return rules;
}

#define L NWS_SCOPE_LOCAL
#define B NWS_SCOPE_BROADCAST

static void
no_rules_allow_all (void)
{
    nws_origin_rules_t *rules = nws_origin_rules_new ();
    CHECK_INT (nws_origin_rules_size (rules), 0);
    CHECK_INT (s_allow (rules, L, "x", "https://evil.example"), 1);
    CHECK_INT (s_allow (rules, B, "x", "garbage"), 1);
    CHECK_INT (s_allow (NULL, L, "x", "null"), 1);
    nws_origin_rules_destroy (&rules);
    nws_origin_rules_destroy (&rules);
    CHECK (rules == NULL);
}

//  The issue's own example.
static void
done_when (void)
{
    nws_origin_rules_t *rules = s_rules ((const char *[]) { "local/home.*=https://app.example",
                                                            NULL });
    CHECK_INT (s_allow (rules, L, "home.lights", "https://evil.example"), 0);
    CHECK_INT (s_allow (rules, L, "home.lights", "https://app.example"), 1);
    CHECK_INT (s_allow (rules, L, "chat", "https://evil.example"), 1);
    CHECK_INT (s_allow (rules, B, "home.lights", "https://evil.example"), 1);
    nws_origin_rules_destroy (&rules);
}

static void
exact (void)
{
    nws_origin_rules_t *rules = s_rules ((const char *[]) { "https://app.example", NULL });
    CHECK_INT (nws_origin_rules_size (rules), 1);
    CHECK_INT (s_allow (rules, L, "a", "https://app.example"), 1);
    CHECK_INT (s_allow (rules, B, "a", "https://app.example"), 1);
    CHECK_INT (s_allow (rules, L, "a", "HTTPS://APP.example:443"), 1);
    CHECK_INT (s_allow (rules, L, "a", " https://app.example "), 1);
    CHECK_INT (s_allow (rules, L, "a", "http://app.example"), 0);
    CHECK_INT (s_allow (rules, L, "a", "https://app.example:8443"), 0);
    CHECK_INT (s_allow (rules, L, "a", "https://sub.app.example"), 0);
    CHECK_INT (s_allow (rules, L, "a", "https://app.example.evil"), 0);
    CHECK_INT (s_allow (rules, L, "a", "https://evilapp.example"), 0);
    CHECK_INT (s_allow (rules, L, "a", "null"), 0);
    CHECK_INT (s_allow (rules, L, "a", ""), 0);
    CHECK_INT (s_allow (rules, L, "a", "https://app.example/"), 0);
    nws_origin_rules_destroy (&rules);
    //  A rule's scheme and host are read without case, its default port dropped.
    rules = s_rules ((const char *[]) { "HTTPS://App.Example:443", NULL });
    CHECK_INT (s_allow (rules, L, "a", "https://app.example"), 1);
    nws_origin_rules_destroy (&rules);
}

static void
wildcard_host (void)
{
    nws_origin_rules_t *rules = s_rules ((const char *[]) { "https://*.example.com", NULL });
    CHECK_INT (s_allow (rules, L, "a", "https://app.example.com"), 1);
    CHECK_INT (s_allow (rules, L, "a", "https://a.b.example.com"), 1);
    CHECK_INT (s_allow (rules, L, "a", "https://example.com"), 0);
    CHECK_INT (s_allow (rules, L, "a", "https://evilexample.com"), 0);
    CHECK_INT (s_allow (rules, L, "a", "https://example.com.evil"), 0);
    CHECK_INT (s_allow (rules, L, "a", "http://app.example.com"), 0);
    CHECK_INT (s_allow (rules, L, "a", "https://app.example.com:8443"), 0);
    nws_origin_rules_destroy (&rules);
    rules = s_rules ((const char *[]) { "https://*", NULL });
    CHECK_INT (s_allow (rules, L, "a", "https://anything.example"), 1);
    CHECK_INT (s_allow (rules, L, "a", "https://[::1]"), 1);
    CHECK_INT (s_allow (rules, L, "a", "http://anything.example"), 0);
    CHECK_INT (s_allow (rules, L, "a", "https://anything.example:444"), 0);
    nws_origin_rules_destroy (&rules);
}

static void
wildcard_port (void)
{
    nws_origin_rules_t *rules = s_rules ((const char *[]) { "http://localhost:*", NULL });
    CHECK_INT (s_allow (rules, L, "a", "http://localhost:3000"), 1);
    CHECK_INT (s_allow (rules, L, "a", "http://localhost"), 1);
    CHECK_INT (s_allow (rules, L, "a", "http://localhost:80"), 1);
    CHECK_INT (s_allow (rules, L, "a", "https://localhost:3000"), 0);
    CHECK_INT (s_allow (rules, L, "a", "http://localhost.evil:3000"), 0);
    CHECK_INT (s_allow (rules, L, "a", "http://127.0.0.1:3000"), 0);
    nws_origin_rules_destroy (&rules);
    rules = s_rules ((const char *[]) { "http://*.test:*", NULL });
    CHECK_INT (s_allow (rules, L, "a", "http://a.test:1"), 1);
    CHECK_INT (s_allow (rules, L, "a", "http://test:1"), 0);
    nws_origin_rules_destroy (&rules);
}

static void
null_and_any (void)
{
    nws_origin_rules_t *rules = s_rules ((const char *[]) { "null", NULL });
    CHECK_INT (s_allow (rules, L, "a", "null"), 1);
    CHECK_INT (s_allow (rules, L, "a", "NULL"), 1);
    CHECK_INT (s_allow (rules, L, "a", "http://null"), 0);
    CHECK_INT (s_allow (rules, L, "a", ""), 0);
    CHECK_INT (s_allow (rules, L, "a", "garbage"), 0);
    nws_origin_rules_destroy (&rules);
    rules = s_rules ((const char *[]) { "local/open.*=*", "local/*=https://a.example", NULL });
    CHECK_INT (s_allow (rules, L, "open.x", "https://any.example"), 1);
    CHECK_INT (s_allow (rules, L, "open.x", "null"), 1);
    CHECK_INT (s_allow (rules, L, "open.x", "garbage"), 1);
    CHECK_INT (s_allow (rules, L, "closed", "https://any.example"), 0);
    CHECK_INT (s_allow (rules, L, "closed", "garbage"), 0);
    CHECK_INT (s_allow (rules, L, "closed", "https://a.example"), 1);
    nws_origin_rules_destroy (&rules);
}

//  Several rules whose channels overlap: any covering rule may let in.
static void
overlapping (void)
{
    nws_origin_rules_t *rules = s_rules ((const char *[]) {
        "local/home.*=https://app.example",
        "local/home.lights=https://lights.example, null",
        "*/shared?=https://a.example,https://b.example",
        "broadcast/*=http://localhost:*",
        NULL });
    CHECK_INT (nws_origin_rules_size (rules), 4);
    CHECK_INT (s_allow (rules, L, "home.lights", "https://app.example"), 1);
    CHECK_INT (s_allow (rules, L, "home.lights", "https://lights.example"), 1);
    CHECK_INT (s_allow (rules, L, "home.lights", "null"), 1);
    CHECK_INT (s_allow (rules, L, "home.door", "https://lights.example"), 0);
    CHECK_INT (s_allow (rules, L, "home.door", "null"), 0);
    CHECK_INT (s_allow (rules, L, "shared1", "https://b.example"), 1);
    CHECK_INT (s_allow (rules, B, "shared1", "https://a.example"), 1);
    CHECK_INT (s_allow (rules, B, "shared1", "http://localhost:5"), 1);
    CHECK_INT (s_allow (rules, L, "shared1", "http://localhost:5"), 0);
    //  Not covered by any rule: open.
    CHECK_INT (s_allow (rules, L, "shared12", "https://evil.example"), 1);
    CHECK_INT (s_allow (rules, L, "chat", "https://evil.example"), 1);
    CHECK_INT (s_allow (rules, L, "chat", "garbage"), 1);
    //  Names are case-sensitive, as channels are.
    CHECK_INT (s_allow (rules, L, "HOME.lights", "https://evil.example"), 1);
    nws_origin_rules_destroy (&rules);
}

//  Rules without CHANNELS, or with "*", cover every channel.
static void
every_channel (void)
{
    nws_origin_rules_t *rules = s_rules ((const char *[]) { "*=https://a.example",
                                                            "https://b.example", NULL });
    CHECK_INT (s_allow (rules, L, "x", "https://a.example"), 1);
    CHECK_INT (s_allow (rules, B, "y", "https://b.example"), 1);
    CHECK_INT (s_allow (rules, B, "y", "https://c.example"), 0);
    nws_origin_rules_destroy (&rules);
}

static void
bad_rules (void)
{
    static const char *const bad [] = {
        "app.example", "https://app.example/", "https://app.example:0", "https://app.example:x",
        "=https://a.example", "local=https://a.example", "home.*=https://a.example",
        "lokal/x=https://a.example", "local/=https://a.example", "local/a b=https://a.example",
        "local/a/b=https://a.example", "local/x=", "local/x=https://a.example,",
        "local/x=,https://a.example", "https://a.example,,https://b.example",
        "https://app*.example", "https://*app.example", "https://*.", "https://*.*.example",
        "https://a.example:*:1", "*://a.example", "local/x=https://a.example=b",
        "https://a.example/*", "nul", "null,", "https://[::1", "https://*.[::1]",
        "local/caf\xc3\xa9=https://a.example", "https://a.example\t",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        nws_origin_rules_t *rules = nws_origin_rules_new ();
        char err [200] = "";
        if (nws_origin_rules_add (rules, bad [i], err, sizeof err) != -EINVAL || !err [0]) {
            fprintf (stderr, "rule '%s' was accepted\n", bad [i]);
            CHECK (0);
        }
        CHECK_INT (nws_origin_rules_size (rules), 0);
        nws_origin_rules_destroy (&rules);
    }
    //  The message says what is wrong and, for an origin, which one.
    nws_origin_rules_t *rules = nws_origin_rules_new ();
    char err [200];
    CHECK_INT (nws_origin_rules_add (rules, "local/x=https://ok.example,app.example", err,
                                     sizeof err), -EINVAL);
    CHECK_HAS (err, "'app.example'");
    CHECK_HAS (err, "scheme://host");
    CHECK_INT (nws_origin_rules_add (rules, "home=https://a.example", err, sizeof err), -EINVAL);
    CHECK_HAS (err, "SCOPE/NAME");
    nws_origin_rules_destroy (&rules);
}

static void
tally (void)
{
    nws_origin_tally_t t = { 0 };
    int a1 = nws_origin_tally_add (&t, "https://a.example");
    int a2 = nws_origin_tally_add (&t, "https://a.example");
    int none = nws_origin_tally_add (&t, NULL);
    int bad = nws_origin_tally_add (&t, "");
    CHECK_INT (a1, a2);
    CHECK (a1 >= 1 && a1 <= NWS_ORIGIN_TALLY_MAX);
    CHECK_STR (t.names [a1 - 1], "https://a.example");
    CHECK_INT (t.counts [a1 - 1], 2);
    CHECK_INT (none, NWS_ORIGIN_SLOT_NONE);
    CHECK_INT (bad, NWS_ORIGIN_SLOT_UNLISTED);
    CHECK_INT (t.none, 1);
    CHECK_INT (t.unlisted, 1);
    //  Fill the list; the next origin is only counted.
    int slots [NWS_ORIGIN_TALLY_MAX];
    for (int i = 1; i < NWS_ORIGIN_TALLY_MAX; i++) {
        char name [40];
        snprintf (name, sizeof name, "https://%d.example", i);
        slots [i] = nws_origin_tally_add (&t, name);
        CHECK (slots [i] >= 1 && slots [i] <= NWS_ORIGIN_TALLY_MAX && slots [i] != a1);
    }
    CHECK_INT (nws_origin_tally_add (&t, "https://late.example"), NWS_ORIGIN_SLOT_UNLISTED);
    CHECK_INT (t.unlisted, 2);
    //  A listed origin that leaves frees its place for the next.
    nws_origin_tally_remove (&t, slots [3]);
    CHECK (t.names [slots [3] - 1] == NULL);
    CHECK_INT (nws_origin_tally_add (&t, "https://late.example"), slots [3]);
    nws_origin_tally_remove (&t, a1);
    CHECK_STR (t.names [a1 - 1], "https://a.example");
    nws_origin_tally_remove (&t, a2);
    CHECK (t.names [a1 - 1] == NULL);
    nws_origin_tally_remove (&t, none);
    nws_origin_tally_remove (&t, none);
    CHECK_INT (t.none, 0);
    nws_origin_tally_remove (&t, 0);
    nws_origin_tally_remove (&t, bad);
    CHECK_INT (t.unlisted, 1);
    nws_origin_tally_clear (&t);
    for (int i = 0; i < NWS_ORIGIN_TALLY_MAX; i++)
        CHECK (t.names [i] == NULL);
    CHECK_INT (t.unlisted, 0);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (parse_values),
        NWS_UNIT_CASE (parse_length),
        NWS_UNIT_CASE (no_rules_allow_all),
        NWS_UNIT_CASE (done_when),
        NWS_UNIT_CASE (exact),
        NWS_UNIT_CASE (wildcard_host),
        NWS_UNIT_CASE (wildcard_port),
        NWS_UNIT_CASE (null_and_any),
        NWS_UNIT_CASE (overlapping),
        NWS_UNIT_CASE (every_channel),
        NWS_UNIT_CASE (bad_rules),
        NWS_UNIT_CASE (tally),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
