/*  nws_static - the web files compiled into the gateway (see nws_static.h).  */
#include "nws_static.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nws_http.h"

//  Defined in nws_www.c, which gateway/www/embed.cmake generates.
#define S_EMBEDDED(id) \
    extern const unsigned char nws_www_##id []; \
    extern const size_t nws_www_##id##_len; \
    extern const char nws_www_##id##_hash []; \
    extern const long nws_www_##id##_port_at;
S_EMBEDDED (console_html)
S_EMBEDDED (namedwebsockets_js)
S_EMBEDDED (namedwebsockets_mjs)

#define S_PORT_DIGITS 4             /* the digits after the port marker: 9009 */

struct nws_static_file_t {
    const char *path;               /* URL path */
    const char *content_type;       /* Content-Type value */
    const char *headers;            /* more "name: value\r\n" lines */
    int loopback_only;              /* 403 to other peers */
    const unsigned char *data;      /* the bytes */
    const size_t *len;              /* their count */
    const char *hash;               /* 16 hex digits, for the ETag */
    const long *port_at;            /* where the default port goes, or -1 */
};

//  The JS API is loaded by pages of any origin, including as a module
//  (which needs CORS).
#define S_JS_HEADERS \
    "access-control-allow-origin: *\r\n" \
    "x-content-type-options: nosniff\r\n"

//  The console is one self-contained file: it may load nothing, talk only
//  to its own gateway, and not be framed by another page.
#define S_CONSOLE_HEADERS \
    "content-security-policy: default-src 'none'; script-src 'unsafe-inline'; " \
    "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; " \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n" \
    "x-content-type-options: nosniff\r\n" \
    "x-frame-options: DENY\r\n" \
    "referrer-policy: no-referrer\r\n"

#define S_FILE(url, type, extra, loopback, id) \
    { url, type, extra, loopback, nws_www_##id, &nws_www_##id##_len, \
      nws_www_##id##_hash, &nws_www_##id##_port_at }

static const nws_static_file_t s_files [] = {
    S_FILE ("/console", "text/html; charset=utf-8", S_CONSOLE_HEADERS, 1, console_html),
    S_FILE ("/namedwebsockets.js", "text/javascript; charset=utf-8", S_JS_HEADERS, 0,
            namedwebsockets_js),
    S_FILE ("/namedwebsockets.mjs", "text/javascript; charset=utf-8", S_JS_HEADERS, 0,
            namedwebsockets_mjs),
};

const nws_static_file_t *
nws_static_lookup (const char *path)
{
    for (size_t i = 0; i < sizeof s_files / sizeof s_files [0]; i++)
        if (strcmp (path, s_files [i].path) == 0)
            return &s_files [i];
    return NULL;
}

static int
s_is_head (struct lws *wsi)
{
    return lws_hdr_total_length (wsi, WSI_TOKEN_HEAD_URI) > 0;
}

int
nws_static_check (struct lws *wsi, const nws_static_file_t *file, const char **why)
{
    if (lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) <= 0 && !s_is_head (wsi)) {
        *why = "use GET";
        return 405;
    }
    if (file->loopback_only && !nws_http_request_is_local (wsi)) {
        *why = "the console is open to this host only";
        return 403;
    }
    return 0;
}

//  1 if the If-None-Match header lists etag (or is *).
static int
s_etag_matches (struct lws *wsi, const char *etag)
{
    char value [256];
    int len = lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH);
    if (len <= 0 || len >= (int) sizeof value)
        return 0;
    if (lws_hdr_copy (wsi, value, sizeof value, WSI_TOKEN_HTTP_IF_NONE_MATCH) < 0)
        return 0;
    if (strcmp (value, "*") == 0)
        return 1;
    //  A list of entity tags, each maybe weak (W/"..."): weak comparison.
    size_t etag_len = strlen (etag);
    for (const char *p = value; (p = strstr (p, etag)) != NULL; p += etag_len) {
        char after = p [etag_len];
        if (after == '\0' || after == ',' || after == ' ' || after == '\t')
            return 1;
    }
    return 0;
}

int
nws_static_respond (struct lws *wsi, const nws_static_file_t *file, uint16_t port)
{
    //  The body: the file, with the default port written in if it has one.
    char digits [8] = "";
    size_t len = *file->len, head = len, skip = 0;
    if (*file->port_at >= 0 && (size_t) *file->port_at + S_PORT_DIGITS <= len) {
        head = (size_t) *file->port_at;
        skip = S_PORT_DIGITS;
        snprintf (digits, sizeof digits, "%u", (unsigned) port);
    }
    size_t body_len = len - skip + strlen (digits);
    char etag [48];
    snprintf (etag, sizeof etag, "\"%s-%u\"", file->hash, (unsigned) port);

    int status = s_etag_matches (wsi, etag) ? 304 : 200;
    int send_body = status == 200 && !s_is_head (wsi);

    uint8_t headers [LWS_PRE + 1536];
    uint8_t *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    //  A 304 (and a HEAD) says the length the 200 would have, without the
    //  body (RFC 9110 8.6), and the connection stays usable.
    if (lws_add_http_common_headers (wsi, (unsigned) status, file->content_type,
                                     (lws_filepos_t) body_len, &p, end))
        return -1;
    char extra [1024];
    int extra_len = snprintf (extra, sizeof extra, "cache-control: no-cache\r\netag: %s\r\n%s",
                              etag, file->headers);
    if (extra_len < 0 || extra_len >= (int) sizeof extra || end - p < extra_len)
        return -1;
    memcpy (p, extra, (size_t) extra_len);
    p += extra_len;
    if (lws_finalize_write_http_header (wsi, start, &p, end))
        return -1;

    if (send_body && body_len) {
        //  lws_write wants LWS_PRE bytes of headroom it may write into.
        uint8_t *buf = malloc (LWS_PRE + body_len);
        if (!buf)
            return -1;
        uint8_t *out = buf + LWS_PRE;
        memcpy (out, file->data, head);
        memcpy (out + head, digits, strlen (digits));
        memcpy (out + head + strlen (digits), file->data + head + skip, len - head - skip);
        int written = lws_write (wsi, out, body_len, LWS_WRITE_HTTP_FINAL);
        free (buf);
        if (written != (int) body_len)
            return -1;
    }
    return lws_http_transaction_completed (wsi) ? -1 : 0;
}
