/*  nws_listener - a SO_REUSEPORT listening socket adopted into lws, and
    the first look at each connection's request head.  */
#include "nws_listener.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nws_head.h"
#include "nws_http.h"
#include "nws_log.h"

#define S_HEAD_FIRST 1024           /* head buffer to start with; grows to head_max */

struct nws_listener_t {
    int fd;                         /* listening socket */
    int adopted;                    /* lws owns fd (and closes it) */
    uint16_t port;                  /* bound port */
    size_t head_max;                /* most bytes a request head may take */
    int head_secs;                  /* time allowed for a complete head */
    struct lws_vhost *vhost;        /* where accepted sockets go */
    struct lws_vhost *tls_vhost;    /* where TLS connections go, or NULL */
    const char *head_protocol;      /* for connections still sending their head */
    nws_listener_route_fn *route;   /* may hold a connection, or NULL */
    void *route_arg;                /* for route */
    struct s_pending_t *held;       /* connections held by route, newest first */
    nws_log_rate_t log_rate;        /* refusals logged */
    nws_listener_stats_t stats;     /* counters */
};

//  A connection whose head is still on its way. lws watches a duplicate of
//  its descriptor (lws closes what it adopts); fd itself goes to lws, as an
//  HTTP connection, only once the head is complete and acceptable.
typedef struct s_pending_t {
    int fd;                         /* the connection */
    int done;                       /* fd handed over, closed or held */
    int held;                       /* held by route until released */
    void *tag;                      /* what route held it for */
    struct s_pending_t *next;       /* in the held list */
    int watched;                    /* lws watches it (counted in waiting) */
    int64_t deadline;               /* ms, monotonic */
    char *buf;                      /* what the client sent so far */
    size_t len, cap;                /* bytes in buf, its size */
} s_pending_t;

nws_listener_t *
nws_listener_new (const char *address, uint16_t port, size_t head_max, int head_secs)
{
    struct sockaddr_storage ss = { 0 };
    socklen_t sslen;
    struct sockaddr_in *v4 = (struct sockaddr_in *) &ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) &ss;
    if (inet_pton (AF_INET, address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons (port);
        sslen = sizeof *v4;
    }
    else
    if (inet_pton (AF_INET6, address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons (port);
        sslen = sizeof *v6;
    }
    else {
        nws_error ("--bind: '%s' is not an IPv4 or IPv6 address", address);
        return NULL;
    }
    int fd = socket (ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        nws_error ("socket: %s", strerror (errno));
        return NULL;
    }
    int on = 1, off = 0;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0)
        nws_warn ("SO_REUSEPORT: %s (the port cannot be shared)", strerror (errno));
    if (ss.ss_family == AF_INET6)
        setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (bind (fd, (struct sockaddr *) &ss, sslen) < 0) {
        nws_error ("bind %s port %u: %s", address, port, strerror (errno));
        close (fd);
        return NULL;
    }
    if (listen (fd, 1024) < 0) {
        nws_error ("listen: %s", strerror (errno));
        close (fd);
        return NULL;
    }
    sslen = sizeof ss;
    getsockname (fd, (struct sockaddr *) &ss, &sslen);
    nws_listener_t *self = calloc (1, sizeof *self);
    if (!self) {
        close (fd);
        return NULL;
    }
    self->fd = fd;
    self->head_max = head_max;
    self->head_secs = head_secs;
    self->port = ntohs (ss.ss_family == AF_INET6 ? v6->sin6_port : v4->sin_port);
    return self;
}

uint16_t
nws_listener_port (nws_listener_t *self)
{
    return self->port;
}

int
nws_listener_attach (nws_listener_t *self, struct lws_vhost *vhost, const char *protocol,
                     const char *head_protocol)
{
    lws_sock_file_fd_type fd = { .filefd = self->fd };
    self->vhost = vhost;
    self->head_protocol = head_protocol;
    self->adopted = 1;
    if (!lws_adopt_descriptor_vhost (vhost, LWS_ADOPT_RAW_FILE_DESC, fd, protocol, NULL)) {
        nws_error ("cannot adopt the listening socket into lws");
        return -1;
    }
    return 0;
}

//  p's connection is handed over or closed: no longer waiting. Returns 1.
static int
s_done (nws_listener_t *self, s_pending_t *p)
{
    if (p->watched && !p->done)
        self->stats.waiting--;
    p->done = 1;
    return 1;
}

//  Answers a refused head and closes the connection. The answer is small
//  enough for an empty socket buffer; what the client still sends is read
//  and dropped for a moment, so that our close does not reset the answer
//  away before it is read.
static void
s_refuse (nws_listener_t *self, s_pending_t *p, const nws_head_t *head)
{
    self->stats.refused++;
    if (nws_log_rate (&self->log_rate, NWS_LOG_REFUSALS_PER_SEC)) {
        char peer [INET6_ADDRSTRLEN] = "?";
        nws_http_fd_peer_address (p->fd, peer, sizeof peer);
        nws_info ("refused a request from %s: %d, %s", peer, head->status, head->why);
    }
    //  The answer to a HEAD request has no body (RFC 7231 4.3.2).
    int bodyless = p->len >= 5 && memcmp (p->buf, "HEAD ", 5) == 0;
    char answer [512];
    int n = snprintf (answer, sizeof answer,
                      "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n%s%s%s\r\n%s%s",
                      head->status, nws_http_reason (head->status), strlen (head->why) + 1,
                      head->allow ? "Allow: " : "", head->allow ? head->allow : "",
                      head->allow ? "\r\n" : "", bodyless ? "" : head->why,
                      bodyless ? "" : "\n");
    if (send (p->fd, answer, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT) == n) {
        shutdown (p->fd, SHUT_WR);
        char sink [4096];
        for (int i = 0; i < 16 && recv (p->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
            ;
    }
    close (p->fd);
    s_done (self, p);
}

//  Reads what has come and decides if it can. Returns 1 when p is done
//  (handed to lws, or closed), 0 to wait for more.
static int
s_pending_read (nws_listener_t *self, s_pending_t *p)
{
    if (self->tls_vhost && p->len == 0) {
        //  A look without reading: TLS goes to lws with every byte.
        unsigned char first;
        ssize_t got = recv (p->fd, &first, 1, MSG_PEEK | MSG_DONTWAIT);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        if (got == 1 && first == 0x16) {
            s_done (self, p);
            lws_adopt_socket_vhost (self->tls_vhost, p->fd);
            return 1;
        }
    }
    for (;;) {
        if (p->len == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : S_HEAD_FIRST;
            cap = cap < self->head_max ? cap : self->head_max;
            char *buf = realloc (p->buf, cap);
            if (!buf) {
                close (p->fd);
                return s_done (self, p);
            }
            p->buf = buf;
            p->cap = cap;
        }
        ssize_t got = recv (p->fd, p->buf + p->len, p->cap - p->len, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (got <= 0) {
            //  Gone before its request was complete: nobody to answer.
            close (p->fd);
            return s_done (self, p);
        }
        p->len += (size_t) got;
        //  The head is judged again from its start each time: only when a
        //  line may have ended (or on the first bytes, to refuse garbage at
        //  once), so that a byte-at-a-time sender cannot make it quadratic.
        int judge = p->len == (size_t) got || p->len == p->cap
                 || memchr (p->buf + p->len - (size_t) got, '\n', (size_t) got);
        nws_head_t head;
        if (!judge || !nws_head_parse (p->buf, p->len, self->head_max, &head)) {
            if (p->len < p->cap)
                return 0;
            continue;               // a full buffer: grow it (up to head_max)
        }
        if (head.status) {
            s_refuse (self, p, &head);
            return 1;
        }
        //  The query means nothing to us, and lws 4.1 drops connections
        //  whose query holds a "%00": cut it.
        if (head.query_len) {
            memmove (p->buf + head.query_at, p->buf + head.query_at + head.query_len,
                     p->len - head.query_at - head.query_len);
            p->len -= head.query_len;
        }
        s_done (self, p);
        p->tag = self->route ? self->route (self->route_arg, p->fd, p->buf + head.path_at,
                                            head.path_len, head.is_get)
                             : NULL;
        if (p->tag) {
            p->held = 1;
            p->next = self->held;
            self->held = p;
            self->stats.held++;
            return 1;
        }
        //  Done before lws takes it: lws may serve it at once. On failure
        //  lws has already closed fd and logged.
        lws_adopt_socket_vhost_readbuf (self->vhost, p->fd, p->buf, p->len);
        return 1;
    }
}

static void
s_pending_free (s_pending_t *p)
{
    free (p->buf);
    free (p);
}

//  Reads the head of a new connection: at once if it is there (the usual
//  case under load), else as it comes, watched by lws.
static void
s_pending_start (nws_listener_t *self, int fd)
{
    s_pending_t *p = calloc (1, sizeof *p);
    if (!p) {
        close (fd);
        return;
    }
    p->fd = fd;
    p->deadline = zclock_mono () + (int64_t) self->head_secs * 1000;
    if (s_pending_read (self, p)) {
        if (!p->held)
            s_pending_free (p);
        return;
    }
    lws_sock_file_fd_type watch = { .filefd = dup (fd) };
    struct lws *wsi = watch.filefd < 0 ? NULL
                    : lws_adopt_descriptor_vhost (self->vhost, LWS_ADOPT_RAW_FILE_DESC,
                                                  watch, self->head_protocol, NULL);
    if (!wsi) {
        nws_warn ("cannot watch a new connection: %s", strerror (errno));
        close (fd);
        s_pending_free (p);
        return;
    }
    lws_set_opaque_user_data (wsi, p);
    p->watched = 1;
    self->stats.waiting++;
    self->stats.watches++;
    lws_set_timeout (wsi, PENDING_TIMEOUT_USER_OK, self->head_secs);
}

void
nws_listener_accept (nws_listener_t *self, int (*admit) (void *arg), void *arg)
{
    for (;;) {
        int fd = accept4 (self->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                nws_warn ("accept4: %s", strerror (errno));
            return;
        }
        if (admit && !admit (arg)) {
            close (fd);
            continue;
        }
        s_pending_start (self, fd);
    }
}

int
nws_listener_head_event (nws_listener_t *self, struct lws *wsi, int reason)
{
    s_pending_t *p = lws_get_opaque_user_data (wsi);
    if (!p)
        return 0;
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        return s_pending_read (self, p) ? -1 : 0;
    if (reason == LWS_CALLBACK_RAW_CLOSE_FILE) {
        lws_set_opaque_user_data (wsi, NULL);
        self->stats.watches--;
        if (!p->done) {
            //  lws closes the watch at our timeout, or when it shuts down.
            if (zclock_mono () >= p->deadline - 100)
                self->stats.timeouts++;
            close (p->fd);
            s_done (self, p);
        }
        if (!p->held)
            s_pending_free (p);
    }
    return 0;
}

void
nws_listener_set_route (nws_listener_t *self, nws_listener_route_fn *route, void *arg)
{
    self->route = route;
    self->route_arg = arg;
}

int
nws_listener_release (nws_listener_t *self, void *tag)
{
    int adopted = 0;
    s_pending_t **at = &self->held;
    while (*at) {
        s_pending_t *p = *at;
        if (p->tag != tag) {
            at = &p->next;
            continue;
        }
        *at = p->next;
        self->stats.held--;
        //  On failure lws has already closed fd and logged.
        struct lws *wsi = lws_adopt_socket_vhost_readbuf (self->vhost, p->fd, p->buf, p->len);
        if (wsi) {
            lws_set_opaque_user_data (wsi, tag);
            adopted++;
        }
        s_pending_free (p);
    }
    return adopted;
}

void
nws_listener_stats (nws_listener_t *self, nws_listener_stats_t *stats)
{
    *stats = self->stats;
}

void
nws_listener_set_tls (nws_listener_t *self, struct lws_vhost *tls_vhost)
{
    self->tls_vhost = tls_vhost;
}

void
nws_listener_destroy (nws_listener_t **self_p)
{
    nws_listener_t *self = *self_p;
    if (!self)
        return;
    if (!self->adopted)
        close (self->fd);
    while (self->held) {
        s_pending_t *p = self->held;
        self->held = p->next;
        close (p->fd);
        s_pending_free (p);
    }
    free (self);
    *self_p = NULL;
}
