/*  nws_http - answering plain HTTP requests in lws.  */
#include "nws_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "nws_addr.h"

const char *
nws_http_reason (int status)
{
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 414: return "URI Too Long";
        case 426: return "Upgrade Required";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Error";
    }
}

int
nws_http_respond (struct lws *wsi, int status, const char *content_type,
                  const char *extra_headers, nws_text_t *body)
{
    uint8_t head [LWS_PRE + 1024];
    uint8_t *start = head + LWS_PRE, *p = start, *end = head + sizeof head - 1;
    if (body->failed || !body->data) {
        status = 500;
        content_type = "text/plain";
        nws_text_free (body);
        nws_text_printf (body, "out of memory\n");
        if (body->failed)
            return -1;
    }
    if (lws_add_http_common_headers (wsi, (unsigned) status, content_type,
                                     (lws_filepos_t) body->len, &p, end))
        return -1;
    if (lws_add_http_header_by_name (wsi, (const unsigned char *) "cache-control:",
                                     (const unsigned char *) "no-store", 8, &p, end))
        return -1;
    if (extra_headers) {
        size_t n = strlen (extra_headers);
        if ((size_t) (end - p) < n)
            return -1;
        memcpy (p, extra_headers, n);
        p += n;
    }
    if (lws_finalize_write_http_header (wsi, start, &p, end))
        return -1;
    if (body->len
    &&  lws_write (wsi, (uint8_t *) body->data + LWS_PRE, body->len, LWS_WRITE_HTTP_FINAL)
        != (int) body->len)
        return -1;
    return lws_http_transaction_completed (wsi) ? -1 : 0;
}

int
nws_http_error_allow (struct lws *wsi, int status, const char *why, const char *allow)
{
    nws_text_t body = { 0 };
    char extra [64];
    nws_text_printf (&body, "%d %s: %s\n", status, nws_http_reason (status), why);
    //  405 names the methods allowed; 426 the WebSocket version (RFC 6455 4.4).
    if (status == 405)
        snprintf (extra, sizeof extra, "allow: %s\r\n", allow);
    else
        snprintf (extra, sizeof extra, "sec-websocket-version: 13\r\n");
    int rc = nws_http_respond (wsi, status, "text/plain; charset=utf-8",
                               status == 405 || status == 426 ? extra : NULL, &body);
    nws_text_free (&body);
    return rc;
}

int
nws_http_error (struct lws *wsi, int status, const char *why)
{
    return nws_http_error_allow (wsi, status, why, "GET");
}

int
nws_http_request_is_local (struct lws *wsi)
{
    if (!nws_http_peer_is_loopback (wsi))
        return 0;
    char host [128];
    int len = lws_hdr_total_length (wsi, WSI_TOKEN_HOST);
    if (len <= 0)
        return 1;
    if (len >= (int) sizeof host || lws_hdr_copy (wsi, host, sizeof host, WSI_TOKEN_HOST) < 0)
        return 0;
    //  Drop ":port", but not the colons of "[::1]".
    char *colon = strrchr (host, ':');
    if (colon && (host [0] != '[' || colon > strchr (host, ']')))
        *colon = '\0';
    if (strcasecmp (host, "localhost") == 0 || strcasecmp (host, "localhost.") == 0
    ||  strcmp (host, "[::1]") == 0)
        return 1;
    return nws_addr_text_is_loopback (host);
}

int
nws_http_peer_address (struct lws *wsi, char *buf, size_t cap)
{
    return nws_http_fd_peer_address (lws_get_socket_fd (wsi), buf, cap);
}

int
nws_http_fd_peer_address (int fd, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername (fd, (struct sockaddr *) &ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return inet_ntop (AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, buf,
                          (socklen_t) cap) ? 0 : -1;
    if (ss.ss_family != AF_INET6)
        return -1;
    const struct in6_addr *a = &((const struct sockaddr_in6 *) &ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED (a))
        return inet_ntop (AF_INET, a->s6_addr + 12, buf, (socklen_t) cap) ? 0 : -1;
    return inet_ntop (AF_INET6, a, buf, (socklen_t) cap) ? 0 : -1;
}

int
nws_http_peer_is_loopback (struct lws *wsi)
{
    return nws_http_fd_is_loopback (lws_get_socket_fd (wsi));
}

int
nws_http_fd_is_loopback (int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    return getpeername (fd, (struct sockaddr *) &ss, &len) == 0
        && nws_addr_is_loopback ((struct sockaddr *) &ss);
}
