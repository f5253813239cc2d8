/*  nws_discovery - links this host's broadcast channels with the LAN.

    Learns from the hub which broadcast channels have local clients
    (nws_hub.h's events socket), advertises them with DNS-SD and withdraws
    them when the last local client leaves (nws_avahi), and for every
    remote advert of a channel with local interest keeps a proxy link
    (nws_link) whose messages it publishes into the local hub, flagged as
    coming from a proxy so that no gateway sends them on to another proxy.
    Static peers (--peer) are linked like discovered ones, for every
    channel with local interest.

    Its state is kept in <runtime-dir>/discovery.json, which the gateway's
    /status shows. Single-threaded but for nws_avahi's own thread.
*/
#ifndef NWS_DISCOVERY_H
#define NWS_DISCOVERY_H

#include <signal.h>
#include <stdint.h>

#include "nws_netkey.h"
#include "nws_opts.h"

typedef struct nws_discovery_t nws_discovery_t;

typedef struct {
    const char *runtime_dir;        /* the hub's runtime directory */
    uint64_t port;                  /* the gateway port we advertise */
    nws_opt_list_t peers;           /* static peers, "host:port" */
    uint64_t max_message;           /* largest message taken from a link */
    int no_avahi;                   /* static peers only */
    nws_netkey_t *key;              /* network key: private adverts, TLS links;
                                       NULL = open; the caller's, kept until destroy */
} nws_discovery_config_t;

/*  Connects to the hub and avahi (each may come later). Returns NULL
    after logging why.  */
nws_discovery_t *nws_discovery_new (const nws_discovery_config_t *config);

/*  Runs until *stop is set. Returns 0.  */
int nws_discovery_run (nws_discovery_t *self, volatile sig_atomic_t *stop);

/*  Withdraws the adverts, closes the links, frees. Safe on NULL, twice.  */
void nws_discovery_destroy (nws_discovery_t **self_p);

/*  Parses "host:port" (a name, an IPv4 literal, or [IPv6] with an optional
    %<interface> scope) for --peer. Returns 0 or -EINVAL.  */
int nws_discovery_parse_peer (const char *text, char *host, size_t cap, uint16_t *port);

#endif
