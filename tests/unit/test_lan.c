/*  Unit tests of the pure parts of broadcast on a LAN: the order in which
    a peer's addresses are dialed (nws_avahi_rank), --peer with an IPv6
    scope (nws_discovery_parse_peer), which inbound proxy link of one peer
    proxy carries its messages (nws_room), the neighbour lookup's answers
    where there is no neighbour (nws_neigh), and the replay ring that
    serves late and returning links (nws_replay).  */
#include "nws_avahi.h"
#include "nws_discovery.h"
#include "nws_neigh.h"
#include "nws_replay.h"
#include "nws_room.h"
#include "nws_unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

//  IPv4 first, then IPv6 beyond the link, then link-local, then the rest.
static void
rank_order (void)
{
    CHECK_INT (nws_avahi_rank ("10.77.0.10"), 0);
    CHECK_INT (nws_avahi_rank ("169.254.3.4"), 0);
    CHECK_INT (nws_avahi_rank ("2001:db8::1"), 1);
    CHECK_INT (nws_avahi_rank ("fd00::1"), 1);
    CHECK_INT (nws_avahi_rank ("fe80::1%2"), 2);
    CHECK_INT (nws_avahi_rank ("fe80::1"), 2);
    CHECK_INT (nws_avahi_rank ("hostb.local"), 3);
    CHECK_INT (nws_avahi_rank (""), 3);
}

static void
peer_with_scope (void)
{
    char host [80];
    uint16_t port = 0;
    CHECK_INT (nws_discovery_parse_peer ("[fe80::1%eth0]:9009", host, sizeof host, &port), 0);
    CHECK_STR (host, "fe80::1%eth0");
    CHECK_INT (port, 9009);
    CHECK_INT (nws_discovery_parse_peer ("[fe80::1%2]:1", host, sizeof host, &port), 0);
    CHECK_STR (host, "fe80::1%2");
    //  A scope only in brackets, once, between an address and a name
    //  without colons.
    CHECK_INT (nws_discovery_parse_peer ("fe80%eth0:9009", host, sizeof host, &port), -EINVAL);
    CHECK_INT (nws_discovery_parse_peer ("[%eth0]:9009", host, sizeof host, &port), -EINVAL);
    CHECK_INT (nws_discovery_parse_peer ("[fe80::1%]:9009", host, sizeof host, &port), -EINVAL);
    CHECK_INT (nws_discovery_parse_peer ("[fe80::1%a%b]:9009", host, sizeof host, &port), -EINVAL);
    CHECK_INT (nws_discovery_parse_peer ("[fe80::1%a:b]:9009", host, sizeof host, &port), -EINVAL);
    CHECK_INT (nws_discovery_parse_peer ("[fe80::1%a/b]:9009", host, sizeof host, &port), -EINVAL);
}

static void
s_proxy (nws_session_t *s, const char *peer)
{
    memset (s, 0, sizeof *s);
    s->is_proxy = 1;
    s->state = NWS_SESSION_OPEN;
    snprintf (s->proxy_peer, sizeof s->proxy_peer, "%s", peer);
}

//  The original dials once per family: its newest link carries, the
//  others wait, and the newest of those takes over when it leaves. nws
//  peers (by id) and unknown ones are never shadowed.
static void
room_one_carrier_per_proxy (void)
{
    nws_channel_t channel;
    CHECK_INT (nws_channel_parse_path ("/broadcast/chat", &channel), 0);
    nws_room_t *room = nws_room_new (&channel);
    CHECK (room);
    nws_session_t v4, v6, third, other, twin, anon1, anon2, client;
    s_proxy (&v4, "mac:02:00:00:00:00:01");
    s_proxy (&v6, "mac:02:00:00:00:00:01");
    s_proxy (&third, "mac:02:00:00:00:00:01");
    s_proxy (&other, "id:0123456789abcdef");
    s_proxy (&twin, "id:0123456789abcdef");
    s_proxy (&anon1, "");
    s_proxy (&anon2, "");
    memset (&client, 0, sizeof client);
    client.state = NWS_SESSION_OPEN;
    nws_room_add (room, &v4);
    nws_room_add (room, &client);
    nws_room_add (room, &v6);
    nws_room_add (room, &other);
    nws_room_add (room, &twin);
    nws_room_add (room, &third);
    nws_room_add (room, &anon1);
    nws_room_add (room, &anon2);
    CHECK_INT (third.shadowed, 0);          //  the newest carries
    CHECK_INT (v6.shadowed, 1);
    CHECK_INT (v4.shadowed, 1);
    CHECK_INT (other.shadowed, 0);          //  nws peers: the dialer dedups
    CHECK_INT (twin.shadowed, 0);
    CHECK_INT (anon1.shadowed, 0);          //  unknown: never merged
    CHECK_INT (anon2.shadowed, 0);
    CHECK_INT (client.shadowed, 0);
    CHECK_INT (room->proxies, 7);
    CHECK_INT (room->clients, 1);

    //  A waiting link leaves: the carrier stays.
    nws_room_remove (room, &v4);
    CHECK_INT (third.shadowed, 0);
    CHECK_INT (v6.shadowed, 1);
    //  The carrier leaves: the next carries.
    nws_room_remove (room, &third);
    CHECK_INT (v6.shadowed, 0);
    //  A new link of that proxy carries from now on.
    nws_room_add (room, &v4);
    CHECK_INT (v4.shadowed, 0);
    CHECK_INT (v6.shadowed, 1);
    nws_room_remove (room, &v4);
    CHECK_INT (v6.shadowed, 0);
    nws_room_remove (room, &v6);
    nws_room_remove (room, &other);
    nws_room_remove (room, &twin);
    nws_room_remove (room, &anon1);
    nws_room_remove (room, &anon2);
    nws_room_remove (room, &client);
    CHECK_INT (room->proxies, 0);
    CHECK_INT (room->clients, 0);
    nws_room_destroy (&room);
    CHECK (room == NULL);
}

//  Loopback peers have no neighbour entry; other families are refused.
static void
neigh_without_neighbour (void)
{
    char mac [NWS_NEIGH_MAX];
    struct sockaddr_in v4 = { .sin_family = AF_INET };
    inet_pton (AF_INET, "127.0.0.1", &v4.sin_addr);
    CHECK_INT (nws_neigh_lookup ((struct sockaddr *) &v4, mac, sizeof mac), -ENOENT);
    struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
    inet_pton (AF_INET6, "::1", &v6.sin6_addr);
    CHECK_INT (nws_neigh_lookup ((struct sockaddr *) &v6, mac, sizeof mac), -ENOENT);
    inet_pton (AF_INET6, "::ffff:127.0.0.1", &v6.sin6_addr);
    CHECK_INT (nws_neigh_lookup ((struct sockaddr *) &v6, mac, sizeof mac), -ENOENT);
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    CHECK_INT (nws_neigh_lookup ((struct sockaddr *) &un, mac, sizeof mac), -EAFNOSUPPORT);
}

static nws_frame_t *
s_frame (size_t len)
{
    nws_frame_t *frame = nws_frame_new (len, NWS_KIND_TEXT);
    CHECK (frame);
    memset (nws_frame_payload (frame), 'x', len);
    frame->len = len;
    return frame;
}

//  Indexes run on whatever falls out; a message is found by its index
//  while kept; since() finds the first message at or after a time.
static void
replay_window (void)
{
    nws_replay_t ring = { 0 };
    nws_frame_t *frames [100];
    for (int i = 0; i < 100; i++) {
        frames [i] = s_frame (10);
        CHECK_INT (nws_replay_push (&ring, frames [i], 1000 + i * 10), 0);
        CHECK_INT (frames [i]->refs, 2);
    }
    CHECK_INT (ring.next, 100);
    CHECK_INT (nws_replay_first (&ring), 0);
    CHECK (nws_replay_get (&ring, 42) == frames [42]);
    CHECK (nws_replay_get (&ring, 100) == NULL);
    CHECK_INT (nws_replay_since (&ring, 0), 0);
    CHECK_INT (nws_replay_since (&ring, 1500), 50);
    CHECK_INT (nws_replay_since (&ring, 1501), 51);
    CHECK_INT (nws_replay_since (&ring, 99999), 100);
    //  A 300 ms window at 1990: what arrived before 1690 goes.
    nws_replay_trim (&ring, 1990, 300, 1 << 20, 1000);
    CHECK_INT (nws_replay_first (&ring), 69);
    CHECK (nws_replay_get (&ring, 68) == NULL);
    CHECK (nws_replay_get (&ring, 69) == frames [69]);
    CHECK_INT (frames [68]->refs, 1);
    CHECK_INT (nws_replay_since (&ring, 0), 69);
    //  Bytes and count limits.
    nws_replay_trim (&ring, 1990, 300, 105, 1000);
    CHECK_INT (ring.count, 10);
    CHECK_INT (ring.bytes, 100);
    nws_replay_trim (&ring, 1990, 300, 1 << 20, 3);
    CHECK_INT (ring.count, 3);
    CHECK_INT (nws_replay_first (&ring), 97);
    //  Emptied by time: the next index goes on.
    nws_replay_trim (&ring, 999999, 300, 1 << 20, 1000);
    CHECK_INT (ring.count, 0);
    CHECK_INT (nws_replay_first (&ring), 100);
    nws_frame_t *more = s_frame (1);
    CHECK_INT (nws_replay_push (&ring, more, 5000), 0);
    CHECK (nws_replay_get (&ring, 100) == more);
    nws_replay_clear (&ring);
    CHECK_INT (ring.next, 101);
    CHECK_INT (more->refs, 1);
    nws_frame_unref (&more);
    for (int i = 0; i < 100; i++) {
        CHECK_INT (frames [i]->refs, 1);
        nws_frame_unref (&frames [i]);
    }
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (rank_order),
        NWS_UNIT_CASE (peer_with_scope),
        NWS_UNIT_CASE (room_one_carrier_per_proxy),
        NWS_UNIT_CASE (neigh_without_neighbour),
        NWS_UNIT_CASE (replay_window),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
