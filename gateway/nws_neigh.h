/*  nws_neigh - the link-layer (MAC) address of a peer on the LAN, from the
    kernel's neighbour table (ARP for IPv4, NDP for IPv6), read over
    rtnetlink.

    The gateway uses it to tell that two inbound proxy links of the
    original proxy, one over IPv4 and one over IPv6, come from one network
    card and so from one proxy. A peer that reached us over TCP has just
    been in the table; a peer behind a router shows the router's address
    (broadcast links are on the LAN, so that does not arise).
    Blocking, but a neighbour dump is one small local request.
*/
#ifndef NWS_NEIGH_H
#define NWS_NEIGH_H

#include <stddef.h>
#include <sys/socket.h>

#define NWS_NEIGH_MAX 48            /* "xx:xx:..." of up to 16 bytes, NUL */

/*  Writes the link-layer address of peer (AF_INET, AF_INET6, or an
    IPv4-mapped AF_INET6 address) as lowercase "xx:xx:xx:xx:xx:xx".
    Returns 0, -ENOENT if the table has no usable entry for it (loopback,
    a failed entry), or another negative errno.  */
int nws_neigh_lookup (const struct sockaddr *peer, char *buf, size_t cap);

#endif
