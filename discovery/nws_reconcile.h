/*  nws_reconcile - what nws-discovery decides about its links, apart from
    the adverts, links and sockets the decisions are about (nws_discovery
    and nws_link act on them):

      - an advert's address is dialed unless it is loopback (only a trick
        sends one over the LAN) or one of this host's own with the port
        we advertise (our own advert, not flagged as such);
      - a source of a link (a remote advert, or a --peer for one channel)
        is wanted while its channel has local clients;
      - a link reached whom the handshake names: a proxy id, or for a peer
        that sends none (the original proxy) the address it dialed; a link
        that reached our own proxy id is a self-link and never dials again;
      - a link that reached a proxy another open link of the channel reads
        already closes: one link per proxy and channel, whatever addresses,
        adverts or --peer lead there; its source is merged into the other;
      - a link that serves a wanted source (its own or one merged into it)
        stays and dials the addresses of all of them; one that serves none
        closes, unless its channel still has local clients and it is open:
        then it is kept NWS_RECONCILE_ORPHAN_MS in case the advert returns
        (adverts vanish while a peer's avahi-daemon restarts).

    Pure functions: no I/O, no allocation, no clock.
*/
#ifndef NWS_RECONCILE_H
#define NWS_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "nws_channel.h"
#include "nws_link.h"

#define NWS_RECONCILE_ORPHAN_MS 10000   /* an open link outlives its source this long */

struct ifaddrs;

/*  Somewhere a link may lead: a remote advert, or a static peer for one
    channel.  */
typedef struct {
    nws_channel_t channel;          /* from the advert's TXT path */
    uint16_t port;                  /* where its gateway listens */
    int address_count;              /* addresses used */
    char addresses [NWS_LINK_ADDRESSES][NWS_LINK_ADDRESS_MAX]; /* best first */
} nws_reconcile_source_t;

typedef enum {
    NWS_RECONCILE_DIAL = 0,         /* dial it */
    NWS_RECONCILE_LOOPBACK,         /* a loopback address: never */
    NWS_RECONCILE_OURS              /* this host's own, with our port: never */
} nws_reconcile_address_t;

/*  What to do with a numeric address (IPv6 maybe with %scope) of an
    advert for port; own_port is the port we advertise, local this host's
    addresses (from getifaddrs; NULL if unknown: then only loopback is
    ours). A name that is not numeric is dialed.  */
nws_reconcile_address_t nws_reconcile_address (const char *address, uint16_t port,
                                               uint16_t own_port, const struct ifaddrs *local);

/*  1 if source wants a link for channel: the channel has local clients
    (interested) and source is of that channel, else 0.  */
int nws_reconcile_wanted (int interested, const nws_channel_t *channel,
                          const nws_reconcile_source_t *source);

/*  Whom a handshake reached, from the X-Nws-Proxy-Id it answered (id; ""
    if none) and the Host dialed: writes "id:<id>" for a valid proxy id,
    else "at:<host>", into peer. Returns 1 if id is own_id (a self-link),
    else 0.  */
int nws_reconcile_identify (const char *id, const char *own_id, const char *host,
                            char *peer, size_t cap);

/*  1 if a link of channel that reached peer is a second one to a proxy
    that another link (other_open, of other_channel, that reached
    other_peer) reads already, else 0.  */
int nws_reconcile_same_proxy (const nws_channel_t *channel, const char *peer, int other_open,
                              const nws_channel_t *other_channel, const char *other_peer);

/*  Appends the addresses of source to into, those it lacks, as long as
    there is room (NWS_LINK_ADDRESSES). An empty into takes source's port;
    a source on another port adds nothing (a link dials one port).  */
void nws_reconcile_merge (nws_reconcile_source_t *into, const nws_reconcile_source_t *source);

typedef enum {
    NWS_RECONCILE_KEEP = 0,         /* it serves a wanted source */
    NWS_RECONCILE_ORPHAN,           /* keep it until now + NWS_RECONCILE_ORPHAN_MS */
    NWS_RECONCILE_WAIT,             /* an orphan whose time is not up: keep it */
    NWS_RECONCILE_CLOSE             /* close it */
} nws_reconcile_link_t;

/*  What to do with an existing link of a channel: serves says whether it
    serves a wanted source, interested whether the channel has local
    clients, open whether the link is open; until is its orphan deadline
    (NULL if it is no orphan), now the time (both zclock_mono ms).  */
nws_reconcile_link_t nws_reconcile_link (int serves, int interested, int open,
                                         const int64_t *until, int64_t now);

#endif
