/*  nws_neigh - a peer's link-layer address from the neighbour table.  */
#include "nws_neigh.h"

#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

//  The address to look for: family and bytes (IPv4-mapped IPv6 unmapped).
static int
s_target (const struct sockaddr *peer, int *family, uint8_t *bytes)
{
    if (peer->sa_family == AF_INET) {
        *family = AF_INET;
        memcpy (bytes, &((const struct sockaddr_in *) peer)->sin_addr, 4);
        return 0;
    }
    if (peer->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *) peer)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK (a))
            return -ENOENT;
        if (IN6_IS_ADDR_V4MAPPED (a)) {
            *family = AF_INET;
            memcpy (bytes, a->s6_addr + 12, 4);
        }
        else {
            *family = AF_INET6;
            memcpy (bytes, a->s6_addr, 16);
        }
        return 0;
    }
    return -EAFNOSUPPORT;
}

//  Looks through one reply buffer. Returns 1 when found (buf written),
//  0 to read on, or -1 at the end of the dump.
static int
s_scan (const char *reply, ssize_t size, int family, const uint8_t *want, char *buf, size_t cap)
{
    for (const struct nlmsghdr *h = (const struct nlmsghdr *) reply; NLMSG_OK (h, size);
         h = NLMSG_NEXT (h, size)) {
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
            return -1;
        if (h->nlmsg_type != RTM_NEWNEIGH)
            continue;
        const struct ndmsg *nd = NLMSG_DATA (h);
        if (nd->ndm_family != family
        ||  (nd->ndm_state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP)))
            continue;
        const uint8_t *dst = NULL, *lladdr = NULL;
        int lladdr_len = 0, attr_len = (int) RTM_PAYLOAD (h);
        for (const struct rtattr *a = RTM_RTA (nd); RTA_OK (a, attr_len); a = RTA_NEXT (a, attr_len)) {
            if (a->rta_type == NDA_DST && RTA_PAYLOAD (a) == (family == AF_INET ? 4u : 16u))
                dst = RTA_DATA (a);
            if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD (a) > 0 && RTA_PAYLOAD (a) <= 16) {
                lladdr = RTA_DATA (a);
                lladdr_len = (int) RTA_PAYLOAD (a);
            }
        }
        if (!dst || !lladdr || memcmp (dst, want, family == AF_INET ? 4 : 16) != 0)
            continue;
        if (cap < (size_t) lladdr_len * 3)
            return -1;
        for (int i = 0; i < lladdr_len; i++)
            snprintf (buf + i * 3, cap - (size_t) i * 3, "%02x%s", lladdr [i],
                      i + 1 < lladdr_len ? ":" : "");
        return 1;
    }
    return 0;
}

int
nws_neigh_lookup (const struct sockaddr *peer, char *buf, size_t cap)
{
    int family;
    uint8_t want [16];
    int rc = s_target (peer, &family, want);
    if (rc < 0)
        return rc;
    int fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -errno;
    //  A dump is a few messages from the kernel; never wait long for it.
    struct timeval timeout = { .tv_sec = 0, .tv_usec = 200000 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    struct {
        struct nlmsghdr header;
        struct ndmsg body;
    } request = {
        .header = {
            .nlmsg_len = NLMSG_LENGTH (sizeof (struct ndmsg)),
            .nlmsg_type = RTM_GETNEIGH,
            .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
            .nlmsg_seq = 1,
        },
        .body = { .ndm_family = (uint8_t) family },
    };
    rc = -ENOENT;
    if (send (fd, &request, request.header.nlmsg_len, 0) < 0)
        rc = -errno;
    while (rc == -ENOENT) {
        char reply [16384];
        ssize_t size = recv (fd, reply, sizeof reply, 0);
        if (size <= 0)
            break;
        int found = s_scan (reply, size, family, want, buf, cap);
        if (found == 1)
            rc = 0;
        if (found < 0)
            break;
    }
    close (fd);
    return rc;
}
