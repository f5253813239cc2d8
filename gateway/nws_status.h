/*  nws_status - what the gateway tells about itself: its counters, and the
    pages that show them (/status in JSON, /metrics for Prometheus, and /
    in HTML).

    Internal to the gateway. The gateway fills an nws_status_t when a page
    is asked for; rendering reads nothing else but the JSON files that the
    hub and discovery keep in the runtime directory.
*/
#ifndef NWS_STATUS_H
#define NWS_STATUS_H

#include <czmq.h>
#include <stdint.h>

#include "nws_hublink.h"
#include "nws_listener.h"
#include "nws_text.h"

//  The gateway's own counters; nws_status.c lists every counter published,
//  these and those of the hub link and listener, with its help text.
typedef struct {
    uint64_t accepted;              /* WebSocket handshakes completed */
    uint64_t refused_full;          /* connections over --max-clients */
    uint64_t messages_in;           /* messages received from clients */
    uint64_t deliveries;            /* messages queued to clients */
    uint64_t hub_messages;          /* messages of other origins from the hub */
    uint64_t unrouted;              /* hub messages for channels without clients here */
    uint64_t proxy_ignored;         /* messages sent by proxy links (they only read) */
    uint64_t closed_too_big;        /* clients closed with 1009 */
    uint64_t closed_slow;           /* clients closed with NWS_CLOSE_SLOW */
    uint64_t closed_gap;            /* clients closed with NWS_CLOSE_GAP */
    uint64_t closed_idle;           /* clients dropped after --idle-secs of silence */
    uint64_t closed_bad_utf8;       /* clients closed with 1007 by us */
    uint64_t closed_bad_close;      /* clients closed with 1002 for a bad close frame */
    uint64_t closed_protocol;       /* clients lws closed with 1002 (protocol error) */
    uint64_t gaps;                  /* sequence gaps seen on the hub */
    uint64_t http_errors;           /* HTTP requests answered 4xx or 5xx */
    uint64_t refused_clients;       /* upgrades refused: --max-clients */
    uint64_t refused_address;       /* upgrades refused: --max-clients-per-address */
    uint64_t refused_channels;      /* upgrades refused: --max-channels */
    uint64_t refused_origin;        /* upgrades refused: --allow-origin */
    uint64_t replayed;              /* messages sent to peer proxy links from the replay ring */
    uint64_t departed_marks;        /* marks sent for clients that had left */
    uint64_t refused_link_nokey;    /* proxy links refused: plain HTTP to a private gateway */
    uint64_t refused_tls;           /* TLS handshakes refused: no network key, or another */
    uint64_t refused_private;       /* other requests refused by private broadcast's rules */
} nws_counters_t;

typedef struct {
    const nws_counters_t *counters; /* the gateway's */
    nws_hublink_stats_t hub;        /* the hub link's */
    nws_listener_stats_t door;      /* the listener's */
    zhashx_t *rooms;                /* topic -> nws_room_t */
    uint32_t instance;              /* the gateway's random id */
    uint16_t port;                  /* where it listens */
    int64_t uptime_ms;              /* since it started */
    uint32_t connections;           /* sockets open, HTTP or WebSocket */
    uint32_t clients;               /* WebSockets open */
    const char *runtime_dir;        /* where hub.json and discovery.json are */
    int private_broadcast;          /* a network key is in use */
} nws_status_t;

typedef void (nws_status_render_fn) (const nws_status_t *status, nws_text_t *out);

typedef struct {
    const char *path;               /* exact */
    const char *type;               /* its Content-Type */
    nws_status_render_fn *render;   /* writes the body */
} nws_status_page_t;

/*  The page served at path, or NULL if path is none of them.  */
const nws_status_page_t *nws_status_page (const char *path);

/*  The pages' bodies.  */
void nws_status_json (const nws_status_t *status, nws_text_t *out);
void nws_status_metrics (const nws_status_t *status, nws_text_t *out);
void nws_status_html (const nws_status_t *status, nws_text_t *out);

#endif
