/*  Unit tests of nws_opts: a table with every option type.  */
#include "nws_opts.h"
#include "nws_unit.h"

#include <stdarg.h>

#define S_KIB UINT64_C (1024)
#define S_MIB (S_KIB * 1024)
#define S_GIB (S_MIB * 1024)

//  Targets, with defaults that show whether a parse touched them.
static int s_verbose;
static const char *s_name = "default";
static uint64_t s_port = 9009;
static uint64_t s_size = 1000;
static nws_opt_list_t s_peers;

static const nws_opt_t s_opts [] = {
    { "verbose", NWS_OPT_FLAG, &s_verbose, 0, 0, NULL, "say more" },
    { "name", NWS_OPT_STRING, &s_name, 0, 0, "NAME", "a name" },
    { "port", NWS_OPT_UINT, &s_port, 1, 65535, "PORT", "a port" },
    { "max-message", NWS_OPT_SIZE, &s_size, 1, 4 * S_GIB, "BYTES", "a size" },
    { "peer", NWS_OPT_LIST, &s_peers, 0, 0, NULL, "a peer, repeatable" },
    { NULL }
};

static char s_err [256];
static char *s_argv [64];

//  Parses the NULL-terminated arguments (after a program name) with
//  s_opts; the error text, if any, is left in s_err.
static int
s_parse (const char *arg, ...)
{
    int argc = 0;
    s_argv [argc++] = "prog";
    va_list args;
    va_start (args, arg);
    for (; arg; arg = va_arg (args, const char *)) {
        CHECK (argc < 63);
        s_argv [argc++] = (char *) arg;
    }
    va_end (args);
    s_argv [argc] = NULL;
    memset (s_err, 0, sizeof s_err);
    return nws_opts_parse (s_opts, argc, s_argv, s_err, sizeof s_err);
}

//  Expects -EINVAL and an error message containing needle.
#define CHECK_FAILS(needle, ...) do { \
    CHECK_INT (s_parse (__VA_ARGS__, NULL), -EINVAL); \
    CHECK_HAS (s_err, needle); \
} while (0)

static void
no_arguments (void)
{
    CHECK_INT (s_parse (NULL), 0);
    CHECK_INT (s_verbose, 0);
    CHECK_STR (s_name, "default");
    CHECK_U64 (s_port, 9009);
    CHECK_U64 (s_size, 1000);
    CHECK_INT (s_peers.count, 0);
}

static void
all_types (void)
{
    CHECK_INT (s_parse ("--verbose", "--name", "hub", "--port", "80",
                        "--max-message", "2M", "--peer", "a", "--peer", "b", NULL), 0);
    CHECK_INT (s_verbose, 1);
    CHECK_STR (s_name, "hub");
    CHECK_U64 (s_port, 80);
    CHECK_U64 (s_size, 2 * S_MIB);
    CHECK_INT (s_peers.count, 2);
    CHECK_STR (s_peers.items [0], "a");
    CHECK_STR (s_peers.items [1], "b");
}

//  "--x=v" means the same as "--x v".
static void
equals_form (void)
{
    CHECK_INT (s_parse ("--name=hub", "--port=80", "--max-message=3K",
                        "--peer=a", "--peer", "b", NULL), 0);
    CHECK_STR (s_name, "hub");
    CHECK_U64 (s_port, 80);
    CHECK_U64 (s_size, 3 * S_KIB);
    CHECK_INT (s_peers.count, 2);
    CHECK_STR (s_peers.items [0], "a");
    CHECK_STR (s_peers.items [1], "b");

    //  only the first '=' separates; the value may contain more
    CHECK_INT (s_parse ("--name=a=b", NULL), 0);
    CHECK_STR (s_name, "a=b");
    //  a value may look like an option when given separately
    CHECK_INT (s_parse ("--name", "--port", NULL), 0);
    CHECK_STR (s_name, "--port");
}

//  STRING and LIST values point into argv, not into copies.
static void
values_point_into_argv (void)
{
    CHECK_INT (s_parse ("--name", "x", "--peer=y", NULL), 0);
    CHECK (s_name == s_argv [2]);
    CHECK (s_peers.items [0] == s_argv [3] + strlen ("--peer="));
}

static void
last_one_wins (void)
{
    CHECK_INT (s_parse ("--port", "1", "--port=2", "--name", "a", "--name", "b",
                        "--verbose", "--verbose", NULL), 0);
    CHECK_U64 (s_port, 2);
    CHECK_STR (s_name, "b");
    CHECK_INT (s_verbose, 1);
}

static void
flag_takes_no_value (void)
{
    CHECK_FAILS ("--verbose takes no value", "--verbose=1");
    CHECK_FAILS ("--verbose takes no value", "--verbose=");
    CHECK_INT (s_verbose, 0);
    //  a following word is not its value but a stray argument
    CHECK_FAILS ("unexpected argument '1'", "--verbose", "1");
}

static void
size_suffixes (void)
{
    static const struct { const char *arg; uint64_t value; } cases [] = {
        { "1", 1 }, { "1023", 1023 },
        { "1K", S_KIB }, { "1k", S_KIB }, { "64K", 64 * S_KIB },
        { "1M", S_MIB }, { "1m", S_MIB }, { "16M", 16 * S_MIB },
        { "1G", S_GIB }, { "1g", S_GIB }, { "4G", 4 * S_GIB },
        { "4194304K", 4 * S_GIB }, { "4096M", 4 * S_GIB },
        { NULL, 0 }
    };
    for (int i = 0; cases [i].arg; i++) {
        s_size = 0;
        CHECK_INT (s_parse ("--max-message", cases [i].arg, NULL), 0);
        CHECK_U64 (s_size, cases [i].value);
    }
}

static void
size_malformed (void)
{
    static const char *bad [] = {
        "K", "1T", "1KB", "1Ki", "1.5M", "1 K", " 1K", "1K ", "-1K", "+1",
        "0x10", "1e3", "KM", "1KK", "", NULL
    };
    for (int i = 0; bad [i]; i++) {
        s_size = 77;
        if (s_parse ("--max-message", bad [i], NULL) != -EINVAL) {
            fprintf (stderr, "--max-message '%s' accepted\n", bad [i]);
            CHECK (0);
        }
        CHECK_HAS (s_err, "--max-message");
        CHECK_U64 (s_size, 77);         //  untouched on error
    }
    CHECK_FAILS ("is not a size", "--max-message", "1T");
}

static void
size_range (void)
{
    CHECK_FAILS ("out of range", "--max-message", "0");
    CHECK_FAILS ("out of range", "--max-message", "5G");
    CHECK_FAILS ("out of range", "--max-message", "4194305K");
    CHECK_FAILS ("out of range", "--max-message=4294967297");
    CHECK_FAILS ("--max-message: 5368709120 is out of range 1..4294967296",
                 "--max-message", "5G");
    CHECK_INT (s_parse ("--max-message", "4294967296", NULL), 0);
    CHECK_U64 (s_size, 4 * S_GIB);
    //  a suffix that overflows 64 bits is malformed, not wrapped
    CHECK_FAILS ("is not a size", "--max-message", "17179869184G");
    CHECK_FAILS ("is not a size", "--max-message", "18446744073709551616");
}

static void
uint_values (void)
{
    CHECK_INT (s_parse ("--port", "1", NULL), 0);
    CHECK_U64 (s_port, 1);
    CHECK_INT (s_parse ("--port", "65535", NULL), 0);
    CHECK_U64 (s_port, 65535);
    CHECK_INT (s_parse ("--port", "00080", NULL), 0);
    CHECK_U64 (s_port, 80);
}

static void
uint_range (void)
{
    CHECK_FAILS ("--port: 0 is out of range 1..65535", "--port", "0");
    CHECK_FAILS ("--port: 65536 is out of range 1..65535", "--port", "65536");
    CHECK_FAILS ("out of range", "--port=18446744073709551615");
    CHECK_U64 (s_port, 9009);
}

static void
uint_malformed (void)
{
    static const char *bad [] = {
        "abc", "12x", "-1", "+1", " 1", "1 ", "1K", "1M", "0x50", "8.0", "", NULL
    };
    for (int i = 0; bad [i]; i++) {
        if (s_parse ("--port", bad [i], NULL) != -EINVAL) {
            fprintf (stderr, "--port '%s' accepted\n", bad [i]);
            CHECK (0);
        }
        CHECK_HAS (s_err, "is not a whole number");
    }
    CHECK_FAILS ("--port: 'abc' is not a whole number", "--port", "abc");
    CHECK_U64 (s_port, 9009);
}

static void
uint_overflow (void)
{
    CHECK_FAILS ("is not a whole number", "--port", "18446744073709551616");
    CHECK_FAILS ("is not a whole number", "--port", "99999999999999999999999");
    CHECK_U64 (s_port, 9009);
}

static void
parse_number (void)
{
    uint64_t v = 0;
    CHECK_INT (nws_opts_parse_number ("0", 0, &v), 0);
    CHECK_U64 (v, 0);
    CHECK_INT (nws_opts_parse_number ("18446744073709551615", 0, &v), 0);
    CHECK_U64 (v, UINT64_MAX);
    CHECK_INT (nws_opts_parse_number ("018446744073709551615", 0, &v), 0);
    CHECK_U64 (v, UINT64_MAX);
    CHECK_INT (nws_opts_parse_number ("18446744073709551614", 1, &v), 0);
    CHECK_U64 (v, UINT64_MAX - 1);
    //  largest values each suffix can scale
    CHECK_INT (nws_opts_parse_number ("18014398509481983K", 1, &v), 0);
    CHECK_U64 (v, UINT64_C (18014398509481983) << 10);
    CHECK_INT (nws_opts_parse_number ("17592186044415M", 1, &v), 0);
    CHECK_U64 (v, UINT64_C (17592186044415) << 20);
    CHECK_INT (nws_opts_parse_number ("17179869183G", 1, &v), 0);
    CHECK_U64 (v, UINT64_C (17179869183) << 30);
    CHECK_INT (nws_opts_parse_number ("0G", 1, &v), 0);
    CHECK_U64 (v, 0);

    v = 12345;
    const char *bad_plain [] = {
        "18446744073709551616", "18446744073709551620", "100000000000000000000",
        "1K", "", "x", "-0", NULL
    };
    for (int i = 0; bad_plain [i]; i++)
        CHECK_INT (nws_opts_parse_number (bad_plain [i], 0, &v), -EINVAL);
    const char *bad_sized [] = {
        "18014398509481984K", "17592186044416M", "17179869184G",
        "18446744073709551616", "1P", "1KK", "K", NULL
    };
    for (int i = 0; bad_sized [i]; i++)
        CHECK_INT (nws_opts_parse_number (bad_sized [i], 1, &v), -EINVAL);
    CHECK_INT (nws_opts_parse_number (NULL, 1, &v), -EINVAL);
    CHECK_U64 (v, 12345);               //  untouched on error
}

static void
missing_value (void)
{
    CHECK_FAILS ("--port needs a value (PORT)", "--port");
    CHECK_FAILS ("--name needs a value (NAME)", "--name");
    CHECK_FAILS ("--max-message needs a value (BYTES)", "--verbose", "--max-message");
    CHECK_FAILS ("--peer needs a value (VALUE)", "--peer", "a", "--peer");
}

static void
empty_value (void)
{
    CHECK_FAILS ("--name: empty value", "--name=");
    CHECK_FAILS ("--name: empty value", "--name", "");
    CHECK_STR (s_name, "default");
    CHECK_FAILS ("--peer: empty value", "--peer=");
    CHECK_FAILS ("--peer: empty value", "--peer", "");
    CHECK_INT (s_peers.count, 0);
    CHECK_FAILS ("is not a whole number", "--port=");
    CHECK_FAILS ("is not a size", "--max-message", "");
}

static void
unknown_option (void)
{
    CHECK_FAILS ("unknown option '--bogus' (see --help)", "--bogus");
    CHECK_FAILS ("unknown option '--bogus'", "--bogus=1");
    CHECK_FAILS ("unknown option '--po'", "--po", "80");     //  no abbreviations
    CHECK_FAILS ("unknown option '--portx'", "--portx", "80");
    CHECK_FAILS ("unknown option '--Port'", "--Port", "80");
    CHECK_FAILS ("unknown option '--'", "--");
    CHECK_FAILS ("unknown option '--'", "--=x");     //  the name before '=' is empty
    CHECK_FAILS ("unknown option", "--port", "80", "--bogus");
}

//  A huge unknown option name is cut short in the message, which fits.
static void
unknown_option_long (void)
{
    char arg [1000];
    memset (arg, 'z', sizeof arg);
    memcpy (arg, "--", 2);
    arg [sizeof arg - 1] = '\0';
    CHECK_INT (s_parse (arg, NULL), -EINVAL);
    CHECK_HAS (s_err, "unknown option '--zzzz");
    CHECK (strlen (s_err) < sizeof s_err);
}

static void
stray_argument (void)
{
    CHECK_FAILS ("unexpected argument 'foo'", "foo");
    CHECK_FAILS ("unexpected argument 'foo'", "--port", "80", "foo");
    CHECK_FAILS ("unexpected argument '-v'", "-v");
    CHECK_FAILS ("unexpected argument '-'", "-");
    CHECK_FAILS ("unexpected argument ''", "");
}

static void
help_and_version (void)
{
    CHECK_INT (s_parse ("--help", NULL), NWS_OPTS_HELP);
    CHECK_INT (s_parse ("-h", NULL), NWS_OPTS_HELP);
    CHECK_INT (s_parse ("--port", "80", "--help", NULL), NWS_OPTS_HELP);
    CHECK_INT (s_parse ("--help", "--bogus", NULL), NWS_OPTS_HELP);
    CHECK_INT (s_parse ("--version", NULL), NWS_OPTS_VERSION);
    CHECK_INT (s_parse ("--verbose", "--version", "stray", NULL), NWS_OPTS_VERSION);
    //  arguments are read in order: an error before --help wins
    CHECK_INT (s_parse ("--bogus", "--help", NULL), -EINVAL);
}

static void
list_overflow (void)
{
    char values [NWS_OPT_LIST_MAX + 1][16];
    char *argv [2 * (NWS_OPT_LIST_MAX + 1) + 1];
    int argc = 0;
    argv [argc++] = "prog";
    for (int i = 0; i <= NWS_OPT_LIST_MAX; i++) {
        snprintf (values [i], sizeof values [i], "peer%d", i);
        argv [argc++] = "--peer";
        argv [argc++] = values [i];
    }
    //  exactly NWS_OPT_LIST_MAX fit
    CHECK_INT (nws_opts_parse (s_opts, argc - 2, argv, s_err, sizeof s_err), 0);
    CHECK_INT (s_peers.count, NWS_OPT_LIST_MAX);
    for (int i = 0; i < NWS_OPT_LIST_MAX; i++)
        CHECK_STR (s_peers.items [i], values [i]);

    //  one more is an error, and the list is left as it was
    s_peers.count = 0;
    CHECK_INT (nws_opts_parse (s_opts, argc, argv, s_err, sizeof s_err), -EINVAL);
    CHECK_HAS (s_err, "--peer: given too many times");
    CHECK_INT (s_peers.count, NWS_OPT_LIST_MAX);
    CHECK_STR (s_peers.items [NWS_OPT_LIST_MAX - 1], values [NWS_OPT_LIST_MAX - 1]);
}

//  A small err buffer gets a truncated, NUL-terminated message and no more.
static void
small_err_buffer (void)
{
    char err [12];
    char *argv [] = { "prog", "--bogus-option-with-a-long-name", NULL };
    memset (err, '#', sizeof err);
    CHECK_INT (nws_opts_parse (s_opts, 2, argv, err, 8), -EINVAL);
    CHECK_INT (strlen (err), 7);
    for (size_t i = 8; i < sizeof err; i++)
        CHECK_INT (err [i], '#');
}

static void
usage (void)
{
    FILE *out = tmpfile ();
    CHECK (out);
    nws_opts_usage (out, "nws-test", "Tests options.", s_opts);
    long size = ftell (out);
    CHECK (size > 0 && size < 4096);
    char text [4096];
    rewind (out);
    size_t n = fread (text, 1, (size_t) size, out);
    CHECK_INT (n, size);
    text [n] = '\0';
    fclose (out);

    const char *head = "Usage: nws-test [OPTION]...\nTests options.\n\nOptions:\n";
    CHECK (strncmp (text, head, strlen (head)) == 0);
    CHECK_HAS (text, "  --verbose ");
    CHECK (!strstr (text, "--verbose VALUE"));  //  a flag shows no value
    CHECK_HAS (text, "--name NAME");
    CHECK_HAS (text, "--port PORT");
    CHECK_HAS (text, "--max-message BYTES");
    CHECK_HAS (text, "--peer VALUE");           //  no metavar: VALUE
    CHECK_HAS (text, "a peer, repeatable\n");
    CHECK_HAS (text, "--help");
    CHECK_HAS (text, "--version");
    CHECK_INT (text [n - 1], '\n');
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (no_arguments),
        NWS_UNIT_CASE (all_types),
        NWS_UNIT_CASE (equals_form),
        NWS_UNIT_CASE (values_point_into_argv),
        NWS_UNIT_CASE (last_one_wins),
        NWS_UNIT_CASE (flag_takes_no_value),
        NWS_UNIT_CASE (size_suffixes),
        NWS_UNIT_CASE (size_malformed),
        NWS_UNIT_CASE (size_range),
        NWS_UNIT_CASE (uint_values),
        NWS_UNIT_CASE (uint_range),
        NWS_UNIT_CASE (uint_malformed),
        NWS_UNIT_CASE (uint_overflow),
        NWS_UNIT_CASE (parse_number),
        NWS_UNIT_CASE (missing_value),
        NWS_UNIT_CASE (empty_value),
        NWS_UNIT_CASE (unknown_option),
        NWS_UNIT_CASE (unknown_option_long),
        NWS_UNIT_CASE (stray_argument),
        NWS_UNIT_CASE (help_and_version),
        NWS_UNIT_CASE (list_overflow),
        NWS_UNIT_CASE (small_err_buffer),
        NWS_UNIT_CASE (usage),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
