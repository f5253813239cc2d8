/*  nws_head - a strict first look at an HTTP request head.  */
#include "nws_head.h"

#include <string.h>
#include <strings.h>

//  Where a parse stands: the head seen so far, and what it has shown.
typedef struct {
    const char *buf;
    size_t len, max;
    size_t pos;                     /* next byte to look at */
    int http10;                     /* the request line said HTTP/1.0 */
    int head_method;                /* HEAD, not GET */
    int hosts;                      /* Host header lines */
    int upgrade;                    /* an Upgrade header */
    int connection_upgrade;         /* "upgrade" among the Connection tokens */
    nws_head_t *head;
} s_parse_t;

//  RFC 7230 3.2.6: tchar.
static int
s_tchar (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || (c && strchr ("!#$%&'*+-.^_`|~", c));
}

//  A field value byte: VCHAR, SP, HTAB or obs-text; no other control.
static int
s_value_char (unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
s_refuse (s_parse_t *p, int status, const char *why)
{
    p->head->status = status;
    p->head->why = why;
    return 1;
}

//  Out of bytes: wait for more, unless the head can no longer fit.
static int
s_more (s_parse_t *p)
{
    if (p->len >= p->max)
        return s_refuse (p, 431, "request head too large");
    return 0;
}

//  1 if the len bytes at s are a comma-separated list holding token.
static int
s_has_token (const char *s, size_t len, const char *token)
{
    size_t tlen = strlen (token), i = 0;
    while (i < len) {
        while (i < len && (s [i] == ' ' || s [i] == '\t' || s [i] == ','))
            i++;
        size_t start = i;
        while (i < len && s [i] != ',')
            i++;
        size_t end = i;
        while (end > start && (s [end - 1] == ' ' || s [end - 1] == '\t'))
            end--;
        if (end - start == tlen && strncasecmp (s + start, token, tlen) == 0)
            return 1;
    }
    return 0;
}

//  Method SP request-target SP HTTP-version CRLF. Returns 1 when decided
//  (refused), 0 for more bytes, -1 when the line is done and acceptable.
static int
s_request_line (s_parse_t *p)
{
    const unsigned char *b = (const unsigned char *) p->buf;
    size_t i = 0;
    while (i < p->len && s_tchar (b [i]) && i <= NWS_HEAD_METHOD_MAX)
        i++;
    //  Any other method than GET and HEAD, known or not, is refused as soon
    //  as it is clear (CONNECT's target is no path). The gateway answers a
    //  HEAD of a channel URL with its own 405.
    int get = i == 3 && memcmp (b, "GET", 3) == 0;
    int head = i == 4 && memcmp (b, "HEAD", 4) == 0;
    if (i > NWS_HEAD_METHOD_MAX || (i < p->len && b [i] == ' ' && i > 0 && !get && !head)) {
        p->head->allow = "GET, HEAD";
        return s_refuse (p, 405, "only GET (and HEAD) are served here");
    }
    if (i == p->len)
        return s_more (p);
    if (i == 0 || b [i] != ' ')
        return s_refuse (p, 400, "malformed request line");
    p->head_method = head;
    size_t target = ++i;
    while (i < p->len && b [i] > 0x20 && b [i] < 0x7f)
        i++;
    if (i - target > p->max / 2)
        return s_refuse (p, 414, "request target too long");
    if (i == p->len)
        return s_more (p);
    if (i == target || b [i] != ' ' || b [target] != '/')
        return s_refuse (p, 400, "malformed request target");
    size_t end = i;
    const char *query = memchr (p->buf + target, '?', end - target);
    size_t path_end = query ? (size_t) (query - p->buf) : end;
    for (size_t k = target; k + 2 < path_end; k++)
        if (b [k] == '%' && b [k + 1] == '0' && b [k + 2] == '0')
            return s_refuse (p, 404, "a NUL in the path names nothing here");
    p->head->path_at = target;
    p->head->path_len = path_end - target;
    p->head->is_get = get;
    if (query) {
        p->head->query_at = path_end;
        p->head->query_len = end - path_end;
    }
    //  "HTTP/" DIGIT "." DIGIT CRLF, judged on what has come so far.
    static const char pattern [] = "HTTP/d.d\r\n";
    size_t version = ++i;
    for (size_t k = 0; k < sizeof pattern - 1; k++, i++) {
        if (i == p->len)
            return s_more (p);
        int ok = pattern [k] == 'd' ? (b [i] >= '0' && b [i] <= '9') : b [i] == pattern [k];
        if (!ok)
            return s_refuse (p, 400, "malformed request line");
    }
    if (memcmp (b + version, "HTTP/1.1", 8) != 0) {
        if (memcmp (b + version, "HTTP/1.0", 8) != 0)
            return s_refuse (p, 505, "HTTP version not supported");
        p->http10 = 1;
    }
    p->pos = i;
    return -1;
}

//  One header line at p->pos. Returns as s_request_line does, and 2 at
//  the blank line that ends the head.
static int
s_header_line (s_parse_t *p)
{
    const unsigned char *b = (const unsigned char *) p->buf;
    size_t i = p->pos;
    if (i == p->len)
        return s_more (p);
    if (b [i] == '\r') {
        if (i + 1 == p->len)
            return s_more (p);
        if (b [i + 1] != '\n')
            return s_refuse (p, 400, "a CR without LF in the request head");
        p->head->length = i + 2;
        return 2;
    }
    if (b [i] == ' ' || b [i] == '\t')
        return s_refuse (p, 400, "a folded header line");
    size_t name = i;
    while (i < p->len && s_tchar (b [i]))
        i++;
    if (i == p->len)
        return s_more (p);
    if (i == name || b [i] != ':')
        return s_refuse (p, 400, "a header line without a name and a colon");
    size_t name_len = i - name;
    size_t value = ++i;
    while (i < p->len && b [i] != '\r' && s_value_char (b [i]))
        i++;
    if (i == p->len)
        return s_more (p);
    if (b [i] != '\r')
        return s_refuse (p, 400, "a control byte in a header line");
    if (i + 1 == p->len)
        return s_more (p);
    if (b [i + 1] != '\n')
        return s_refuse (p, 400, "a CR without LF in the request head");

    const char *n = p->buf + name, *v = p->buf + value;
    size_t v_len = i - value;
    if (name_len == 4 && strncasecmp (n, "host", 4) == 0)
        p->hosts++;
    else
    if (name_len == 7 && strncasecmp (n, "upgrade", 7) == 0)
        p->upgrade = 1;
    else
    if (name_len == 10 && strncasecmp (n, "connection", 10) == 0)
        p->connection_upgrade |= s_has_token (v, v_len, "upgrade");
    p->pos = i + 2;
    return -1;
}

int
nws_head_parse (const char *buf, size_t len, size_t max, nws_head_t *head)
{
    memset (head, 0, sizeof *head);
    s_parse_t p = { .buf = buf, .len = len, .max = max, .head = head };
    int rc = s_request_line (&p);
    if (rc >= 0)
        return rc;
    for (int lines = 0; ; lines++) {
        rc = s_header_line (&p);
        if (rc == 2)
            break;
        if (rc >= 0)
            return rc;
        if (lines == NWS_HEAD_MAX_LINES)
            return s_refuse (&p, 431, "too many header lines");
    }
    //  RFC 7230 5.4 and RFC 6455 4.1: what lws 4.1 lets pass.
    if (p.hosts > 1 || (p.hosts == 0 && !p.http10))
        return s_refuse (&p, 400, p.hosts ? "more than one Host header" : "no Host header");
    if (p.upgrade && p.head_method) {
        head->allow = "GET";
        return s_refuse (&p, 405, "an upgrade needs GET");
    }
    if (p.upgrade && p.http10)
        return s_refuse (&p, 400, "an upgrade needs HTTP/1.1");
    if (p.upgrade && !p.connection_upgrade)
        return s_refuse (&p, 400, "Upgrade without Connection: upgrade");
    return 1;
}
