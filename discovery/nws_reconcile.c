/*  nws_reconcile - nws-discovery's decisions about its links.  */
#include "nws_reconcile.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "nws_addr.h"
#include "nws_runtime.h"

//  1 if the address (a numeric one of family, in v4 or v6) is in local.
static int
s_is_local (int family, const struct in_addr *v4, const struct in6_addr *v6,
            const struct ifaddrs *local)
{
    for (const struct ifaddrs *it = local; it; it = it->ifa_next) {
        if (!it->ifa_addr || it->ifa_addr->sa_family != family)
            continue;
        if (family == AF_INET
        &&  ((const struct sockaddr_in *) it->ifa_addr)->sin_addr.s_addr == v4->s_addr)
            return 1;
        if (family == AF_INET6
        &&  memcmp (&((const struct sockaddr_in6 *) it->ifa_addr)->sin6_addr, v6,
                    sizeof *v6) == 0)
            return 1;
    }
    return 0;
}

nws_reconcile_address_t
nws_reconcile_address (const char *address, uint16_t port, uint16_t own_port,
                       const struct ifaddrs *local)
{
    char plain [NWS_LINK_ADDRESS_MAX];
    snprintf (plain, sizeof plain, "%s", address);
    plain [strcspn (plain, "%")] = '\0';
    if (nws_addr_text_is_loopback (plain))
        return NWS_RECONCILE_LOOPBACK;
    //  Another port of this host is another gateway: linking it is fine.
    if (port != own_port)
        return NWS_RECONCILE_DIAL;
    struct in_addr v4;
    struct in6_addr v6;
    int family = inet_pton (AF_INET, plain, &v4) == 1 ? AF_INET
               : inet_pton (AF_INET6, plain, &v6) == 1 ? AF_INET6 : 0;
    return family && s_is_local (family, &v4, &v6, local) ? NWS_RECONCILE_OURS
                                                           : NWS_RECONCILE_DIAL;
}

int
nws_reconcile_wanted (int interested, const nws_channel_t *channel,
                      const nws_reconcile_source_t *source)
{
    return interested && strcmp (source->channel.name, channel->name) == 0;
}

int
nws_reconcile_identify (const char *id, const char *own_id, const char *host,
                        char *peer, size_t cap)
{
    if (nws_runtime_proxy_id_valid (id))
        snprintf (peer, cap, "id:%s", id);
    else
        snprintf (peer, cap, "at:%s", host);
    return strcmp (id, own_id) == 0;
}

int
nws_reconcile_same_proxy (const nws_channel_t *channel, const char *peer, int other_open,
                          const nws_channel_t *other_channel, const char *other_peer)
{
    //  An original proxy is known by address only: two of its addresses
    //  look like two proxies, and the receiving room sorts that out.
    return other_open && strcmp (other_channel->name, channel->name) == 0
        && strcmp (other_peer, peer) == 0;
}

void
nws_reconcile_merge (nws_reconcile_source_t *into, const nws_reconcile_source_t *source)
{
    if (into->address_count == 0)
        into->port = source->port;
    if (source->port != into->port)
        return;
    for (int i = 0; i < source->address_count && into->address_count < NWS_LINK_ADDRESSES; i++) {
        int dup = 0;
        for (int k = 0; k < into->address_count; k++)
            dup |= strcmp (into->addresses [k], source->addresses [i]) == 0;
        if (!dup)
            memcpy (into->addresses [into->address_count++], source->addresses [i],
                    NWS_LINK_ADDRESS_MAX);
    }
}

nws_reconcile_link_t
nws_reconcile_link (int serves, int interested, int open, const int64_t *until, int64_t now)
{
    if (serves)
        return NWS_RECONCILE_KEEP;
    //  Dropping an open link would lose what is in flight on it, and its
    //  advert may be back in a moment; a closed one has nothing to lose.
    if (interested && open)
        return !until ? NWS_RECONCILE_ORPHAN : now < *until ? NWS_RECONCILE_WAIT
                                                            : NWS_RECONCILE_CLOSE;
    return NWS_RECONCILE_CLOSE;
}
