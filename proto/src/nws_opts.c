/*  nws_opts - command-line options from a table.  */
#include "nws_opts.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

int
nws_opts_parse_number (const char *s, int sized, uint64_t *out)
{
    uint64_t value = 0;
    const char *p = s;
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (value > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
            return -EINVAL;
        value = value * 10 + (uint64_t) (*p - '0');
    }
    if (sized && *p) {
        int shift = *p == 'K' || *p == 'k' ? 10 : *p == 'M' || *p == 'm' ? 20
                  : *p == 'G' || *p == 'g' ? 30 : -1;
        if (shift < 0 || p [1] || value > (UINT64_MAX >> shift))
            return -EINVAL;
        value <<= shift;
        p++;
    }
    if (*p)
        return -EINVAL;
    *out = value;
    return 0;
}

static const nws_opt_t *
s_find (const nws_opt_t *opts, const char *name, size_t len)
{
    for (; opts->name; opts++)
        if (strlen (opts->name) == len && memcmp (opts->name, name, len) == 0)
            return opts;
    return NULL;
}

static int
s_store (const nws_opt_t *opt, const char *value, char *err, size_t errlen)
{
    uint64_t number;
    switch (opt->type) {
        case NWS_OPT_STRING:
            if (!*value) {
                snprintf (err, errlen, "--%s: empty value", opt->name);
                return -EINVAL;
            }
            *(const char **) opt->target = value;
            return 0;
        case NWS_OPT_LIST: {
            nws_opt_list_t *list = opt->target;
            if (list->count == NWS_OPT_LIST_MAX || !*value) {
                snprintf (err, errlen, "--%s: %s", opt->name,
                          *value ? "given too many times" : "empty value");
                return -EINVAL;
            }
            list->items [list->count++] = value;
            return 0;
        }
        case NWS_OPT_UINT:
        case NWS_OPT_SIZE:
            if (nws_opts_parse_number (value, opt->type == NWS_OPT_SIZE, &number)) {
                snprintf (err, errlen, "--%s: '%.64s' is not a %s", opt->name, value,
                          opt->type == NWS_OPT_SIZE ? "size (e.g. 1048576 or 1M)"
                                                    : "whole number");
                return -EINVAL;
            }
            if (number < opt->min || number > opt->max) {
                snprintf (err, errlen, "--%s: %" PRIu64 " is out of range %" PRIu64
                          "..%" PRIu64, opt->name, number, opt->min, opt->max);
                return -EINVAL;
            }
            *(uint64_t *) opt->target = number;
            return 0;
        case NWS_OPT_FLAG:
            break;
    }
    return -EINVAL;
}

int
nws_opts_parse (const nws_opt_t *opts, int argc, char **argv,
                char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0)
            return NWS_OPTS_HELP;
        if (strcmp (arg, "--version") == 0)
            return NWS_OPTS_VERSION;
        if (strncmp (arg, "--", 2) != 0) {
            snprintf (err, errlen, "unexpected argument '%.64s'", arg);
            return -EINVAL;
        }
        const char *name = arg + 2, *eq = strchr (name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen (name);
        const nws_opt_t *opt = s_find (opts, name, len);
        if (!opt) {
            snprintf (err, errlen, "unknown option '--%.*s' (see --help)", (int) (len > 64 ? 64 : len), name);
            return -EINVAL;
        }
        if (opt->type == NWS_OPT_FLAG) {
            if (eq) {
                snprintf (err, errlen, "--%s takes no value", opt->name);
                return -EINVAL;
            }
            *(int *) opt->target = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                snprintf (err, errlen, "--%s needs a value (%s)", opt->name,
                          opt->metavar ? opt->metavar : "VALUE");
                return -EINVAL;
            }
            value = argv [++i];
        }
        int rc = s_store (opt, value, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

void
nws_opts_usage (FILE *out, const char *program, const char *summary,
                const nws_opt_t *opts)
{
    fprintf (out, "Usage: %s [OPTION]...\n%s\n\nOptions:\n", program, summary);
    for (; opts->name; opts++) {
        char left [64];
        snprintf (left, sizeof left, "--%s%s%s", opts->name,
                  opts->type == NWS_OPT_FLAG ? "" : " ",
                  opts->type == NWS_OPT_FLAG ? "" : opts->metavar ? opts->metavar : "VALUE");
        fprintf (out, "  %-28s %s\n", left, opts->help);
    }
    fprintf (out, "  %-28s %s\n  %-28s %s\n", "--help", "show this help and exit",
             "--version", "show the version and exit");
}
