/*  nws_proxylink - the handshake of a peer proxy's inbound link: who it
    is, and where its stream starts.

    A peer proxy dials /broadcast/<name> with X-BroadcastWebSocket-Proxy:
    true (the original's convention). An nws peer also sends its proxy id
    (X-Nws-Proxy-Id) and how far it got (X-Nws-Resume, X-Nws-Since-Ms);
    the 101 tells it our proxy id and where its stream starts
    (X-Nws-Proxy-Id, X-Nws-Stream). docs/DESIGN.md section 3 has the
    conventions.

    Internal to the gateway; called from its lws callbacks.
*/
#ifndef NWS_PROXYLINK_H
#define NWS_PROXYLINK_H

#include <libwebsockets.h>
#include <stdint.h>

#include "nws_room.h"

/*  1 if the request says it is a peer proxy's link.  */
int nws_proxylink_is (struct lws *wsi);

/*  Which proxy the link comes from, into buf: "id:<proxy id>" when an nws
    peer says, else "mac:<link-layer address>" of the peer's address from
    the kernel's neighbour table (the original proxy, which dials once per
    address family from one network card), else "".  */
void nws_proxylink_identity (struct lws *wsi, char *buf, size_t cap);

/*  Parses an X-Nws-Resume value, "<gateway>:<room epoch>:<next index>"
    (8 and 8 hex digits, then 1 to 19 decimal digits). Returns 0, or -1
    if malformed.  */
int nws_proxylink_parse_resume (const char *value, uint32_t *instance, uint32_t *epoch,
                                uint64_t *next);

/*  Sets where the link's stream starts in room's replay ring (session's
    stream_from, and streamed for an nws peer). An nws peer resumes from
    the index it names in our stream (instance is this gateway's), if
    the ring still has it; else it gets what arrived since it says it
    missed messages, at most replay_ms back. Anyone else starts live.  */
void nws_proxylink_stream_start (nws_session_t *session, nws_room_t *room, struct lws *wsi,
                                 uint32_t instance, uint64_t replay_ms);

/*  Adds our proxy id (proxy_id), and for an nws peer its stream start,
    to the 101 (in: lws's ADD_HEADERS argument). Returns 0, or -1 when
    they do not fit.  */
int nws_proxylink_headers (nws_session_t *session, struct lws *wsi, void *in,
                           const char *proxy_id, uint32_t instance);

#endif
