/*  Unit tests of nws_tap_format: the lines nws-tap sub prints.  */
#include <stdint.h>

#include "nws_tap_format.h"
#include "nws_unit.h"

static size_t s_rendered;          /* bytes the last s_render wrote (text may hold NULs) */

//  What nws_tap_format wrote for one message, NUL-terminated; free it.
static char *
s_render (nws_tap_mode_t mode, const char *scope_name, int kind, uint8_t flags,
          uint64_t origin, uint64_t seq, const void *payload, size_t len)
{
    nws_channel_t channel;
    char path [300];
    snprintf (path, sizeof path, "/%s", scope_name);
    CHECK_INT (nws_channel_parse_path (path, &channel), 0);
    nws_envelope_t env = { .kind = (uint8_t) kind, .flags = flags, .origin = origin, .seq = seq };
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    CHECK (out);
    CHECK_INT (nws_tap_format (out, mode, &channel, &env, payload, len), 0);
    CHECK_INT (fclose (out), 0);
    s_rendered = size;
    return text;
}

static char *
s_base64 (const char *data, size_t len)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    CHECK (out);
    CHECK_INT (nws_tap_format_base64 (out, data, len), 0);
    CHECK_INT (fclose (out), 0);
    return text;
}

static void
plain_text_as_is (void)
{
    const char *hello = "hello \xe2\x9c\x93 \"quoted\" back\\slash";
    char *line = s_render (NWS_TAP_PLAIN, "local/chat", NWS_KIND_TEXT, 0, 1, 1,
                           hello, strlen (hello));
    CHECK_STR (line, "hello \xe2\x9c\x93 \"quoted\" back\\slash\n");
    free (line);
}

static void
plain_empty (void)
{
    char *line = s_render (NWS_TAP_PLAIN, "local/chat", NWS_KIND_TEXT, 0, 1, 1, "", 0);
    CHECK_STR (line, "\n");
    free (line);
    line = s_render (NWS_TAP_PLAIN, "local/chat", NWS_KIND_BINARY, 0, 1, 1, "", 0);
    CHECK_STR (line, "\n");
    free (line);
}

static void
plain_binary_escaped (void)
{
    static const uint8_t bytes [] = { 0x00, 0xff, 'a', '\\', '\n', '\r', '\t', 0x7f, ' ', '~', 0x1b };
    char *line = s_render (NWS_TAP_PLAIN, "local/chat", NWS_KIND_BINARY, 0, 1, 1,
                           bytes, sizeof bytes);
    CHECK_STR (line, "\\x00\\xffa\\\\\\n\\r\\t\\x7f ~\\x1b\n");
    free (line);
}

//  A "text" message that is not UTF-8 (not from our hub) is escaped too.
static void
plain_bad_text_escaped (void)
{
    char *line = s_render (NWS_TAP_PLAIN, "local/chat", NWS_KIND_TEXT, 0, 1, 1, "\xc3\x28", 2);
    CHECK_STR (line, "\\xc3(\n");
    free (line);
}

static void
verbose_prefixes_channel (void)
{
    char *line = s_render (NWS_TAP_VERBOSE, "broadcast/news", NWS_KIND_TEXT, 0, 1, 1, "hi", 2);
    CHECK_STR (line, "broadcast/news hi\n");
    free (line);
    line = s_render (NWS_TAP_VERBOSE, "local/x.y-z_1", NWS_KIND_BINARY, 0, 1, 1, "\x01", 1);
    CHECK_STR (line, "local/x.y-z_1 \\x01\n");
    free (line);
}

static void
json_text (void)
{
    const char *payload = "say \"hi\"\\ \n\t\x01\x7f \xe2\x9c\x93";
    char *line = s_render (NWS_TAP_JSON, "local/chat", NWS_KIND_TEXT, NWS_FLAG_FROM_PROXY,
                           0x1a2b3c4d00000005ULL, 7, payload, strlen (payload));
    CHECK_STR (line, "{\"channel\":\"local/chat\",\"scope\":\"local\",\"name\":\"chat\","
               "\"kind\":\"text\",\"flags\":1,\"from_proxy\":true,"
               "\"origin\":\"1a2b3c4d00000005\",\"seq\":7,"
               "\"payload\":\"say \\\"hi\\\"\\\\ \\n\\t\\u0001\\u007f \xe2\x9c\x93\"}\n");
    free (line);
}

static void
json_binary_base64 (void)
{
    char *line = s_render (NWS_TAP_JSON, "broadcast/b", NWS_KIND_BINARY, 0, 0, 18446744073709551615ULL,
                           "\x00\xff\x10", 3);
    CHECK_STR (line, "{\"channel\":\"broadcast/b\",\"scope\":\"broadcast\",\"name\":\"b\","
               "\"kind\":\"binary\",\"flags\":0,\"from_proxy\":false,"
               "\"origin\":\"0000000000000000\",\"seq\":18446744073709551615,"
               "\"payload\":\"AP8Q\",\"encoding\":\"base64\"}\n");
    free (line);
}

//  RFC 4648 section 10.
static void
base64_vectors (void)
{
    static const char *vectors [][2] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors [0]; i++) {
        char *text = s_base64 (vectors [i][0], strlen (vectors [i][0]));
        CHECK_STR (text, vectors [i][1]);
        free (text);
    }
}

//  Random payloads: plain output of binary is one line of printable
//  ASCII; JSON output has no raw control byte; nothing crashes.
static void
random_payloads_stay_on_one_line (void)
{
    uint32_t state = 12345;
    uint8_t payload [300];
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t) (round % 300);
        for (size_t i = 0; i < len; i++) {
            state = state * 1103515245u + 12345u;
            payload [i] = (uint8_t) (state >> 16);
        }
        int kind = round % 2 ? NWS_KIND_BINARY : NWS_KIND_TEXT;
        for (int mode = NWS_TAP_PLAIN; mode <= NWS_TAP_JSON; mode++) {
            char *line = s_render ((nws_tap_mode_t) mode, "local/r", kind, 0, 1, 1, payload, len);
            size_t n = s_rendered;
            CHECK (n >= 1 && line [n - 1] == '\n');
            if (mode == NWS_TAP_JSON || kind == NWS_KIND_BINARY) {
                for (size_t i = 0; i + 1 < n; i++)
                    CHECK ((uint8_t) line [i] >= 0x20 && (uint8_t) line [i] != 0x7f);
            }
            free (line);
        }
    }
}

//  A failing stream is reported, not ignored (unbuffered, so the error
//  shows at once).
static void
write_error_reported (void)
{
    FILE *out = fopen ("/dev/full", "w");
    if (!out)
        return;                     //  no /dev/full here: nothing to test
    setvbuf (out, NULL, _IONBF, 0);
    nws_channel_t channel;
    CHECK_INT (nws_channel_parse_path ("/local/full", &channel), 0);
    nws_envelope_t env = { .kind = NWS_KIND_TEXT };
    CHECK_INT (nws_tap_format (out, NWS_TAP_PLAIN, &channel, &env, "x", 1), -ENOSPC);
    fclose (out);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (plain_text_as_is),
        NWS_UNIT_CASE (plain_empty),
        NWS_UNIT_CASE (plain_binary_escaped),
        NWS_UNIT_CASE (plain_bad_text_escaped),
        NWS_UNIT_CASE (verbose_prefixes_channel),
        NWS_UNIT_CASE (json_text),
        NWS_UNIT_CASE (json_binary_base64),
        NWS_UNIT_CASE (base64_vectors),
        NWS_UNIT_CASE (random_payloads_stay_on_one_line),
        NWS_UNIT_CASE (write_error_reported),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
