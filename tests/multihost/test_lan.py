#!/usr/bin/python3
"""Broadcast on the LANs users have (issue 10): hosts with Debian's defaults
(IPv6 on, avahi-daemon's shipped configuration), and the variations a real
LAN brings. Each class is one LAN, set up once for its tests:

* DualStack8: 8 dual-stack hosts. Start to full mesh, one link per peer,
  every message once and in order; an avahi-daemon restart under traffic.
* IPv6Only: 3 hosts with link-local IPv6 only; links dial fe80::%scope.
* IPv4Only: 3 hosts without IPv6 (the old test setup), as one more case.
* TwoInterfaces: a host with two cards on the LAN is linked once, both ways.
* LossyMdns: every host drops 20 % of the mDNS packets it receives; the
  mesh still forms and heals.
* OriginalDualStack: a stand-in for the original Go proxy (agent.py's
  "serve"), advertised with avahi-publish (so over IPv4 and IPv6), that
  dials each nws gateway twice, once per family, as the original does on
  dual stack: nws links to it once and sends it every message once.

Every class checks exactly once, in order, no echo. Times go to stderr as
"multihost:" lines. Each class is its own ctest (multihost.lan.<Class>);
run one alone with `test_lan.py <Class>`. Needs root; exits 77 otherwise.
"""

import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwsmh  # noqa: E402
from nwsmh import Agent, links_of, note, start_nws  # noqa: E402

BURST = 50                 # messages each sender sends at once
TICK = 0.02                # s between messages of a steady sender
HEAL_MAX = 20.0            # s from an avahi-daemon restart to the mesh whole again


class LanCase(nwsmh.MultiHostCase):
    """A MultiHostCase with the checks every LAN here shares."""

    def burst_from_every_host(self, tag):
        """chat0 of every host sends BURST messages at once; every other
        chat client gets each of them exactly once, in order; no sender
        gets its own."""
        t0 = time.monotonic()
        jobs = [(a, a.send("chat0", "%s%d" % (tag, k), BURST)) for k, a in enumerate(self.agents)]
        for a, job in jobs:
            a.wait_sent(job)
        for k, a in enumerate(self.agents):
            self.expect_exact(self.chat_clients(but=(a, "chat0")), "%s%d" % (tag, k), 1, BURST)
        problems = nwsmh.order_problems(self.agents, own=lambda k, c, t: c == "chat0"
                                        and t == "%s%d" % (tag, k))
        self.assertFalse(problems, "\n".join(problems))
        return time.monotonic() - t0

    def link_families(self):
        """{host name: sorted list of 'ipv4'/'ipv6-ll'/'ipv6'} of its chat links."""
        out = {}
        for a in self.agents:
            fams = []
            for l in links_of(a.status(), self.CHAT):
                addr = nwsmh.link_address(l)
                fams.append("ipv4" if ":" not in addr else
                            "ipv6-ll" if addr.startswith("fe80") else "ipv6")
            out[a.host.name] = sorted(fams)
        return out

    def assert_links(self, per_host):
        for a in self.agents:
            ls = [l for l in links_of(a.status(), self.CHAT) if l["state"] == "open"]
            self.assertEqual(len(ls), per_host, "%s: %s" % (a.host.name, ls))


class DualStack8(LanCase):
    N = 8

    @classmethod
    def set_up_hosts(cls):
        t0 = time.monotonic()
        super().set_up_hosts()
        cls.mesh_time = time.monotonic() - t0
        note("DualStack8: nws started on 8 dual-stack hosts; full mesh of /broadcast/chat "
             "%.2fs after start (hosts up in %.2fs)", cls.mesh_time, cls.hs.timings["setup"])

    def test_1_one_link_per_peer(self):
        """Each host holds exactly one open link per other host (7), over
        whichever family resolved first."""
        self.assert_links(self.N - 1)
        fams = self.link_families()
        note("DualStack8: links per host %s", {h: len(f) for h, f in fams.items()})
        note("DualStack8: link families %s",
             {f: sum(x.count(f) for x in fams.values()) for f in ("ipv4", "ipv6-ll", "ipv6")})

    def test_2_every_message_once(self):
        dt = self.burst_from_every_host("m")
        note("DualStack8: %d messages from each of 8 hosts, each delivered once to 15 "
             "clients, in %.2fs", BURST, dt)

    def test_3_avahi_restart_heals(self):
        """Host 3's avahi-daemon restarts while hosts 0 and 3 send steadily:
        nothing is lost or doubled (the links outlive the adverts' absence),
        and every host has its links to host 3's current advert again."""
        a0, a3 = self.agents[0], self.agents[3]
        j0 = a0.send("chat0", "ra", 0, interval=TICK)
        j3 = a3.send("chat0", "rd", 0, interval=TICK)
        t0 = time.monotonic()
        self.hl[3].stop_avahi()
        self.hl[3].start_avahi()
        heal = nwsmh.wait_links(self.agents, self.CHAT, self.hl, timeout=HEAL_MAX)
        note("DualStack8: host 3's avahi-daemon restarted; mesh whole again %.2fs after "
             "the restart began (links checked for %.2fs)", time.monotonic() - t0, heal)
        a0.stop(j0)
        a3.stop(j3)
        last0 = a0.wait_sent(j0)["last"]
        last3 = a3.wait_sent(j3)["last"]
        self.expect_exact(self.chat_clients(but=(a0, "chat0")), "ra", 1, last0)
        self.expect_exact(self.chat_clients(but=(a3, "chat0")), "rd", 1, last3)
        self.assert_links(self.N - 1)


class IPv6Only(LanCase):
    FAMILY = "ipv6"

    def test_1_links_over_link_local(self):
        self.assert_links(self.N - 1)
        fams = self.link_families()
        for h, f in fams.items():
            self.assertEqual(f, ["ipv6-ll"] * (self.N - 1), "%s: %s" % (h, f))

    def test_2_every_message_once(self):
        self.burst_from_every_host("v6m")


class IPv4Only(LanCase):
    FAMILY = "ipv4"

    def test_1_links_over_ipv4(self):
        self.assert_links(self.N - 1)
        for h, f in self.link_families().items():
            self.assertEqual(f, ["ipv4"] * (self.N - 1), "%s: %s" % (h, f))

    def test_2_every_message_once(self):
        self.burst_from_every_host("v4m")


class TwoInterfaces(LanCase):
    """Host 1 has two cards on the LAN: its advert is seen four times
    (two interfaces, two families) and it sees everyone's twice over."""
    EXTRA_IFACES = {1: 1}

    def test_1_one_link_per_peer(self):
        self.assert_links(self.N - 1)
        st = self.agents[0].status()
        n = [l for l in links_of(st, self.CHAT) if nwsmh.peer_is(l, self.hl[1])]
        self.assertEqual(len(n), 1, n)

    def test_2_every_message_once(self):
        self.burst_from_every_host("tim")


class LossyMdns(LanCase):
    """Every host drops 20 % of the mDNS packets it receives (IPv4 and
    IPv6), from before nws starts."""

    LOSS = 20

    @classmethod
    def set_up_hosts(cls):
        for h in cls.hs:
            h.drop_mdns(cls.LOSS)
        t0 = time.monotonic()
        super().set_up_hosts()
        note("LossyMdns: %d%% of mDNS dropped on 3 hosts: full mesh %.2fs after start",
             cls.LOSS, time.monotonic() - t0)

    def test_1_every_message_once(self):
        self.burst_from_every_host("lm")

    def test_2_avahi_restart_heals(self):
        """Host 2's avahi-daemon restarts: the mesh is whole again (lossy
        resolves are retried), and what is sent meanwhile arrives once."""
        a2 = self.agents[2]
        job = a2.send("chat0", "lr", 0, interval=TICK)
        t0 = time.monotonic()
        self.hl[2].stop_avahi()
        self.hl[2].start_avahi()
        nwsmh.wait_links(self.agents, self.CHAT, self.hl, timeout=HEAL_MAX * 2)
        note("LossyMdns: host 2's avahi-daemon restarted; mesh whole again %.2fs later",
             time.monotonic() - t0)
        a2.stop(job)
        last = a2.wait_sent(job)["last"]
        self.expect_exact(self.chat_clients(but=(a2, "chat0")), "lr", 1, last)


class OriginalDualStack(LanCase):
    """Hosts A and B run nws; host C plays an original proxy's gateway on
    port 9009, advertised the original's way, and dials A's and B's
    /broadcast/chat twice each, over IPv4 and over IPv6, as the original
    does on dual stack."""

    INSTANCE = "777.chat._bws"

    @classmethod
    def set_up_hosts(cls):
        a, b, c = cls.hl
        cls.nws = start_nws([a, b])
        cls.agents = [Agent(h) for h in (a, b)]
        cls.orig = Agent(c, name="original")
        cls.closed_ok = set()
        for x in cls.agents:
            x.open(["chat0", "chat1"], "/broadcast/" + cls.CHAT)
        cls.orig.serve(nwsmh.PORT)
        cls.publisher = c.publish(cls.INSTANCE, "_ws._tcp", nwsmh.PORT,
                                  "path=/broadcast/" + cls.CHAT)
        # the original dials each proxy it finds once per address family
        for k, h in enumerate((a, b)):
            cls.orig.open("v4-%d" % k, "/broadcast/" + cls.CHAT, addr=h.addr4,
                          headers=["X-BroadcastWebSocket-Proxy: true"])
            cls.orig.open("v6-%d" % k, "/broadcast/" + cls.CHAT,
                          addr="%s%%%s" % (h.addr6, c.ifname),
                          headers=["X-BroadcastWebSocket-Proxy: true"])

        def linked():
            probs = []
            for x in cls.agents:
                ls = links_of(x.status(), cls.CHAT)
                if sorted((l["key"], l["state"]) for l in ls if l["key"] == cls.INSTANCE) \
                        != [(cls.INSTANCE, "open")]:
                    probs.append("%s: links %s" % (x.host.name, ls))
            return probs
        dt = nwsmh.poll_problems("A and B linked to the original", linked, 20)
        note("OriginalDualStack: A and B linked to the stand-in original %.2fs after its "
             "advert", dt)

    @classmethod
    def tearDownClass(cls):
        if cls.hs is not None:
            cls.orig.quit()
        super().tearDownClass()

    def test_1_linked_once(self):
        """The original is advertised over IPv4 and IPv6 mDNS, yet A and B
        each dial it once."""
        by_peer = {}
        with self.orig.cond:
            accepted = list(self.orig.accepted)
        for e in accepted:
            who = next((h.name for h in self.hl[:2] if e["peer"].split("%")[0]
                        in nwsmh.host_addrs(h)), e["peer"])
            by_peer[who] = by_peer.get(who, 0) + 1
            self.assertTrue(e["proxy"], e)
        self.assertEqual(by_peer, {self.hl[0].name: 1, self.hl[1].name: 1}, accepted)

    def test_2_its_messages_once(self):
        """What the original sends reaches every nws client once, in order."""
        self.orig.fan("orig", BURST)
        self.expect_exact(self.chat_clients(), "orig", 1, BURST)

    def test_3_ours_reach_it_once(self):
        """What A's and B's clients send reaches the original once, though
        it dialed each gateway twice: a gateway writes to one of the two
        links (the other, from the same network card, is shadowed); and
        nws's own clients get each message once."""
        for k, a in enumerate(self.agents):
            a.wait_sent(a.send("chat0", "ours%d" % k, BURST))
        for k, a in enumerate(self.agents):
            tag = "ours%d" % k
            self.expect_exact([x for x in self.chat_clients() if x != (a, "chat0")], tag, 1,
                              BURST)
            self.orig.wait(lambda: self.orig.count("v4-%d" % k, tag)
                           + self.orig.count("v6-%d" % k, tag) >= BURST, 15,
                           "%s at the original" % tag)
            got = {c: self.orig.numbers(c, tag) for c in ("v4-%d" % k, "v6-%d" % k)}
            self.assertEqual(sorted(got.values(), key=len),
                             [[], list(range(1, BURST + 1))],
                             "what the original's two links to %s got: %s"
                             % (self.hl[k].name, {c: len(v) for c, v in got.items()}))

    def test_4_second_link_takes_over(self):
        """When the carrying link of the original to A closes, the other
        one carries A's messages from then on."""
        a = self.agents[0]
        carrier = max(("v4-0", "v6-0"), key=lambda c: self.orig.count(c, "ours0"))
        other = "v6-0" if carrier == "v4-0" else "v4-0"
        self.orig.close(carrier)
        self.orig.wait_closed(carrier)
        nwsmh.poll_problems("A's gateway has one proxy link in from the original",
                            lambda: [] if self.proxies_in(a) == 2 else
                            ["%d proxies" % self.proxies_in(a)], 10)
        a.wait_sent(a.send("chat0", "after", BURST))
        self.orig.wait(lambda: self.orig.count(other, "after") >= BURST, 15,
                       "after at the original's other link")
        self.assertEqual(self.orig.numbers(other, "after"), list(range(1, BURST + 1)))

    def proxies_in(self, agent):
        st = agent.status()
        room = next((r for r in st.get("channels", []) if r.get("name") == self.CHAT), {})
        return room.get("proxies", 0)


if __name__ == "__main__":
    nwsmh.skip_unless_possible()
    unittest.main(verbosity=2)
