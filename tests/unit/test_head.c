/*  Unit tests of nws_head: the gateway's strict first look at a request.  */
#include "nws_head.h"
#include "nws_unit.h"

#define S_MAX 8192
#define S_WS "Upgrade: websocket\r\nConnection: Upgrade\r\n" \
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

//  The whole request in one piece: 1 and its status.
static int
s_status (const char *request)
{
    nws_head_t head;
    int rc = nws_head_parse (request, strlen (request), S_MAX, &head);
    if (rc != 1) {
        fprintf (stderr, "undecided: %s\n", request);
        exit (1);
    }
    return head.status;
}

//  Every proper prefix of request is undecided, unless it may be refused
//  early (then the verdict of each prefix is either "more" or status).
static void
s_prefixes_undecided (const char *request, int status)
{
    size_t len = strlen (request);
    for (size_t n = 0; n < len; n++) {
        nws_head_t head;
        int rc = nws_head_parse (request, n, S_MAX, &head);
        if (rc != 0 && !(rc == 1 && head.status == status && status)) {
            fprintf (stderr, "prefix of %zu bytes decided (%d, status %d): %.*s\n",
                     n, rc, head.status, (int) n, request);
            CHECK (0);
        }
    }
}

static void
acceptable_requests (void)
{
    static const char *ok [] = {
        "GET /local/chat HTTP/1.1\r\nHost: localhost\r\n" S_WS "\r\n",
        "GET / HTTP/1.1\r\nHost: localhost:9009\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /status HTTP/1.1\r\nhost: x\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
        "GET /local/a HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
            "Connection: keep-alive, Upgrade\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: h\r\nX-Utf8: caf\xc3\xa9\r\n\r\n",
        NULL
    };
    for (const char **r = ok; *r; r++) {
        CHECK_INT (s_status (*r), 0);
        s_prefixes_undecided (*r, 0);
        nws_head_t head;
        CHECK_INT (nws_head_parse (*r, strlen (*r), S_MAX, &head), 1);
        CHECK_INT (head.length, strlen (*r));
    }
}

static void
length_excludes_what_follows (void)
{
    const char *req = "GET / HTTP/1.1\r\nHost: h\r\n\r\n\x81\x85" "abcde";
    nws_head_t head;
    CHECK_INT (nws_head_parse (req, strlen (req), S_MAX, &head), 1);
    CHECK_INT (head.status, 0);
    CHECK_INT (head.length, strlen ("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
}

static void
query_is_located (void)
{
    const char *req = "GET /local/x?c=%00&d HTTP/1.1\r\nHost: h\r\n\r\n";
    nws_head_t head;
    CHECK_INT (nws_head_parse (req, strlen (req), S_MAX, &head), 1);
    CHECK_INT (head.status, 0);
    CHECK_INT (head.query_at, strlen ("GET /local/x"));
    CHECK_INT (head.query_len, strlen ("?c=%00&d"));
    CHECK_INT (head.path_at, strlen ("GET "));
    CHECK_INT (head.path_len, strlen ("/local/x"));
    CHECK_INT (head.is_get, 1);
    req = "GET /local/x HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK_INT (nws_head_parse (req, strlen (req), S_MAX, &head), 1);
    CHECK_INT (head.query_at, 0);
    CHECK_INT (head.query_len, 0);
    CHECK_INT (head.path_len, strlen ("/local/x"));
    req = "HEAD /local/y HTTP/1.1\r\nHost: h\r\n\r\n";
    CHECK_INT (nws_head_parse (req, strlen (req), S_MAX, &head), 1);
    CHECK_INT (head.path_at, strlen ("HEAD "));
    CHECK_INT (head.is_get, 0);
}

static void
methods (void)
{
    static const char *other [] = {
        "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "M-SEARCH", NULL
    };
    char req [256];
    for (const char **m = other; *m; m++) {
        //  Decided as soon as the method is known, whatever follows.
        snprintf (req, sizeof req, "%s ", *m);
        nws_head_t head;
        CHECK_INT (nws_head_parse (req, strlen (req), S_MAX, &head), 1);
        CHECK_INT (head.status, 405);
        CHECK_STR (head.allow, "GET, HEAD");
        snprintf (req, sizeof req, "%s /local/x HTTP/1.1\r\nHost: h\r\n\r\n", *m);
        CHECK_INT (s_status (req), 405);
    }
    CHECK_INT (s_status ("CONNECT localhost:9009 HTTP/1.1\r\n\r\n"), 405);
    //  Unknown ones too (methods are case-sensitive), and overlong tokens.
    CHECK_INT (s_status ("get / HTTP/1.1\r\nHost: h\r\n\r\n"), 405);
    CHECK_INT (s_status ("FOO / HTTP/1.1\r\nHost: h\r\n\r\n"), 405);
    CHECK_INT (s_status ("GETS / HTTP/1.1\r\nHost: h\r\n\r\n"), 405);
    CHECK_INT (s_status ("GE / HTTP/1.1\r\nHost: h\r\n\r\n"), 405);
    CHECK_INT (s_status ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 405);
    nws_head_t head;
    CHECK_INT (nws_head_parse ("GET", 3, S_MAX, &head), 0);
    CHECK_INT (nws_head_parse ("GETX", 4, S_MAX, &head), 0);
}

static void
malformed_request_lines (void)
{
    static const char *bad [] = {
        "GET/local/target\r\n\r\n", "\r\n\r\n", "\x16\x03\x01\x00\xa5", " GET / HTTP/1.1\r\n",
        "GET  / HTTP/1.1\r\n", "GET local HTTP/1.1\r\n", "GET / HTTP/1.1 \r\n",
        "GET / HTTP/1.1\n", "GET / http/1.1\r\n", "GET / HTTP/11\r\n", "GET /\x01 HTTP/1.1\r\n",
        "GET /\xc3\xa9 HTTP/1.1\r\n", "GET / HTTP/1.1\rX", "\x00\x00\x00",
        NULL
    };
    for (const char **r = bad; *r; r++) {
        nws_head_t head;
        size_t len = strlen (*r) ? strlen (*r) : 3;
        if (nws_head_parse (*r, len, S_MAX, &head) != 1 || head.status != 400) {
            fprintf (stderr, "not a 400 at once: %s\n", *r);
            CHECK (0);
        }
        CHECK (head.why != NULL);
    }
    CHECK_INT (s_status ("GET / HTTP/2.0\r\n\r\n"), 505);
    CHECK_INT (s_status ("GET / HTTP/0.9\r\n\r\n"), 505);
}

static void
malformed_header_lines (void)
{
    static const char *bad [] = {
        "NoColonHere\r\n", "X-A : v\r\n", ": v\r\n", " folded\r\n", "\tfolded\r\n",
        "X-A: a\x01" "b\r\n", "X-A: a\x7f\r\n", "X-A: a\rb\r\n", "X-A: a\n", "X(A): v\r\n",
        "\rX", NULL
    };
    char req [256];
    for (const char **line = bad; *line; line++) {
        snprintf (req, sizeof req, "GET / HTTP/1.1\r\nHost: h\r\n%s\r\n", *line);
        CHECK_INT (s_status (req), 400);
    }
    //  A NUL, which strlen cannot carry.
    static const char nul [] = "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n";
    nws_head_t head;
    CHECK_INT (nws_head_parse (nul, sizeof nul - 1, S_MAX, &head), 1);
    CHECK_INT (head.status, 400);
    //  Refused at the bad byte, without waiting for the end of the head.
    CHECK_INT (nws_head_parse (nul, strlen ("GET / HTTP/1.1\r\nHost: h\r\nX-A: a") + 1,
                               S_MAX, &head), 1);
    CHECK_INT (head.status, 400);
}

static void
websocket_rules (void)
{
    CHECK_INT (s_status ("GET /local/x HTTP/1.0\r\nHost: h\r\n" S_WS "\r\n"), 400);
    CHECK_INT (s_status ("HEAD /local/x HTTP/1.1\r\nHost: h\r\n" S_WS "\r\n"), 405);
    CHECK_INT (s_status ("GET /local/x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n"), 400);
    CHECK_INT (s_status ("GET /local/x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                         "Connection: keep-alive\r\n\r\n"), 400);
    CHECK_INT (s_status ("GET /local/x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                         "Connection: upgraded\r\n\r\n"), 400);
    CHECK_INT (s_status ("GET /local/x HTTP/1.1\r\n" S_WS "\r\n"), 400);
    CHECK_INT (s_status ("GET / HTTP/1.1\r\n\r\n"), 400);
    CHECK_INT (s_status ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
}

static void
nul_in_path (void)
{
    CHECK_INT (s_status ("GET /local/%00 HTTP/1.1\r\nHost: h\r\n\r\n"), 404);
    CHECK_INT (s_status ("GET /local/a%00b HTTP/1.1\r\nHost: h\r\n\r\n"), 404);
    CHECK_INT (s_status ("GET /local/x%00 HTTP/1.1\r\nHost: h\r\n\r\n"), 404);
    //  "%2500" is a percent sign and "00", not a NUL.
    CHECK_INT (s_status ("GET /local/a%2500 HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    CHECK_INT (s_status ("GET /local/x?%00 HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
}

static void
sizes (void)
{
    static char req [3 * S_MAX];
    //  A target over half the limit: 414 as soon as that is clear.
    memset (req, 'a', sizeof req);
    memcpy (req, "GET /", 5);
    nws_head_t head;
    CHECK_INT (nws_head_parse (req, S_MAX / 2 + 7, S_MAX, &head), 1);
    CHECK_INT (head.status, 414);
    //  A head that fills the limit unfinished: 431.
    int n = snprintf (req, sizeof req, "GET / HTTP/1.1\r\nX-Big: ");
    memset (req + n, 'b', sizeof req - (size_t) n);
    CHECK_INT (nws_head_parse (req, S_MAX - 1, S_MAX, &head), 0);
    CHECK_INT (nws_head_parse (req, S_MAX, S_MAX, &head), 1);
    CHECK_INT (head.status, 431);
    //  Too many lines, however short.
    n = snprintf (req, sizeof req, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < NWS_HEAD_MAX_LINES; i++)
        n += snprintf (req + n, sizeof req - (size_t) n, "X: v\r\n");
    n += snprintf (req + n, sizeof req - (size_t) n, "\r\n");
    CHECK_INT (nws_head_parse (req, (size_t) n, S_MAX, &head), 1);
    CHECK_INT (head.status, 431);
}

static void
early_refusals_stay_refused (void)
{
    //  Once refused, more bytes never make a request acceptable.
    const char *req = "GET / HTTP/1.1\r\nHost: h\r\nBad Line\r\n\r\n";
    size_t at = strlen ("GET / HTTP/1.1\r\nHost: h\r\nBad ");
    for (size_t n = at; n <= strlen (req); n++) {
        nws_head_t head;
        CHECK_INT (nws_head_parse (req, n, S_MAX, &head), 1);
        CHECK_INT (head.status, 400);
    }
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (acceptable_requests),
        NWS_UNIT_CASE (length_excludes_what_follows),
        NWS_UNIT_CASE (query_is_located),
        NWS_UNIT_CASE (methods),
        NWS_UNIT_CASE (malformed_request_lines),
        NWS_UNIT_CASE (malformed_header_lines),
        NWS_UNIT_CASE (websocket_rules),
        NWS_UNIT_CASE (nul_in_path),
        NWS_UNIT_CASE (sizes),
        NWS_UNIT_CASE (early_refusals_stay_refused),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
