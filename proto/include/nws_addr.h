/*  nws_addr - is an address this host's loopback? One answer for the hub's
    endpoint check, the gateway's loopback-only paths and discovery's
    advert filter: 127.0.0.0/8, ::1, and IPv4-mapped 127.x.  */
#ifndef NWS_ADDR_H
#define NWS_ADDR_H

#include <sys/socket.h>

/*  1 if text is a numeric IPv4 or IPv6 address (an IPv6 one may carry a
    %scope; no brackets) on loopback, else 0 (names included).  */
int nws_addr_text_is_loopback (const char *text);

/*  1 if addr (AF_INET or AF_INET6) is on loopback, else 0.  */
int nws_addr_is_loopback (const struct sockaddr *addr);

#endif
