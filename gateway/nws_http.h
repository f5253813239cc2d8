/*  nws_http - small helpers for answering plain HTTP requests in lws.  */
#ifndef NWS_HTTP_H
#define NWS_HTTP_H

#include <libwebsockets.h>
#include <stddef.h>

#include "nws_text.h"

#if LWS_PRE != NWS_TEXT_HEADROOM
#error "nws_text headroom must equal LWS_PRE"
#endif

/*  Sends a complete response with body and finishes the transaction.
    extra_headers is NULL or "Name: value\r\n" lines. Returns what the lws
    callback should return (0, or -1 to close).  */
int nws_http_respond (struct lws *wsi, int status, const char *content_type,
                      const char *extra_headers, nws_text_t *body);

/*  Sends status with a one-line plain-text body saying why, and finishes
    the transaction (use the return value as above). For
    LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, return 1 instead when it is 0.  */
int nws_http_error (struct lws *wsi, int status, const char *why);

/*  The same, with the methods a 405 names in its Allow header.  */
int nws_http_error_allow (struct lws *wsi, int status, const char *why, const char *allow);

/*  1 if the request comes from this host and names it: a loopback peer
    (judged on the socket) and a Host header, if any, of localhost,
    127.x.x.x or [::1]. The Host check stops DNS rebinding: a page of a
    name that resolves to 127.0.0.1 is not a local page.  */
int nws_http_request_is_local (struct lws *wsi);

/*  Writes the peer's address (of wsi, or of the socket fd) as text
    (IPv4-mapped IPv6 as plain IPv4).
    Returns 0, or -1 if it cannot be had.  */
int nws_http_peer_address (struct lws *wsi, char *buf, size_t cap);
int nws_http_fd_peer_address (int fd, char *buf, size_t cap);

/*  1 if the connection's peer has a loopback address (127/8, ::1 or
    IPv4-mapped 127/8), judged on the socket, not on any header.  */
int nws_http_peer_is_loopback (struct lws *wsi);

/*  The same for a connected socket.  */
int nws_http_fd_is_loopback (int fd);

/*  The reason phrase of an HTTP status, e.g. "Not Found".  */
const char *nws_http_reason (int status);

#endif
