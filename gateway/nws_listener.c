/*  nws_listener - a SO_REUSEPORT listening socket adopted into lws.  */
#include "nws_listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nws_log.h"

struct nws_listener_t {
    int fd;                         /* listening socket */
    int adopted;                    /* lws owns fd (and closes it) */
    uint16_t port;                  /* bound port */
    struct lws_vhost *vhost;        /* where accepted sockets go */
};

nws_listener_t *
nws_listener_new (const char *address, uint16_t port)
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
    self->port = ntohs (ss.ss_family == AF_INET6 ? v6->sin6_port : v4->sin_port);
    return self;
}

uint16_t
nws_listener_port (nws_listener_t *self)
{
    return self->port;
}

int
nws_listener_attach (nws_listener_t *self, struct lws_vhost *vhost, const char *protocol)
{
    lws_sock_file_fd_type fd = { .filefd = self->fd };
    self->vhost = vhost;
    self->adopted = 1;
    if (!lws_adopt_descriptor_vhost (vhost, LWS_ADOPT_RAW_FILE_DESC, fd, protocol, NULL)) {
        nws_error ("cannot adopt the listening socket into lws");
        return -1;
    }
    return 0;
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
        //  On failure lws has already closed fd and logged.
        lws_adopt_socket_vhost (self->vhost, fd);
    }
}

void
nws_listener_destroy (nws_listener_t **self_p)
{
    nws_listener_t *self = *self_p;
    if (!self)
        return;
    if (!self->adopted)
        close (self->fd);
    free (self);
    *self_p = NULL;
}
