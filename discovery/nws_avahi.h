/*  nws_avahi - DNS-SD for nws-discovery: publishes our broadcast channels
    and reports the adverts of other proxies.

    avahi-client runs in its own thread (avahi_threaded_poll). Calls from
    the main thread take the poll's lock. What the avahi thread learns is
    queued as events and announced through wake(arg), which must be safe
    from another thread (e.g. lws_cancel_service); the main thread then
    takes them with nws_avahi_next().

    Uses AVAHI_CLIENT_NO_FAIL: starts without avahi-daemon, and when the
    daemon appears or comes back, publishes and browses again by itself.
    Remote adverts survive a daemon restart (links are not dropped for
    it); those not seen again within NWS_AVAHI_STALE_SECS are reported lost.

    Own adverts are ignored: those flagged OUR_OWN and those whose instance
    name we publish. A remote advert is seen once per interface and
    protocol (a "sighting"; on a dual-stack LAN, once over IPv4 mDNS and
    once over IPv6). Each sighting gets its own resolver, asking for the
    address family of its protocol (IPv4 mDNS carries A records, IPv6 mDNS
    only AAAA with avahi's defaults), kept open so that an address change
    is reported too. A resolve that fails or times out is tried again
    (1 s doubling to 30 s) for as long as the sighting lasts: no advert
    that is still being browsed stays unresolved. The advert is reported
    once, with every address found, whenever that set changes, and lost
    when its last sighting goes.

    With a network key, adverts are private (nws_advert.h): ours carry
    our channels' tags, and an event's channel is a pseudo channel whose
    name is the tag found, for the owner to match against its own
    channels' tags; it is never a channel name.
*/
#ifndef NWS_AVAHI_H
#define NWS_AVAHI_H

#include <stdint.h>

#include "nws_channel.h"
#include "nws_netkey.h"
#include "nws_text.h"

#define NWS_AVAHI_STALE_SECS 30
#define NWS_AVAHI_ADDRESSES 8       /* addresses reported per advert */
#define NWS_AVAHI_ADDRESS_MAX 64    /* numeric address, with %scope */

typedef enum {
    NWS_AVAHI_FOUND,                /* a remote advert resolved */
    NWS_AVAHI_LOST                  /* it went away */
} nws_avahi_event_type_t;

typedef struct {
    nws_avahi_event_type_t type;    /* see above */
    char instance [64];             /* DNS-SD instance name, the key */
    nws_channel_t channel;          /* from the TXT path (FOUND only) */
    uint16_t port;                  /* (FOUND only) */
    int address_count;              /* addresses used (FOUND only, >= 1) */
    char addresses [NWS_AVAHI_ADDRESSES][NWS_AVAHI_ADDRESS_MAX];
                                    /* numeric, best first (nws_avahi_rank);
                                       IPv6 link-local as fe80::...%<ifindex> */
} nws_avahi_event_t;

typedef struct nws_avahi_t nws_avahi_t;

/*  Starts the avahi thread. port is what our adverts announce; key (or
    NULL: open adverts) must outlive the object. Returns NULL after
    logging why.  */
nws_avahi_t *nws_avahi_new (uint16_t port, const nws_netkey_t *key, void (*wake) (void *arg),
                            void *arg);

/*  Takes the oldest event. Returns 1 if *event was filled, 0 if none.  */
int nws_avahi_next (nws_avahi_t *self, nws_avahi_event_t *event);

/*  Starts advertising channel (if not yet), or stops.  */
void nws_avahi_advertise (nws_avahi_t *self, const nws_channel_t *channel);
void nws_avahi_withdraw (nws_avahi_t *self, const nws_channel_t *channel);

/*  How good an address is to dial, lower first: 0 IPv4, 1 IPv6 with a
    wider scope than the link, 2 IPv6 link-local (needs its interface),
    3 anything else. IPv4 comes first because on a dual-stack LAN both
    reach the peer and IPv4 needs no scope id (see the README).  */
int nws_avahi_rank (const char *address);

/*  Appends "daemon":"...","adverts":[...] (JSON members) to out.  */
void nws_avahi_status (nws_avahi_t *self, nws_text_t *out);

/*  Withdraws everything and stops the thread. Safe on NULL and twice.  */
void nws_avahi_destroy (nws_avahi_t **self_p);

#endif
