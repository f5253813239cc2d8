/*  nws_status - the gateway's counters and status pages.  */
#include "nws_status.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nws_channel.h"
#include "nws_limits.h"
#include "nws_room.h"

//  Every counter once, for /status and /metrics alike, in their order:
//  its name (JSON key; Prometheus nws_<name>_total), its value (from c,
//  our counters; hub, the hub link's; door, the listener's) and its help.
#define S_COUNTERS(X) \
    X (accepted, c->accepted, "WebSocket handshakes completed") \
    X (refused_full, c->refused_full, "connections closed at once: over --max-clients") \
    X (refused_clients, c->refused_clients, "upgrades refused with 503: --max-clients") \
    X (refused_address, c->refused_address, \
       "upgrades refused with 429: --max-clients-per-address") \
    X (refused_channels, c->refused_channels, "upgrades refused with 503: --max-channels") \
    X (refused_origin, c->refused_origin, \
       "upgrades refused with 403: a web page of an origin --allow-origin keeps out") \
    X (messages_in, c->messages_in, "messages received from clients") \
    X (deliveries, c->deliveries, "messages queued to clients") \
    X (hub_messages, c->hub_messages, "messages of other origins from the hub") \
    X (unrouted, c->unrouted, "hub messages for channels without clients here") \
    X (proxy_ignored, c->proxy_ignored, "messages sent by proxy links, which only read") \
    X (closed_too_big, c->closed_too_big, \
       "clients closed with 1009: message over --max-message") \
    X (closed_slow, c->closed_slow, "clients closed with 4001: send queue full") \
    X (closed_gap, c->closed_gap, "clients closed with 4002: messages lost upstream") \
    X (closed_idle, c->closed_idle, "clients dropped after --idle-secs of silence") \
    X (closed_bad_utf8, c->closed_bad_utf8, \
       "clients closed with 1007: a text message that is not UTF-8") \
    X (closed_bad_close, c->closed_bad_close, \
       "clients closed with 1002 or 1007: an invalid close frame") \
    X (closed_protocol_error, c->closed_protocol, \
       "clients closed with 1002 by libwebsockets: a protocol error") \
    X (gaps, c->gaps, "sequence gaps seen on hub messages") \
    X (http_errors, c->http_errors + door.refused, \
       "HTTP requests answered with an error status") \
    X (hub_published, hub.published, "messages published to the hub") \
    X (hub_publish_failed, hub.publish_failed, "messages the hub socket refused") \
    X (hub_malformed, hub.malformed, "malformed messages received from the hub") \
    X (hub_sync_timeouts, hub.sync_timeouts, \
       "channel subscriptions the hub did not confirm in time") \
    X (hub_connects, hub.connects, "handshakes with a hub: 1 plus the restarts seen") \
    X (refused_head, door.refused, "requests refused on their head alone: malformed, " \
       "not GET, too large (also in http_errors)") \
    X (handshake_timeouts, door.timeouts, \
       "connections closed: no complete request head in time") \
    X (replayed, c->replayed, "messages a peer proxy's link got from the replay ring " \
       "(it linked late or came back)") \
    X (departed_marks, c->departed_marks, "marks sent for senders that had already left") \
    X (refused_link_nokey, c->refused_link_nokey, \
       "proxy links refused with 403: plain HTTP to private broadcast (--key)") \
    X (refused_tls, c->refused_tls, \
       "TLS handshakes refused: the peer has no network key, or another") \
    X (refused_private, c->refused_private, "requests refused with 403 by private " \
       "broadcast: /broadcast from another host, or not a link over TLS")

static const struct {
    const char *name;
    const char *help;
} s_counter_info [] = {
#define S_INFO(name, value, help) { #name, help },
    S_COUNTERS (S_INFO)
#undef S_INFO
};
#define S_COUNTER_COUNT (sizeof s_counter_info / sizeof s_counter_info [0])

static void
s_counter_values (const nws_status_t *status, uint64_t *values)
{
    const nws_counters_t *c = status->counters;
    const nws_hublink_stats_t hub = status->hub;
    const nws_listener_stats_t door = status->door;
    uint64_t all [] = {
#define S_VALUE(name, value, help) value,
        S_COUNTERS (S_VALUE)
#undef S_VALUE
    };
    memcpy (values, all, sizeof all);
}

//  Prometheus text format, version 0.0.4.
void
nws_status_metrics (const nws_status_t *status, nws_text_t *out)
{
    uint64_t values [S_COUNTER_COUNT];
    s_counter_values (status, values);
    for (size_t i = 0; i < S_COUNTER_COUNT; i++)
        nws_text_printf (out, "# HELP nws_%s_total %s\n# TYPE nws_%s_total counter\n"
                         "nws_%s_total %llu\n", s_counter_info [i].name, s_counter_info [i].help,
                         s_counter_info [i].name, s_counter_info [i].name,
                         (unsigned long long) values [i]);
    nws_text_printf (out, "# HELP nws_clients WebSocket clients connected\n# TYPE nws_clients gauge\n"
                     "nws_clients %u\n# HELP nws_connections sockets open\n"
                     "# TYPE nws_connections gauge\nnws_connections %u\n"
                     "# HELP nws_channels channels with clients here\n# TYPE nws_channels gauge\n"
                     "nws_channels %zu\n", status->clients, status->connections,
                     zhashx_size (status->rooms));
}

//  Adds ,"key":<object> from a JSON file that another nws process keeps in
//  the runtime directory (nws-hub's counters, nws-discovery's adverts and
//  links), or null when it is missing or not an object.
static void
s_status_embed (const nws_status_t *status, nws_text_t *out, const char *key, const char *file)
{
    char path [300], buf [65536];
    snprintf (path, sizeof path, "%s/%s", status->runtime_dir, file);
    FILE *in = fopen (path, "re");
    size_t len = in ? fread (buf, 1, sizeof buf - 1, in) : 0;
    if (in)
        fclose (in);
    while (len && (buf [len - 1] == '\n' || buf [len - 1] == ' '))
        len--;
    buf [len] = '\0';
    int object = len >= 2 && buf [0] == '{' && buf [len - 1] == '}' && !memchr (buf, 0, len);
    nws_text_printf (out, ",\"%s\":%s", key, object ? buf : "null");
}

//  "origins":{"<origin>":<clients>,...},"origins_unlisted":N,"no_origin":N
//  for a channel (its clients that are not proxy links).
static void
s_status_origins (const nws_origin_tally_t *tally, nws_text_t *out)
{
    nws_text_printf (out, "\"origins\":{");
    const char *sep = "";
    for (int i = 0; i < NWS_ORIGIN_TALLY_MAX; i++)
        if (tally->names [i]) {
            nws_text_printf (out, "%s", sep);
            nws_text_json_string (out, tally->names [i]);
            nws_text_printf (out, ":%u", tally->counts [i]);
            sep = ",";
        }
    nws_text_printf (out, "},\"origins_unlisted\":%u,\"no_origin\":%u", tally->unlisted,
                     tally->none);
}

void
nws_status_json (const nws_status_t *status, nws_text_t *out)
{
    nws_text_printf (out, "{\"version\":\"%s\",\"gateway\":{\"pid\":%d,\"instance\":\"%08x\","
                     "\"port\":%u,\"broadcast\":\"%s\",\"uptime_ms\":%lld},\"connections\":%u,"
                     "\"clients\":%u,\"channels\":[",
                     NWS_VERSION, (int) getpid (), status->instance, status->port,
                     status->private_broadcast ? "private" : "open", (long long) status->uptime_ms,
                     status->connections, status->clients);
    const char *sep = "";
    for (nws_room_t *room = zhashx_first (status->rooms); room; room = zhashx_next (status->rooms)) {
        unsigned shadowed = 0;
        for (nws_session_t *m = room->first; m; m = m->next)
            shadowed += m->shadowed;
        nws_text_printf (out, "%s{\"scope\":\"%s\",\"name\":\"%s\",\"clients\":%u,"
                         "\"proxies\":%u,\"shadowed\":%u,\"messages\":%llu,", sep,
                         nws_channel_scope_str (room->channel.scope), room->channel.name,
                         room->clients, room->proxies, shadowed,
                         (unsigned long long) room->messages);
        s_status_origins (&room->web_origins, out);
        nws_text_printf (out, "}");
        sep = ",";
    }
    nws_text_printf (out, "],\"counters\":{");
    uint64_t values [S_COUNTER_COUNT];
    s_counter_values (status, values);
    for (size_t i = 0; i < S_COUNTER_COUNT; i++)
        nws_text_printf (out, "%s\"%s\":%llu", i ? "," : "", s_counter_info [i].name,
                         (unsigned long long) values [i]);
    nws_text_printf (out, "}");
    s_status_embed (status, out, "hub", "hub.json");
    s_status_embed (status, out, "discovery", "discovery.json");
    nws_text_printf (out, "}\n");
}

void
nws_status_html (const nws_status_t *status, nws_text_t *out)
{
    nws_text_printf (out, "<!doctype html><html><head><meta charset=\"utf-8\">"
                     "<title>nws gateway</title></head><body>"
                     "<h1>nws gateway</h1><p>Version %s, pid %d, port %u: %u WebSocket "
                     "clients in %zu channels.</p><table><tr><th>channel</th>"
                     "<th>clients</th><th>proxies</th><th>messages</th></tr>",
                     NWS_VERSION, (int) getpid (), status->port, status->clients,
                     zhashx_size (status->rooms));
    for (nws_room_t *room = zhashx_first (status->rooms); room; room = zhashx_next (status->rooms))
        nws_text_printf (out, "<tr><td>/%s/%s</td><td>%u</td><td>%u</td><td>%llu</td></tr>",
                         nws_channel_scope_str (room->channel.scope), room->channel.name,
                         room->clients, room->proxies, (unsigned long long) room->messages);
    nws_text_printf (out, "</table><p><a href=\"/status\">/status</a> (JSON)</p></body></html>\n");
}


const nws_status_page_t *
nws_status_page (const char *path)
{
    static const nws_status_page_t pages [] = {
        { "/", "text/html; charset=utf-8", nws_status_html },
        { "/status", "application/json", nws_status_json },
        { "/metrics", "text/plain; version=0.0.4; charset=utf-8", nws_status_metrics },
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages [0]; i++)
        if (strcmp (path, pages [i].path) == 0)
            return &pages [i];
    return NULL;
}
