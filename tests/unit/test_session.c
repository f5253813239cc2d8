/*  Unit tests of the gateway's per-client pieces: framing, close codes,
    the keepalive decision and the cork list (nws_session); the status
    pages (nws_status); a peer proxy's resume header (nws_proxylink).  */
#include "nws_proxylink.h"
#include "nws_session.h"
#include "nws_status.h"
#include "nws_unit.h"

#include "nws_envelope.h"

//  2, 4 or 10 bytes, at the RFC 6455 length boundaries; FIN set, no mask.
static void
frame_header (void)
{
    uint8_t h [10];
    CHECK_INT (nws_session_frame_header (h, NWS_KIND_TEXT, 0), 2);
    CHECK_MEM (h, "\x81\x00", 2);
    CHECK_INT (nws_session_frame_header (h, NWS_KIND_BINARY, 125), 2);
    CHECK_MEM (h, "\x82\x7d", 2);
    CHECK_INT (nws_session_frame_header (h, NWS_KIND_TEXT, 126), 4);
    CHECK_MEM (h, "\x81\x7e\x00\x7e", 4);
    CHECK_INT (nws_session_frame_header (h, NWS_KIND_TEXT, 65535), 4);
    CHECK_MEM (h, "\x81\x7e\xff\xff", 4);
    CHECK_INT (nws_session_frame_header (h, NWS_KIND_BINARY, 65536), 10);
    CHECK_MEM (h, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    CHECK_INT (nws_session_frame_header (h, NWS_KIND_BINARY, (size_t) 1 << 40), 10);
    CHECK_MEM (h, "\x82\x7f\x00\x00\x01\x00\x00\x00\x00\x00", 10);
}

//  RFC 6455 7.4: what a peer may put in a close frame.
static void
close_codes (void)
{
    static const struct { unsigned code; int valid; } table [] = {
        { 0, 0 }, { 999, 0 }, { 1000, 1 }, { 1001, 1 }, { 1002, 1 }, { 1003, 1 },
        { 1004, 0 }, { 1005, 0 }, { 1006, 0 }, { 1007, 1 }, { 1011, 1 }, { 1014, 1 },
        { 1015, 0 }, { 1016, 0 }, { 2999, 0 }, { 3000, 1 }, { 4001, 1 }, { 4999, 1 },
        { 5000, 0 }, { 65535, 0 },
    };
    for (size_t i = 0; i < sizeof table / sizeof table [0]; i++)
        if (nws_session_close_code_valid (table [i].code) != table [i].valid) {
            fprintf (stderr, "close code %u\n", table [i].code);
            CHECK (0);
        }
}

//  A close frame's payload: empty or a valid code with a UTF-8 reason.
static void
close_check (void)
{
    CHECK_INT (nws_session_close_check (NULL, 0), 0);
    CHECK_INT (nws_session_close_check ((const uint8_t *) "\x03\xe8", 2), 0);
    CHECK_INT (nws_session_close_check ((const uint8_t *) "\x03\xe8" "bye \xc3\xa9", 8), 0);
    CHECK_INT (nws_session_close_check ((const uint8_t *) "\x03", 1), 1002);
    CHECK_INT (nws_session_close_check ((const uint8_t *) "\x03\xed", 2), 1002);
    CHECK_INT (nws_session_close_check ((const uint8_t *) "\x03\xe8\xff", 3), 1007);
    CHECK_INT (nws_session_close_check ((const uint8_t *) "\x03\xe8\xc3", 3), 1007);
    //  A bad code is reported before a bad reason.
    CHECK_INT (nws_session_close_check ((const uint8_t *) "\x03\xed\xff", 3), 1002);
}

//  Ping after ping_ms of silence; drop after idle_ms, and only once a
//  ping has been out for a second.
static void
keepalive (void)
{
    nws_session_t s;
    memset (&s, 0, sizeof s);
    s.last_rx = 1000;
    CHECK_INT (nws_session_keepalive (&s, 1000 + 30000, 30000, 75000), NWS_KEEPALIVE_NONE);
    CHECK_INT (nws_session_keepalive (&s, 1000 + 30001, 30000, 75000), NWS_KEEPALIVE_PING);
    s.ping_sent = 1;
    s.ping_sent_at = 1000 + 30001;
    CHECK_INT (nws_session_keepalive (&s, 1000 + 60000, 30000, 75000), NWS_KEEPALIVE_NONE);
    CHECK_INT (nws_session_keepalive (&s, 1000 + 75001, 30000, 75000), NWS_KEEPALIVE_DROP);
    //  A ping sent just now is given its second, however long the silence.
    s.ping_sent_at = 1000 + 75000;
    CHECK_INT (nws_session_keepalive (&s, 1000 + 75500, 30000, 75000), NWS_KEEPALIVE_NONE);
    CHECK_INT (nws_session_keepalive (&s, 1000 + 76000, 30000, 75000), NWS_KEEPALIVE_DROP);
    //  Heard from: nothing is due.
    s.ping_sent = 0;
    s.last_rx = 1000 + 76000;
    CHECK_INT (nws_session_keepalive (&s, 1000 + 76000, 30000, 75000), NWS_KEEPALIVE_NONE);
}

//  The cork list: each session once, newest first; any can leave; the
//  first to join says so (the loop's idle watcher starts then).
static void
cork_list (void)
{
    nws_session_t a, b, c;
    memset (&a, 0, sizeof a);
    memset (&b, 0, sizeof b);
    memset (&c, 0, sizeof c);
    nws_session_t *list = NULL;
    CHECK_INT (nws_session_cork (&a, &list), 1);
    CHECK_INT (nws_session_cork (&a, &list), 0);
    CHECK_INT (nws_session_cork (&b, &list), 0);
    CHECK_INT (nws_session_cork (&c, &list), 0);
    CHECK (list == &c && c.cork_next == &b && b.cork_next == &a && !a.cork_next);
    nws_session_uncork (&b, &list);
    CHECK (list == &c && c.cork_next == &a && a.cork_prev == &c && !b.corked);
    nws_session_uncork (&b, &list);
    nws_session_uncork (&c, &list);
    CHECK (list == &a && !a.cork_prev);
    nws_session_uncork (&a, &list);
    CHECK (list == NULL);
    CHECK_INT (nws_session_cork (&b, &list), 1);
}

//  Release drops the queue, the half-received message and the cork.
static void
release (void)
{
    nws_session_t s;
    memset (&s, 0, sizeof s);
    nws_session_t *list = NULL;
    nws_frame_t *frame = nws_frame_new (10, NWS_KIND_TEXT);
    CHECK (frame != NULL);
    CHECK_INT (nws_queue_push (&s.queue, frame, 10, 1000), 0);
    CHECK_INT (frame->refs, 2);
    s.rx = nws_frame_new (10, NWS_KIND_BINARY);
    CHECK (s.rx != NULL);
    nws_session_cork (&s, &list);
    nws_session_release (&s, &list);
    CHECK (list == NULL && !s.corked && !s.rx && s.queue.count == 0);
    CHECK_INT (frame->refs, 1);
    nws_frame_unref (&frame);
}

//  X-Nws-Resume: exactly <8 hex>:<8 hex>:<decimal>.
static void
resume_header (void)
{
    uint32_t instance = 0, epoch = 0;
    uint64_t next = 0;
    CHECK_INT (nws_proxylink_parse_resume ("0badf00d:DEADBEEF:42", &instance, &epoch, &next), 0);
    CHECK_U64 (instance, 0x0badf00d);
    CHECK_U64 (epoch, 0xdeadbeef);
    CHECK_U64 (next, 42);
    CHECK_INT (nws_proxylink_parse_resume ("00000001:00000002:9999999999999999999",
                                           &instance, &epoch, &next), 0);
    CHECK_U64 (next, 9999999999999999999ULL);
    static const char *bad [] = {
        "", "1:2:3", "0badf00d:deadbeef:", "0badf00d:deadbeef", "0badf00d:deadbeef:1x",
        "0badf00d:deadbeef: 1", "0badf00d:deadbeef:-1", "0badf00g:deadbeef:1",
        "0badf00d;deadbeef:1", "0badf00d:deadbeef:12345678901234567890",
        "0badf00d:deadbeef:1:2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        if (nws_proxylink_parse_resume (bad [i], &instance, &epoch, &next) == 0) {
            fprintf (stderr, "accepted \"%s\"\n", bad [i]);
            CHECK (0);
        }
}

//  /metrics: every counter with its HELP and TYPE; /status embeds what
//  the hub wrote, and null for a file that is missing or not an object.
static void
status_pages (void)
{
    char dir [] = "/tmp/nws-unit-status-XXXXXX";
    CHECK (mkdtemp (dir) != NULL);
    char path [64];
    snprintf (path, sizeof path, "%s/hub.json", dir);
    FILE *f = fopen (path, "w");
    CHECK (f != NULL);
    fputs ("{\"forwarded\":7}\n", f);
    fclose (f);
    nws_counters_t counters = { .accepted = 3, .closed_gap = 5 };
    nws_status_t status = {
        .counters = &counters, .rooms = zhashx_new (), .instance = 0xabc,
        .port = 9009, .clients = 2, .connections = 4, .runtime_dir = dir,
    };
    status.door.refused = 1;
    status.hub.connects = 1;
    nws_text_t out = { 0 };
    nws_status_metrics (&status, &out);
    const char *text = nws_text_str (&out);
    CHECK_HAS (text, "# HELP nws_accepted_total ");
    CHECK_HAS (text, "# TYPE nws_accepted_total counter\nnws_accepted_total 3\n");
    CHECK_HAS (text, "nws_closed_gap_total 5\n");
    CHECK_HAS (text, "nws_http_errors_total 1\n");
    CHECK_HAS (text, "nws_hub_connects_total 1\n");
    CHECK_HAS (text, "nws_clients 2\n");
    //  As many HELP lines as TYPE lines as samples.
    int help = 0, type = 0, samples = 0;
    for (const char *line = text; *line; line = strchr (line, '\n') + 1) {
        help += strncmp (line, "# HELP ", 7) == 0;
        type += strncmp (line, "# TYPE ", 7) == 0;
        samples += line [0] != '#';
    }
    CHECK_INT (help, type);
    CHECK_INT (help, samples);
    nws_text_free (&out);
    nws_status_json (&status, &out);
    text = nws_text_str (&out);
    CHECK_HAS (text, "\"instance\":\"00000abc\"");
    CHECK_HAS (text, "\"accepted\":3");
    CHECK_HAS (text, "\"hub\":{\"forwarded\":7}");
    CHECK_HAS (text, "\"discovery\":null");
    nws_text_free (&out);
    CHECK (nws_status_page ("/metrics") && nws_status_page ("/status") && nws_status_page ("/"));
    CHECK (nws_status_page ("/status/") == NULL && nws_status_page ("/console") == NULL);
    zhashx_destroy (&status.rooms);
    unlink (path);
    rmdir (dir);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (frame_header),
        NWS_UNIT_CASE (close_codes),
        NWS_UNIT_CASE (close_check),
        NWS_UNIT_CASE (keepalive),
        NWS_UNIT_CASE (cork_list),
        NWS_UNIT_CASE (release),
        NWS_UNIT_CASE (resume_header),
        NWS_UNIT_CASE (status_pages),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
