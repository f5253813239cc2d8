/*  nws_addr - is an address this host's loopback?  */
#include "nws_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int
s_v4_loopback (const struct in_addr *a)
{
    return (ntohl (a->s_addr) >> 24) == 127;
}

static int
s_v6_loopback (const struct in6_addr *a)
{
    return IN6_IS_ADDR_LOOPBACK (a) || (IN6_IS_ADDR_V4MAPPED (a) && a->s6_addr [12] == 127);
}

int
nws_addr_text_is_loopback (const char *text)
{
    char plain [INET6_ADDRSTRLEN];
    if (!text || strlen (text) >= sizeof plain)
        return 0;
    snprintf (plain, sizeof plain, "%s", text);
    plain [strcspn (plain, "%")] = '\0';
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton (AF_INET, plain, &v4) == 1)
        return s_v4_loopback (&v4);
    return inet_pton (AF_INET6, plain, &v6) == 1 && s_v6_loopback (&v6);
}

int
nws_addr_is_loopback (const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET)
        return s_v4_loopback (&((const struct sockaddr_in *) addr)->sin_addr);
    if (addr->sa_family == AF_INET6)
        return s_v6_loopback (&((const struct sockaddr_in6 *) addr)->sin6_addr);
    return 0;
}
