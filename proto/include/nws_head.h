/*  nws_head - a strict first look at an HTTP request head.

    The gateway reads each new connection's request head itself before
    lws sees it: lws 4.1 is lenient where RFC 7230 and RFC 6455 are strict
    (HTTP/1.0 upgrades, no Connection header), and where it is not, it
    drops the connection or waits for the handshake timeout instead of
    answering (a header line without a colon, a NUL, "%00", CONNECT). This
    module decides, from the bytes that have arrived, whether the head is
    still plausible, complete and acceptable, or which status refuses it.
    It parses from the start each time; the listener calls it only when a
    line may have ended, so a byte-at-a-time sender costs linear time.

    What passes still goes through lws and the gateway's own checks (paths,
    names, loopback rules, Sec-WebSocket-Key and -Version), which answer
    with their own statuses; this is only the part they cannot do.

    Pure functions, no allocation, safe from any thread.
*/
#ifndef NWS_HEAD_H
#define NWS_HEAD_H

#include <stddef.h>

#define NWS_HEAD_MAX_LINES 100      /* header lines in one request */
#define NWS_HEAD_METHOD_MAX 16      /* longest method token we read */

typedef struct {
    int status;                     /* 0 acceptable, else the HTTP status to answer */
    const char *why;                /* static reason when status != 0 */
    const char *allow;              /* the Allow header's value with 405, else NULL */
    size_t length;                  /* bytes of the head, blank line included */
    size_t path_at;                 /* offset of the target's path */
    size_t path_len;                /* its length, up to any '?' */
    int is_get;                     /* the method is GET */
    size_t query_at;                /* offset of the target's '?', or 0 */
    size_t query_len;               /* bytes from '?' to the end of the target */
} nws_head_t;

/*  Looks at the first len bytes a client sent (max: the most a head may
    take). Returns 0 when more bytes are needed, or 1 with *head filled:
    status 0 if the complete head is acceptable, else the status that
    refuses it (decided as early as the bytes allow). A head that does not
    fit in max bytes gets 431, a target over half of max 414.  */
int nws_head_parse (const char *buf, size_t len, size_t max, nws_head_t *head);

#endif
