/*  nws_proxylink - a peer proxy's inbound link: identity and stream.  */
#include "nws_proxylink.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nws_neigh.h"
#include "nws_runtime.h"

int
nws_proxylink_is (struct lws *wsi)
{
    static const char header [] = "x-broadcastwebsocket-proxy:";
    char value [16];
    if (lws_hdr_custom_length (wsi, header, sizeof header - 1) <= 0)
        return 0;
    if (lws_hdr_custom_copy (wsi, value, sizeof value, header, sizeof header - 1) < 0)
        return 0;
    return strcasecmp (value, "true") == 0;
}

//  Reads a request header name (e.g. "x-nws-resume:") into buf. Returns
//  its length, or -1 when it is absent or too long.
static int
s_header (struct lws *wsi, const char *name, char *buf, int cap)
{
    int nlen = (int) strlen (name);
    int len = lws_hdr_custom_length (wsi, name, nlen);
    if (len <= 0 || len >= cap || lws_hdr_custom_copy (wsi, buf, cap, name, nlen) < 0)
        return -1;
    return len;
}

void
nws_proxylink_identity (struct lws *wsi, char *buf, size_t cap)
{
    char id [NWS_PROXY_ID_LEN + 2];
    buf [0] = '\0';
    if (s_header (wsi, "x-nws-proxy-id:", id, sizeof id) > 0 && nws_runtime_proxy_id_valid (id)) {
        snprintf (buf, cap, "id:%s", id);
        return;
    }
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    char mac [NWS_NEIGH_MAX];
    if (getpeername (lws_get_socket_fd (wsi), (struct sockaddr *) &peer, &peer_len) == 0
    &&  nws_neigh_lookup ((struct sockaddr *) &peer, mac, sizeof mac) == 0)
        snprintf (buf, cap, "mac:%s", mac);
}

int
nws_proxylink_parse_resume (const char *value, uint32_t *instance, uint32_t *epoch,
                            uint64_t *next)
{
    unsigned a, b;
    unsigned long long n;
    int used = 0;
    if (strlen (value) < 19 || value [8] != ':' || value [17] != ':'
    ||  strspn (value, "0123456789abcdefABCDEF") != 8
    ||  strspn (value + 9, "0123456789abcdefABCDEF") != 8
    ||  strspn (value + 18, "0123456789") != strlen (value + 18) || strlen (value + 18) > 19
    ||  sscanf (value, "%8x:%8x:%llu%n", &a, &b, &n, &used) != 3 || value [used])
        return -1;
    *instance = a;
    *epoch = b;
    *next = n;
    return 0;
}

void
nws_proxylink_stream_start (nws_session_t *session, nws_room_t *room, struct lws *wsi,
                            uint32_t instance, uint64_t replay_ms)
{
    char value [80];
    session->stream_from = room->replay.next;
    session->streamed = strncmp (session->proxy_peer, "id:", 3) == 0;
    if (!session->streamed)
        return;
    uint32_t their_instance, epoch;
    uint64_t next;
    unsigned long long since;
    char extra;
    if (s_header (wsi, "x-nws-resume:", value, sizeof value) > 0
    &&  nws_proxylink_parse_resume (value, &their_instance, &epoch, &next) == 0
    &&  their_instance == instance && epoch == room->epoch) {
        //  Our own stream: from where it stopped, if we still have that.
        if (next >= nws_replay_first (&room->replay) && next <= room->replay.next)
            session->stream_from = next;
    }
    else
    if (s_header (wsi, "x-nws-since-ms:", value, sizeof value) > 0
    &&  sscanf (value, "%llu%c", &since, &extra) == 1) {
        if (since > replay_ms)
            since = replay_ms;
        session->stream_from = nws_replay_since (&room->replay, zclock_mono () - (int64_t) since);
    }
}

int
nws_proxylink_headers (nws_session_t *session, struct lws *wsi, void *in,
                       const char *proxy_id, uint32_t instance)
{
    struct lws_process_html_args *args = in;
    unsigned char *p = (unsigned char *) args->p, *end = p + args->max_len;
    if (lws_add_http_header_by_name (wsi, (const unsigned char *) "x-nws-proxy-id:",
                                     (const unsigned char *) proxy_id,
                                     (int) strlen (proxy_id), &p, end))
        return -1;
    if (session->streamed) {
        char stream [64];
        int len = snprintf (stream, sizeof stream, "%08x:%08x:%llu", instance,
                            session->room->epoch, (unsigned long long) session->stream_from);
        if (lws_add_http_header_by_name (wsi, (const unsigned char *) "x-nws-stream:",
                                         (const unsigned char *) stream, len, &p, end))
            return -1;
    }
    args->max_len -= (int) (p - (unsigned char *) args->p);
    args->p = (char *) p;
    return 0;
}
