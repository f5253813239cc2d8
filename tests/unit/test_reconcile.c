/*  Unit tests of nws-discovery's decisions about its links (nws_reconcile):
    which advert addresses are dialed, which sources want a link, whom a
    link reached, which links are one too many for a proxy, the addresses
    a link serving several sources dials, and when a link goes.  */
#include "nws_reconcile.h"
#include "nws_unit.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#define S_OWN_ID  "00112233445566aa"
#define S_PEER_ID "0123456789abcdef"

static nws_channel_t
s_channel (const char *name)
{
    nws_channel_t channel;
    char path [NWS_NAME_MAX + 16];
    snprintf (path, sizeof path, "/broadcast/%s", name);
    CHECK_INT (nws_channel_parse_path (path, &channel), 0);
    return channel;
}

static nws_reconcile_source_t
s_source (const char *channel, uint16_t port, int count, const char *const *addresses)
{
    nws_reconcile_source_t source = { .channel = s_channel (channel), .port = port };
    for (int i = 0; i < count; i++)
        snprintf (source.addresses [source.address_count++], NWS_LINK_ADDRESS_MAX, "%s",
                  addresses [i]);
    return source;
}

typedef struct {
    const char *address;            /* as an advert gave it */
    uint16_t port;                  /* the advert's; ours is 9009 */
    nws_reconcile_address_t verdict;
} s_address_case_t;

//  Checks each case against this host's addresses local.
static void
s_addresses (const s_address_case_t *cases, size_t count, const struct ifaddrs *local)
{
    for (size_t i = 0; i < count; i++) {
        nws_reconcile_address_t verdict = nws_reconcile_address (cases [i].address,
                                                                 cases [i].port, 9009, local);
        if (verdict != cases [i].verdict) {
            fprintf (stderr, "%s port %u: %d, expected %d\n", cases [i].address,
                     (unsigned) cases [i].port, (int) verdict, (int) cases [i].verdict);
            CHECK (0);
        }
    }
}

//  A loopback address is never dialed, whatever its port: only a trick
//  could bring one from the LAN.
static void
address_loopback (void)
{
    static const s_address_case_t cases [] = {
        { "127.0.0.1", 9009, NWS_RECONCILE_LOOPBACK },
        { "127.1.2.3", 80, NWS_RECONCILE_LOOPBACK },
        { "::1", 9009, NWS_RECONCILE_LOOPBACK },
        { "::1%1", 80, NWS_RECONCILE_LOOPBACK },
        { "::ffff:127.0.0.1", 9009, NWS_RECONCILE_LOOPBACK },
        { "10.77.0.10", 9009, NWS_RECONCILE_DIAL },
        { "2001:db8::1", 9009, NWS_RECONCILE_DIAL },
        { "128.0.0.1", 9009, NWS_RECONCILE_DIAL },
        //  Not numeric: nothing to compare, dialed.
        { "hostb.local", 9009, NWS_RECONCILE_DIAL },
    };
    s_addresses (cases, sizeof cases / sizeof cases [0], NULL);
}

//  This host's own address with our port is our own advert; with another
//  port it is another gateway here, and linked.
static void
address_own (void)
{
    struct sockaddr_in v4 = { .sin_family = AF_INET };
    struct sockaddr_in6 link_local = { .sin6_family = AF_INET6, .sin6_scope_id = 2 };
    struct sockaddr_in6 global = { .sin6_family = AF_INET6 };
    struct sockaddr packet = { .sa_family = AF_PACKET };
    CHECK_INT (inet_pton (AF_INET, "10.77.0.10", &v4.sin_addr), 1);
    CHECK_INT (inet_pton (AF_INET6, "fe80::1", &link_local.sin6_addr), 1);
    CHECK_INT (inet_pton (AF_INET6, "2001:db8::5", &global.sin6_addr), 1);
    //  As getifaddrs lists them: some entries have no address at all.
    struct ifaddrs list [5] = {
        { .ifa_name = "eth0", .ifa_addr = &packet },
        { .ifa_name = "eth0", .ifa_addr = NULL },
        { .ifa_name = "eth0", .ifa_addr = (struct sockaddr *) &v4 },
        { .ifa_name = "eth0", .ifa_addr = (struct sockaddr *) &link_local },
        { .ifa_name = "eth0", .ifa_addr = (struct sockaddr *) &global },
    };
    for (int i = 0; i < 4; i++)
        list [i].ifa_next = &list [i + 1];
    static const s_address_case_t cases [] = {
        { "10.77.0.10", 9009, NWS_RECONCILE_OURS },
        { "2001:db8::5", 9009, NWS_RECONCILE_OURS },
        //  The scope names the interface it was seen on: not compared.
        { "fe80::1%2", 9009, NWS_RECONCILE_OURS },
        { "fe80::1%7", 9009, NWS_RECONCILE_OURS },
        { "fe80::1", 9009, NWS_RECONCILE_OURS },
        //  Another port: another gateway of this host.
        { "10.77.0.10", 9010, NWS_RECONCILE_DIAL },
        { "fe80::1%2", 80, NWS_RECONCILE_DIAL },
        //  Not ours.
        { "10.77.0.11", 9009, NWS_RECONCILE_DIAL },
        { "fe80::2%2", 9009, NWS_RECONCILE_DIAL },
        { "2001:db8::6", 9009, NWS_RECONCILE_DIAL },
        //  Families are compared apart: a v4-mapped form is not our IPv4.
        { "::ffff:10.77.0.10", 9009, NWS_RECONCILE_DIAL },
        { "hostb.local", 9009, NWS_RECONCILE_DIAL },
        { "127.0.0.1", 9009, NWS_RECONCILE_LOOPBACK },
    };
    s_addresses (cases, sizeof cases / sizeof cases [0], list);
    //  Without the list (getifaddrs failed) only loopback is refused.
    static const s_address_case_t unknown [] = {
        { "10.77.0.10", 9009, NWS_RECONCILE_DIAL },
        { "fe80::1%2", 9009, NWS_RECONCILE_DIAL },
    };
    s_addresses (unknown, sizeof unknown / sizeof unknown [0], NULL);
}

//  A source wants a link while its channel has local clients, and only for
//  its own channel.
static void
wanted (void)
{
    nws_channel_t chat = s_channel ("chat");
    const char *address [] = { "10.77.0.11" };
    nws_reconcile_source_t advert = s_source ("chat", 9009, 1, address);
    nws_reconcile_source_t other = s_source ("chat2", 9009, 1, address);
    nws_reconcile_source_t prefix = s_source ("cha", 9009, 1, address);
    CHECK_INT (nws_reconcile_wanted (1, &chat, &advert), 1);
    CHECK_INT (nws_reconcile_wanted (0, &chat, &advert), 0);
    CHECK_INT (nws_reconcile_wanted (1, &chat, &other), 0);
    CHECK_INT (nws_reconcile_wanted (1, &chat, &prefix), 0);
    CHECK_INT (nws_reconcile_wanted (0, &chat, &other), 0);
}

//  An nws peer is known by its proxy id, the original proxy by the address
//  dialed; our own id is a self-link.
static void
identify (void)
{
    char peer [NWS_LINK_ADDRESS_MAX + 16];
    CHECK_INT (nws_reconcile_identify (S_PEER_ID, S_OWN_ID, "10.77.0.11:9009", peer,
                                       sizeof peer), 0);
    CHECK_STR (peer, "id:" S_PEER_ID);
    CHECK_INT (nws_reconcile_identify (S_OWN_ID, S_OWN_ID, "10.77.0.10:9009", peer,
                                       sizeof peer), 1);
    CHECK_STR (peer, "id:" S_OWN_ID);
    CHECK_INT (nws_reconcile_identify ("", S_OWN_ID, "[fe80::1]:9009", peer, sizeof peer), 0);
    CHECK_STR (peer, "at:[fe80::1]:9009");
    //  What is not a proxy id does not name a proxy.
    static const char *invalid [] = {
        "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "0123456789abcdeg",
        " 123456789abcdef"
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid [0]; i++) {
        CHECK_INT (nws_reconcile_identify (invalid [i], S_OWN_ID, "10.77.0.11:80", peer,
                                           sizeof peer), 0);
        CHECK_STR (peer, "at:10.77.0.11:80");
    }
    //  Cut short, never past cap.
    char small [8];
    memset (small, 'x', sizeof small);
    CHECK_INT (nws_reconcile_identify (S_PEER_ID, S_OWN_ID, "h:1", small, sizeof small), 0);
    CHECK_STR (small, "id:0123");
}

//  One link per proxy and channel: a second open link to the same proxy
//  is one too many, whichever address it took.
static void
same_proxy (void)
{
    nws_channel_t chat = s_channel ("chat"), news = s_channel ("news");
    const char *peer = "id:" S_PEER_ID;
    CHECK_INT (nws_reconcile_same_proxy (&chat, peer, 1, &chat, peer), 1);
    //  The other is not open (yet, or any more): nothing to read from.
    CHECK_INT (nws_reconcile_same_proxy (&chat, peer, 0, &chat, peer), 0);
    CHECK_INT (nws_reconcile_same_proxy (&chat, peer, 1, &news, peer), 0);
    CHECK_INT (nws_reconcile_same_proxy (&chat, peer, 1, &chat, "id:fedcba9876543210"), 0);
    //  The original proxy is known by address only.
    CHECK_INT (nws_reconcile_same_proxy (&chat, "at:10.77.0.11:9009", 1, &chat,
                                         "at:10.77.0.11:9009"), 1);
    CHECK_INT (nws_reconcile_same_proxy (&chat, "at:10.77.0.11:9009", 1, &chat,
                                         "at:[fe80::11]:9009"), 0);
    CHECK_INT (nws_reconcile_same_proxy (&chat, "at:10.77.0.11:9009", 1, &chat, peer), 0);
}

//  A link serving several sources of one proxy dials each address once,
//  its own source's first; a source on another port adds none.
static void
merge (void)
{
    const char *first [] = { "10.77.0.11", "fd00::11" };
    const char *second [] = { "fd00::11", "fe80::11%2", "10.77.0.11", "192.168.1.11" };
    const char *other_port [] = { "10.77.0.99" };
    nws_reconcile_source_t a = s_source ("chat", 9009, 2, first);
    nws_reconcile_source_t b = s_source ("chat", 9009, 4, second);
    nws_reconcile_source_t c = s_source ("chat", 9010, 1, other_port);
    nws_reconcile_source_t serves = { .channel = s_channel ("chat") };
    nws_reconcile_merge (&serves, &a);
    CHECK_INT (serves.port, 9009);
    CHECK_INT (serves.address_count, 2);
    nws_reconcile_merge (&serves, &b);
    nws_reconcile_merge (&serves, &c);
    nws_reconcile_merge (&serves, &a);
    CHECK_INT (serves.port, 9009);
    CHECK_INT (serves.address_count, 4);
    CHECK_STR (serves.addresses [0], "10.77.0.11");
    CHECK_STR (serves.addresses [1], "fd00::11");
    CHECK_STR (serves.addresses [2], "fe80::11%2");
    CHECK_STR (serves.addresses [3], "192.168.1.11");

    //  The first source merged sets the port, even the other one's.
    nws_reconcile_source_t other = { .channel = s_channel ("chat") };
    nws_reconcile_merge (&other, &c);
    nws_reconcile_merge (&other, &a);
    CHECK_INT (other.port, 9010);
    CHECK_INT (other.address_count, 1);
    CHECK_STR (other.addresses [0], "10.77.0.99");

    //  No more than a link tries.
    nws_reconcile_source_t full = { .channel = s_channel ("chat") };
    for (int i = 0; i < NWS_LINK_ADDRESSES + 3; i++) {
        char address [32];
        const char *one [] = { address };
        snprintf (address, sizeof address, "10.0.0.%d", i + 1);
        nws_reconcile_source_t source = s_source ("chat", 80, 1, one);
        nws_reconcile_merge (&full, &source);
    }
    CHECK_INT (full.address_count, NWS_LINK_ADDRESSES);
    CHECK_STR (full.addresses [NWS_LINK_ADDRESSES - 1], "10.0.0.8");
}

//  Every combination: a link that serves stays; one that serves none
//  closes unless it is open on a channel with local clients, and then
//  only once its grace is over.
static void
link_verdicts (void)
{
    const int64_t now = 50000, later = now + 1, earlier = now - 1;
    for (int interested = 0; interested < 2; interested++)
        for (int open = 0; open < 2; open++) {
            CHECK_INT (nws_reconcile_link (1, interested, open, NULL, now), NWS_RECONCILE_KEEP);
            CHECK_INT (nws_reconcile_link (1, interested, open, &earlier, now),
                       NWS_RECONCILE_KEEP);
        }
    CHECK_INT (nws_reconcile_link (0, 1, 1, NULL, now), NWS_RECONCILE_ORPHAN);
    CHECK_INT (nws_reconcile_link (0, 1, 1, &later, now), NWS_RECONCILE_WAIT);
    CHECK_INT (nws_reconcile_link (0, 1, 1, &now, now), NWS_RECONCILE_CLOSE);
    CHECK_INT (nws_reconcile_link (0, 1, 1, &earlier, now), NWS_RECONCILE_CLOSE);
    //  Dialing or waiting to: nothing in flight to lose.
    CHECK_INT (nws_reconcile_link (0, 1, 0, NULL, now), NWS_RECONCILE_CLOSE);
    CHECK_INT (nws_reconcile_link (0, 1, 0, &later, now), NWS_RECONCILE_CLOSE);
    //  No local clients left: nobody to read for.
    CHECK_INT (nws_reconcile_link (0, 0, 1, NULL, now), NWS_RECONCILE_CLOSE);
    CHECK_INT (nws_reconcile_link (0, 0, 1, &later, now), NWS_RECONCILE_CLOSE);
    CHECK_INT (nws_reconcile_link (0, 0, 0, NULL, now), NWS_RECONCILE_CLOSE);
}

//  An advert goes while its link is open and the channel has clients: the
//  link is kept NWS_RECONCILE_ORPHAN_MS, then closed; an advert back in
//  time keeps it.
static void
orphan_grace (void)
{
    CHECK_INT (NWS_RECONCILE_ORPHAN_MS, 10000);
    int64_t gone = 1000;
    CHECK_INT (nws_reconcile_link (0, 1, 1, NULL, gone), NWS_RECONCILE_ORPHAN);
    int64_t until = gone + NWS_RECONCILE_ORPHAN_MS;
    CHECK_INT (nws_reconcile_link (0, 1, 1, &until, gone + 1), NWS_RECONCILE_WAIT);
    CHECK_INT (nws_reconcile_link (0, 1, 1, &until, until - 1), NWS_RECONCILE_WAIT);
    CHECK_INT (nws_reconcile_link (1, 1, 1, &until, until - 1), NWS_RECONCILE_KEEP);
    CHECK_INT (nws_reconcile_link (0, 1, 1, &until, until), NWS_RECONCILE_CLOSE);
    //  The link broke meanwhile: closed at once.
    CHECK_INT (nws_reconcile_link (0, 1, 0, &until, gone + 1), NWS_RECONCILE_CLOSE);
    //  The last local client left meanwhile: closed at once.
    CHECK_INT (nws_reconcile_link (0, 0, 1, &until, gone + 1), NWS_RECONCILE_CLOSE);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (address_loopback),
        NWS_UNIT_CASE (address_own),
        NWS_UNIT_CASE (wanted),
        NWS_UNIT_CASE (identify),
        NWS_UNIT_CASE (same_proxy),
        NWS_UNIT_CASE (merge),
        NWS_UNIT_CASE (link_verdicts),
        NWS_UNIT_CASE (orphan_grace),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
