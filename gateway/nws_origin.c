/*  nws_origin - Origin headers, --allow-origin rules and origin tallies.  */
#include "nws_origin.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SCHEME_MAX 32             /* longest scheme we read */
#define S_HOST_MAX 253              /* a DNS name's limit */
#define S_PORT_ANY (-1)             /* a pattern's ":*" */

//  An origin, or a pattern of them, in parts; lowercase.
typedef struct {
    char scheme [S_SCHEME_MAX + 1]; /* e.g. "https" */
    char host [S_HOST_MAX + 1];     /* exact; for a pattern, after any "*." */
    int subdomains;                 /* pattern "*.host": any name under host */
    int any_host;                   /* pattern "*" as the host */
    long port;                      /* 0 = none (or the default), S_PORT_ANY */
} s_origin_t;

//  One entry of a rule's ORIGINS.
typedef struct {
    int any;                        /* "*" */
    int null;                       /* "null" */
    s_origin_t origin;              /* else this */
} s_pattern_t;

typedef struct {
    int every_channel;              /* CHANNELS "*" */
    int scope;                      /* NWS_SCOPE_*, or -1 for "*" */
    char name [NWS_NAME_MAX + 1];   /* glob over names */
    s_pattern_t *patterns;          /* ORIGINS */
    size_t pattern_count;           /* entries */
} s_rule_t;

struct nws_origin_rules_t {
    s_rule_t *rules;                /* in the order given */
    size_t count;                   /* entries */
};

static int
s_lower (int c)
{
    return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

static int
s_is_alpha (int c)
{
    c = s_lower (c);
    return c >= 'a' && c <= 'z';
}

static int
s_is_digit (int c)
{
    return c >= '0' && c <= '9';
}

//  RFC 3986's unreserved characters: what a host name holds (browsers
//  send international names as punycode).
static int
s_is_host_char (int c)
{
    return s_is_alpha (c) || s_is_digit (c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int
s_is_ipv6_char (int c)
{
    c = s_lower (c);
    return s_is_digit (c) || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
}

static long
s_default_port (const char *scheme)
{
    if (strcmp (scheme, "http") == 0 || strcmp (scheme, "ws") == 0)
        return 80;
    if (strcmp (scheme, "https") == 0 || strcmp (scheme, "wss") == 0)
        return 443;
    return 0;
}

//  Parses scheme://host[:port] of len bytes into *o; with wild, a pattern
//  ("*" or "*.name" as the host, "*" as the port). Returns 0 or -EINVAL
//  with a static reason in *why.
static int
s_parse (const char *s, size_t len, int wild, s_origin_t *o, const char **why)
{
    memset (o, 0, sizeof *o);
    size_t i = 0;
    while (i < len && i < S_SCHEME_MAX && (s_is_alpha (s [i])
           || (i > 0 && (s_is_digit (s [i]) || s [i] == '+' || s [i] == '-' || s [i] == '.')))) {
        o->scheme [i] = (char) s_lower (s [i]);
        i++;
    }
    if (i == 0 || len - i < 3 || memcmp (s + i, "://", 3) != 0) {
        *why = "an origin is scheme://host[:port], e.g. https://app.example.com";
        return -EINVAL;
    }
    i += 3;
    size_t start = i;
    if (wild && i < len && s [i] == '*') {
        if (i + 1 == len || s [i + 1] == ':') {
            o->any_host = 1;
            i++;
        }
        else
        if (s [i + 1] == '.') {
            o->subdomains = 1;
            i += 2;
            start = i;
        }
    }
    if (!o->any_host) {
        if (i < len && s [i] == '[' && !o->subdomains) {
            i++;
            while (i < len && s_is_ipv6_char (s [i]))
                i++;
            if (i >= len || s [i] != ']' || i - start < 3) {
                *why = "a bad IPv6 address: write it as [::1]";
                return -EINVAL;
            }
            i++;
        }
        else
            while (i < len && s_is_host_char (s [i]))
                i++;
        if (i == start || i - start > S_HOST_MAX || (o->subdomains && s [start] == '.')) {
            *why = "no host, or a bad one (a wildcard host is * or *.name)";
            return -EINVAL;
        }
        for (size_t k = start; k < i; k++)
            o->host [k - start] = (char) s_lower (s [k]);
    }
    if (i < len && s [i] == ':') {
        i++;
        if (wild && i + 1 == len && s [i] == '*') {
            o->port = S_PORT_ANY;
            i++;
        }
        else {
            size_t digits = 0;
            while (i < len && s_is_digit (s [i]) && digits < 5) {
                o->port = o->port * 10 + (s [i++] - '0');
                digits++;
            }
            if (digits == 0 || o->port < 1 || o->port > 65535) {
                *why = "a port is 1 to 65535 (or * in a rule)";
                return -EINVAL;
            }
            if (o->port == s_default_port (o->scheme))
                o->port = 0;
        }
    }
    if (i != len) {
        *why = "a bad character, or something after the port (an origin has no path)";
        return -EINVAL;
    }
    return 0;
}

int
nws_origin_parse (const char *value, size_t len, char *out, size_t cap)
{
    if (cap)
        out [0] = '\0';
    while (len && (value [0] == ' ' || value [0] == '\t')) {
        value++;
        len--;
    }
    while (len && (value [len - 1] == ' ' || value [len - 1] == '\t'))
        len--;
    if (len == 0 || len > NWS_ORIGIN_MAX || cap <= NWS_ORIGIN_MAX)
        return -EINVAL;
    if (len == 4 && strncasecmp (value, "null", 4) == 0) {
        strcpy (out, "null");
        return 0;
    }
    s_origin_t o;
    const char *why;
    if (s_parse (value, len, 0, &o, &why))
        return -EINVAL;
    if (o.port)
        snprintf (out, cap, "%s://%s:%ld", o.scheme, o.host, o.port);
    else
        snprintf (out, cap, "%s://%s", o.scheme, o.host);
    return 0;
}

nws_origin_rules_t *
nws_origin_rules_new (void)
{
    return calloc (1, sizeof (nws_origin_rules_t));
}

void
nws_origin_rules_destroy (nws_origin_rules_t **self_p)
{
    nws_origin_rules_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        free (self->rules [i].patterns);
    free (self->rules);
    free (self);
    *self_p = NULL;
}

//  CHANNELS of len bytes into rule. Returns 0 or -EINVAL with *why.
static int
s_parse_channels (const char *s, size_t len, s_rule_t *rule, const char **why)
{
    if (len == 1 && s [0] == '*') {
        rule->every_channel = 1;
        return 0;
    }
    const char *slash = memchr (s, '/', len);
    size_t scope_len = slash ? (size_t) (slash - s) : 0;
    if (slash && scope_len == 5 && memcmp (s, "local", 5) == 0)
        rule->scope = NWS_SCOPE_LOCAL;
    else
    if (slash && scope_len == 9 && memcmp (s, "broadcast", 9) == 0)
        rule->scope = NWS_SCOPE_BROADCAST;
    else
    if (slash && scope_len == 1 && s [0] == '*')
        rule->scope = -1;
    else {
        *why = "CHANNELS is * or SCOPE/NAME (SCOPE local, broadcast or *), e.g. local/home.*";
        return -EINVAL;
    }
    size_t name_len = len - scope_len - 1;
    if (name_len == 0 || name_len > NWS_NAME_MAX) {
        *why = "the NAME of CHANNELS is 1 to 255 bytes";
        return -EINVAL;
    }
    for (size_t i = 0; i < name_len; i++) {
        char c = slash [1 + i];
        if (c != '*' && c != '?' && !nws_channel_name_valid (&c, 1)) {
            *why = "the NAME of CHANNELS is a glob of A-Z a-z 0-9 . _ - with * and ?";
            return -EINVAL;
        }
    }
    memcpy (rule->name, slash + 1, name_len);
    rule->name [name_len] = '\0';
    return 0;
}

//  One entry of ORIGINS, of len bytes. Returns 0 or -EINVAL with *why.
static int
s_parse_pattern (const char *s, size_t len, s_pattern_t *pattern, const char **why)
{
    memset (pattern, 0, sizeof *pattern);
    if (len == 1 && s [0] == '*')
        pattern->any = 1;
    else
    if (len == 4 && strncasecmp (s, "null", 4) == 0)
        pattern->null = 1;
    else
    if (len > NWS_ORIGIN_MAX) {
        *why = "an origin that long is never sent";
        return -EINVAL;
    }
    else
        return s_parse (s, len, 1, &pattern->origin, why);
    return 0;
}

int
nws_origin_rules_add (nws_origin_rules_t *self, const char *text, char *err, size_t errlen)
{
    s_rule_t rule = { 0 };
    const char *why = NULL;
    const char *origins = text;
    const char *equals = strchr (text, '=');
    if (equals) {
        if (s_parse_channels (text, (size_t) (equals - text), &rule, &why))
            goto invalid;
        origins = equals + 1;
    }
    else
        rule.every_channel = 1;
    //  Entries between commas, spaces around them dropped.
    for (const char *p = origins; ; ) {
        while (*p == ' ')
            p++;
        const char *end = strchr (p, ',');
        if (!end)
            end = p + strlen (p);
        const char *last = end;
        while (last > p && last [-1] == ' ')
            last--;
        if (last == p) {
            why = "an empty origin: ORIGINS is one or more origins separated by commas";
            goto invalid;
        }
        s_pattern_t *grown = realloc (rule.patterns, (rule.pattern_count + 1) * sizeof *grown);
        if (!grown) {
            free (rule.patterns);
            return -ENOMEM;
        }
        rule.patterns = grown;
        if (s_parse_pattern (p, (size_t) (last - p), &rule.patterns [rule.pattern_count], &why)) {
            snprintf (err, errlen, "'%.*s': %s", (int) (last - p < 100 ? last - p : 100), p, why);
            free (rule.patterns);
            return -EINVAL;
        }
        rule.pattern_count++;
        if (!*end)
            break;
        p = end + 1;
    }
    s_rule_t *grown = realloc (self->rules, (self->count + 1) * sizeof *grown);
    if (!grown) {
        free (rule.patterns);
        return -ENOMEM;
    }
    self->rules = grown;
    self->rules [self->count++] = rule;
    return 0;

invalid:
    free (rule.patterns);
    snprintf (err, errlen, "%s", why);
    return -EINVAL;
}

size_t
nws_origin_rules_size (const nws_origin_rules_t *self)
{
    return self ? self->count : 0;
}

static int
s_covers (const s_rule_t *rule, const nws_channel_t *channel)
{
    if (rule->every_channel)
        return 1;
    if (rule->scope >= 0 && rule->scope != (int) channel->scope)
        return 0;
    return fnmatch (rule->name, channel->name, 0) == 0;
}

//  origin is as nws_origin_parse wrote it (NULL: malformed), o its parts.
static int
s_matches (const s_pattern_t *pattern, const char *origin, const s_origin_t *o)
{
    if (pattern->any)
        return 1;
    if (!origin)
        return 0;
    int is_null = strcmp (origin, "null") == 0;
    if (pattern->null || is_null)
        return pattern->null && is_null;
    const s_origin_t *p = &pattern->origin;
    if (strcmp (p->scheme, o->scheme) != 0
    ||  (p->port != S_PORT_ANY && p->port != o->port))
        return 0;
    if (p->any_host)
        return 1;
    if (p->subdomains) {
        size_t host_len = strlen (o->host), suffix_len = strlen (p->host);
        return host_len > suffix_len + 1 && o->host [host_len - suffix_len - 1] == '.'
            && strcmp (o->host + host_len - suffix_len, p->host) == 0;
    }
    return strcmp (p->host, o->host) == 0;
}

int
nws_origin_rules_allow (const nws_origin_rules_t *self, const nws_channel_t *channel,
                        const char *origin)
{
    if (!self || self->count == 0)
        return 1;
    s_origin_t o = { 0 };
    const char *why;
    if (origin && strcmp (origin, "null") != 0 && s_parse (origin, strlen (origin), 0, &o, &why))
        origin = NULL;
    int covered = 0;
    for (size_t r = 0; r < self->count; r++) {
        const s_rule_t *rule = &self->rules [r];
        if (!s_covers (rule, channel))
            continue;
        covered = 1;
        for (size_t i = 0; i < rule->pattern_count; i++)
            if (s_matches (&rule->patterns [i], origin, &o))
                return 1;
    }
    return !covered;
}

int
nws_origin_tally_add (nws_origin_tally_t *self, const char *origin)
{
    if (!origin) {
        self->none++;
        return NWS_ORIGIN_SLOT_NONE;
    }
    int free_slot = -1;
    for (int i = 0; *origin && i < NWS_ORIGIN_TALLY_MAX; i++) {
        if (self->names [i] && strcmp (self->names [i], origin) == 0) {
            self->counts [i]++;
            return i + 1;
        }
        if (!self->names [i] && free_slot < 0)
            free_slot = i;
    }
    if (*origin && free_slot >= 0 && (self->names [free_slot] = strdup (origin))) {
        self->counts [free_slot] = 1;
        return free_slot + 1;
    }
    self->unlisted++;
    return NWS_ORIGIN_SLOT_UNLISTED;
}

void
nws_origin_tally_remove (nws_origin_tally_t *self, int slot)
{
    if (slot == NWS_ORIGIN_SLOT_NONE && self->none)
        self->none--;
    else
    if (slot == NWS_ORIGIN_SLOT_UNLISTED && self->unlisted)
        self->unlisted--;
    else
    if (slot >= 1 && slot <= NWS_ORIGIN_TALLY_MAX && self->names [slot - 1]
    &&  --self->counts [slot - 1] == 0) {
        free (self->names [slot - 1]);
        self->names [slot - 1] = NULL;
    }
}

void
nws_origin_tally_clear (nws_origin_tally_t *self)
{
    for (int i = 0; i < NWS_ORIGIN_TALLY_MAX; i++)
        free (self->names [i]);
    memset (self, 0, sizeof *self);
}
