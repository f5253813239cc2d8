/*  fuzz_origin - Origin header values (nws_origin_parse) and
    --allow-origin rules (nws_origin_rules_add, nws_origin_rules_allow).

    Input: any bytes, read as an Origin header value (len bytes) and as a
    rule (up to the first NUL, as argv hands it over). Properties, from
    nws_origin.h's words:

    - a value is accepted only if it fits NWS_ORIGIN_MAX, and what is
      written is "null" or scheme://host[:port] in lowercase, with only
      bytes that need no escaping in JSON (it goes into /status as it is);
      parsing it again gives it back (one spelling);
    - an accepted origin, written as a rule over local/x, lets that origin
      into local/x and not an origin it cannot match, and leaves a channel
      the rule does not cover open; a rule "*" lets every origin in;
    - a rule is accepted, or refused with -EINVAL and a message, and a
      refused rule is not added; an accepted one never crashes allow().
*/
#include <errno.h>

#include "nws_fuzz.h"
#include "nws_origin.h"

static nws_channel_t
s_channel (nws_scope_t scope, const char *name)
{
    nws_channel_t channel = { .scope = scope, .name_len = strlen (name) };
    strcpy (channel.name, name);
    return channel;
}

//  The properties of an accepted origin, out.
static void
s_check_origin (const char *out)
{
    size_t len = strlen (out);
    FUZZ_CHECK (len >= 4 && len <= NWS_ORIGIN_MAX);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK (out [i] > 0x20 && out [i] < 0x7f && out [i] != '"' && out [i] != '\\'
                    && !(out [i] >= 'A' && out [i] <= 'Z'));
    FUZZ_CHECK (strcmp (out, "null") == 0 || strstr (out, "://"));
    char *again = malloc (NWS_ORIGIN_MAX + 1);
    FUZZ_CHECK (again && nws_origin_parse (out, len, again, NWS_ORIGIN_MAX + 1) == 0);
    FUZZ_CHECK (strcmp (again, out) == 0);
    free (again);

    nws_channel_t x = s_channel (NWS_SCOPE_LOCAL, "x");
    nws_channel_t y = s_channel (NWS_SCOPE_BROADCAST, "x");
    char rule [NWS_ORIGIN_MAX + 16], err [200];
    snprintf (rule, sizeof rule, "local/x=%s", out);
    nws_origin_rules_t *rules = nws_origin_rules_new ();
    FUZZ_CHECK (rules && nws_origin_rules_add (rules, rule, err, sizeof err) == 0);
    FUZZ_CHECK (nws_origin_rules_allow (rules, &x, out) == 1);
    FUZZ_CHECK (nws_origin_rules_allow (rules, &x, NULL) == 0);
    if (strcmp (out, "gopher://never.invalid") != 0)
        FUZZ_CHECK (nws_origin_rules_allow (rules, &x, "gopher://never.invalid") == 0);
    FUZZ_CHECK (nws_origin_rules_allow (rules, &y, "gopher://never.invalid") == 1);
    nws_origin_rules_destroy (&rules);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *out = malloc (NWS_ORIGIN_MAX + 1);
    FUZZ_CHECK (out);
    int rc = nws_origin_parse ((const char *) data, size, out, NWS_ORIGIN_MAX + 1);
    FUZZ_CHECK (rc == 0 || (rc == -EINVAL && out [0] == '\0'));
    if (rc == 0)
        s_check_origin (out);

    char *text = fuzz_strdup (data, size);
    char err [200] = "";
    nws_origin_rules_t *rules = nws_origin_rules_new ();
    FUZZ_CHECK (rules);
    rc = nws_origin_rules_add (rules, text, err, sizeof err);
    FUZZ_CHECK (rc == 0 || (rc == -EINVAL && err [0]));
    FUZZ_CHECK (nws_origin_rules_size (rules) == (rc == 0 ? 1u : 0u));
    nws_channel_t channels [] = { s_channel (NWS_SCOPE_LOCAL, "x"),
                                  s_channel (NWS_SCOPE_BROADCAST, "home.lights") };
    for (size_t i = 0; i < 2; i++) {
        nws_origin_rules_allow (rules, &channels [i], out [0] ? out : NULL);
        nws_origin_rules_allow (rules, &channels [i], "null");
    }
    nws_origin_rules_t *open = nws_origin_rules_new ();
    FUZZ_CHECK (open && nws_origin_rules_add (open, "*", err, sizeof err) == 0);
    FUZZ_CHECK (nws_origin_rules_allow (open, &channels [0], out [0] ? out : NULL) == 1);
    nws_origin_rules_destroy (&open);
    nws_origin_rules_destroy (&rules);
    free (text);
    free (out);
    return 0;
}
