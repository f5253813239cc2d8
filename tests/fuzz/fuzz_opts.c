/*  fuzz_opts - command lines (nws_opts_parse, nws_opts_parse_number) and
    static peers (nws_discovery_parse_peer, the value of --peer).

    Input: the first byte picks the size of the error buffer and of the
    peer host buffer; the rest, split at NUL bytes, is argv[1..] (each
    argument its own exact heap copy, so ASan sees any over-read). The
    table has an option of every type. Properties, each against a reference
    written here from nws_opts.h's and nws_discovery.h's words:

    - nws_opts_parse returns what the reference parser returns; on success
      every target holds what the reference stored (strings and list items
      point into argv), numbers lie within their bounds; on -EINVAL the
      error message is a NUL-terminated, non-empty string within errlen.
    - nws_opts_parse_number agrees with the reference on every argument,
      sized and not.
    - nws_discovery_parse_peer agrees with the reference on every argument,
      writes no more than cap bytes, and a host it returns is non-empty and
      of host-name or (bracketed) IPv6 characters, with an optional
      %<interface> scope.
*/
#include <errno.h>

#include "nws_discovery.h"
#include "nws_fuzz.h"
#include "nws_opts.h"

#define S_MAX_ARGS 64

typedef struct {
    int flag;                       /* --flag */
    int other;                      /* --other-flag */
    const char *string;             /* --string */
    uint64_t port;                  /* --port, 1..65535 */
    uint64_t wide;                  /* --wide, 0..UINT64_MAX */
    uint64_t size;                  /* --size, 1..1 TiB, K/M/G */
    uint64_t tiny;                  /* --tiny, 0..1 G */
    nws_opt_list_t list;            /* --peer, repeated */
} s_targets_t;

static void
s_table (nws_opt_t *opts, s_targets_t *t)
{
    nws_opt_t table [] = {
        { "flag", NWS_OPT_FLAG, &t->flag, 0, 0, NULL, "a flag" },
        { "other-flag", NWS_OPT_FLAG, &t->other, 0, 0, NULL, "another flag" },
        { "string", NWS_OPT_STRING, &t->string, 0, 0, "TEXT", "a string" },
        { "port", NWS_OPT_UINT, &t->port, 1, 65535, "N", "a port" },
        { "wide", NWS_OPT_UINT, &t->wide, 0, UINT64_MAX, "N", "any number" },
        { "size", NWS_OPT_SIZE, &t->size, 1, 1ULL << 40, "BYTES", "a size" },
        { "tiny", NWS_OPT_SIZE, &t->tiny, 0, 1ULL << 30, NULL, "no metavar" },
        { "peer", NWS_OPT_LIST, &t->list, 0, 0, "HOST:PORT", "a list" },
        { NULL, 0, NULL, 0, 0, NULL, NULL }
    };
    memcpy (opts, table, sizeof table);
}

//  Decimal digits, then (sized) one of KkMmGg; no overflow. 0 or -EINVAL.
static int
s_ref_number (const char *s, int sized, uint64_t *out)
{
    unsigned __int128 v = 0;
    size_t i = 0;
    if (!(s [0] >= '0' && s [0] <= '9'))
        return -EINVAL;
    for (; s [i] >= '0' && s [i] <= '9'; i++) {
        v = v * 10 + (unsigned) (s [i] - '0');
        if (v > UINT64_MAX)
            return -EINVAL;
    }
    if (sized && s [i] && !s [i + 1]) {
        const char *suffix = strchr ("KkMmGg", s [i]);
        if (!suffix)
            return -EINVAL;
        v <<= 10 * (1 + (suffix - "KkMmGg") / 2);
        if (v > UINT64_MAX)
            return -EINVAL;
        i++;
    }
    if (s [i])
        return -EINVAL;
    *out = (uint64_t) v;
    return 0;
}

//  nws_opts.h: "--name value" or "--name=value"; --help/-h and --version
//  end the parse; everything else is an error.
static int
s_ref_parse (const nws_opt_t *opts, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        if (!strcmp (arg, "--help") || !strcmp (arg, "-h"))
            return NWS_OPTS_HELP;
        if (!strcmp (arg, "--version"))
            return NWS_OPTS_VERSION;
        if (arg [0] != '-' || arg [1] != '-')
            return -EINVAL;
        const char *name = arg + 2, *eq = strchr (name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen (name);
        const nws_opt_t *opt = opts;
        while (opt->name && !(strlen (opt->name) == len && !strncmp (opt->name, name, len)))
            opt++;
        if (!opt->name)
            return -EINVAL;
        if (opt->type == NWS_OPT_FLAG) {
            if (eq)
                return -EINVAL;
            *(int *) opt->target = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : i + 1 < argc ? argv [++i] : NULL;
        if (!value || !*value)
            return -EINVAL;
        if (opt->type == NWS_OPT_STRING)
            *(const char **) opt->target = value;
        else
        if (opt->type == NWS_OPT_LIST) {
            nws_opt_list_t *list = opt->target;
            if (list->count == NWS_OPT_LIST_MAX)
                return -EINVAL;
            list->items [list->count++] = value;
        }
        else {
            uint64_t number;
            if (s_ref_number (value, opt->type == NWS_OPT_SIZE, &number)
            ||  number < opt->min || number > opt->max)
                return -EINVAL;
            *(uint64_t *) opt->target = number;
        }
    }
    return 0;
}

//  nws_discovery.h: "host:port" or "[IPv6]:port", port 1..65535; the host
//  of host-name characters (or also ':' in brackets, and there one '%'
//  between an address and an interface name, which has no ':'), 1..253
//  bytes, and shorter than cap. 0 or -EINVAL.
static int
s_ref_peer (const char *text, size_t cap, char *host, uint16_t *port)
{
    const char *colon = strrchr (text, ':');
    uint64_t number;
    if (!colon || s_ref_number (colon + 1, 0, &number) || number < 1 || number > 65535)
        return -EINVAL;
    const char *start = text;
    size_t len = (size_t) (colon - text);
    int bracketed = len >= 2 && text [0] == '[' && text [len - 1] == ']';
    if (text [0] == '[' && !bracketed)
        return -EINVAL;
    if (bracketed)
        start++, len -= 2;
    if (len < 1 || len > 253 || len >= cap)
        return -EINVAL;
    const char *percent = bracketed ? memchr (start, '%', len) : NULL;
    if (percent && (percent == start || percent == start + len - 1))
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        char c = start [i];
        if (start + i == percent)
            continue;
        int scope = percent && start + i > percent;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '.' || c == '-' || (c == ':' && bracketed && !scope)))
            return -EINVAL;
    }
    memcpy (host, start, len);
    host [len] = '\0';
    *port = (uint16_t) number;
    return 0;
}

static void
s_check_peer (const char *arg, size_t cap)
{
    char *host = malloc (cap);
    char want_host [300];
    uint16_t port = 0, want_port = 0;
    FUZZ_CHECK (host);
    int rc = nws_discovery_parse_peer (arg, host, cap, &port);
    int want = s_ref_peer (arg, cap, want_host, &want_port);
    FUZZ_CHECK (rc == want);
    if (rc == 0)
        FUZZ_CHECK (port == want_port && strcmp (host, want_host) == 0);
    free (host);
}

static void
s_check_number (const char *arg)
{
    for (int sized = 0; sized < 2; sized++) {
        uint64_t got = 0, want = 0;
        int rc = nws_opts_parse_number (arg, sized, &got);
        FUZZ_CHECK (rc == s_ref_number (arg, sized, &want));
        FUZZ_CHECK (rc || got == want);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t errlen = data [0] % 100;     //  0 too: nothing may be written then
    size_t cap = 1 + data [0];          //  host buffer, 1..256
    data++, size--;

    char *argv [S_MAX_ARGS + 1];
    int argc = 0;
    argv [argc++] = fuzz_strdup ((const uint8_t *) "fuzz", 4);
    for (size_t at = 0; argc < S_MAX_ARGS; ) {
        const uint8_t *nul = memchr (data + at, 0, size - at);
        size_t len = nul ? (size_t) (nul - (data + at)) : size - at;
        argv [argc++] = fuzz_strdup (data + at, len);
        if (!nul)
            break;
        at += len + 1;
    }
    argv [argc] = NULL;

    for (int i = 1; i < argc; i++) {
        s_check_number (argv [i]);
        s_check_peer (argv [i], cap);
    }

    nws_opt_t opts [9], ref_opts [9];
    s_targets_t got, want;
    memset (&got, 0, sizeof got);
    memset (&want, 0, sizeof want);
    s_table (opts, &got);
    s_table (ref_opts, &want);
    char *err = malloc (errlen ? errlen : 1);
    FUZZ_CHECK (err);
    if (errlen)
        err [0] = '\0';
    int rc = nws_opts_parse (opts, argc, argv, err, errlen);
    FUZZ_CHECK (rc == s_ref_parse (ref_opts, argc, argv));
    if (rc == -EINVAL && errlen > 0) {
        FUZZ_CHECK (memchr (err, 0, errlen));
        FUZZ_CHECK (errlen == 1 || err [0]);
    }
    if (rc == 0) {
        FUZZ_CHECK (got.flag == want.flag && got.other == want.other);
        FUZZ_CHECK (got.string == want.string);
        FUZZ_CHECK (got.port == want.port && got.wide == want.wide);
        FUZZ_CHECK (got.size == want.size && got.tiny == want.tiny);
        FUZZ_CHECK (got.port <= 65535 && got.size <= 1ULL << 40 && got.tiny <= 1ULL << 30);
        FUZZ_CHECK (got.list.count == want.list.count && got.list.count <= NWS_OPT_LIST_MAX);
        for (int i = 0; i < got.list.count; i++)
            FUZZ_CHECK (got.list.items [i] == want.list.items [i] && *got.list.items [i]);
    }
    free (err);
    for (int i = 0; i < argc; i++)
        free (argv [i]);
    return 0;
}
