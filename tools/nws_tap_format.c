/*  nws_tap_format - how nws-tap prints one hub message.  */
#include "nws_tap_format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

#include "nws_utf8.h"

//  errno after a failed stdio call, never 0.
static int
s_error (FILE *out)
{
    return ferror (out) ? (errno ? -errno : -EIO) : 0;
}

int
nws_tap_format_escaped (FILE *out, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t run = 0;                 //  printable bytes not yet written
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p [i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            run++;
            continue;
        }
        if (run)
            fwrite (p + i - run, 1, run, out);
        run = 0;
        if (c == '\\')
            fputs ("\\\\", out);
        else
        if (c == '\n')
            fputs ("\\n", out);
        else
        if (c == '\r')
            fputs ("\\r", out);
        else
        if (c == '\t')
            fputs ("\\t", out);
        else
            fprintf (out, "\\x%02x", c);
    }
    if (run)
        fwrite (p + len - run, 1, run, out);
    return s_error (out);
}

int
nws_tap_format_base64 (FILE *out, const void *data, size_t len)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = data;
    char quad [4];
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t) p [i] << 16 | (uint32_t) p [i + 1] << 8 | p [i + 2];
        quad [0] = alphabet [v >> 18];
        quad [1] = alphabet [(v >> 12) & 63];
        quad [2] = alphabet [(v >> 6) & 63];
        quad [3] = alphabet [v & 63];
        fwrite (quad, 1, 4, out);
    }
    if (i < len) {
        uint32_t v = (uint32_t) p [i] << 16 | (i + 1 < len ? (uint32_t) p [i + 1] << 8 : 0);
        quad [0] = alphabet [v >> 18];
        quad [1] = alphabet [(v >> 12) & 63];
        quad [2] = i + 1 < len ? alphabet [(v >> 6) & 63] : '=';
        quad [3] = '=';
        fwrite (quad, 1, 4, out);
    }
    return s_error (out);
}

int
nws_tap_format_json_string (FILE *out, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t run = 0;                 //  bytes not yet written that need no escape
    fputc ('"', out);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p [i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            run++;
            continue;
        }
        if (run)
            fwrite (p + i - run, 1, run, out);
        run = 0;
        if (c == '"' || c == '\\')
            fprintf (out, "\\%c", c);
        else
        if (c == '\n')
            fputs ("\\n", out);
        else
        if (c == '\r')
            fputs ("\\r", out);
        else
        if (c == '\t')
            fputs ("\\t", out);
        else
            fprintf (out, "\\u%04x", c);
    }
    if (run)
        fwrite (p + len - run, 1, run, out);
    fputc ('"', out);
    return s_error (out);
}

//  A payload is printed as text only if it is text and really UTF-8 (the
//  hub guarantees it, but a tap may be pointed at anything).
static int
s_is_text (const nws_envelope_t *env, const void *payload, size_t len)
{
    return env->kind == NWS_KIND_TEXT && nws_utf8_valid (payload, len);
}

static void
s_json (FILE *out, const nws_channel_t *channel, const nws_envelope_t *env,
        const void *payload, size_t len)
{
    const char *scope = nws_channel_scope_str (channel->scope);
    int text = s_is_text (env, payload, len);
    //  A channel name is [A-Za-z0-9._-]: it needs no JSON escaping.
    fprintf (out, "{\"channel\":\"%s/%s\",\"scope\":\"%s\",\"name\":\"%s\","
             "\"kind\":\"%s\",\"flags\":%u,\"from_proxy\":%s,"
             "\"origin\":\"%016" PRIx64 "\",\"seq\":%" PRIu64 ",\"payload\":",
             scope, channel->name, scope, channel->name,
             env->kind == NWS_KIND_TEXT ? "text" : "binary", (unsigned) env->flags,
             env->flags & NWS_FLAG_FROM_PROXY ? "true" : "false", env->origin, env->seq);
    if (text)
        nws_tap_format_json_string (out, payload, len);
    else {
        fputc ('"', out);
        nws_tap_format_base64 (out, payload, len);
        fputs ("\",\"encoding\":\"base64\"", out);
    }
    fputs ("}\n", out);
}

int
nws_tap_format (FILE *out, nws_tap_mode_t mode, const nws_channel_t *channel,
                const nws_envelope_t *env, const void *payload, size_t len)
{
    if (mode == NWS_TAP_JSON) {
        s_json (out, channel, env, payload, len);
        return s_error (out);
    }
    if (mode == NWS_TAP_VERBOSE)
        fprintf (out, "%s/%s ", nws_channel_scope_str (channel->scope), channel->name);
    if (s_is_text (env, payload, len))
        fwrite (payload, 1, len, out);
    else
        nws_tap_format_escaped (out, payload, len);
    fputc ('\n', out);
    return s_error (out);
}
