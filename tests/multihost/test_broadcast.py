#!/usr/bin/python3
"""Broadcast channels across three hosts (issue 3): nws-hub, nws-gateway and
nws-discovery in each of three network-namespace "hosts" (hosts.py), each
with its own dbus-daemon and avahi-daemon; WebSocket clients run inside
the hosts (agent.py) on 127.0.0.1:9009.

Checks that a message on /broadcast/chat reaches every other chat client on
every host exactly once and in order; that /local/chat stays on its host;
that a channel used on one host only is linked nowhere and its advert goes
within ~2 s after its last client leaves; 1,000 messages per host with no
duplicate and no self-link. Measures the time a fresh client on host B
takes to get the first message of host A on a channel A already uses.

Before any message is sent, the tests wait until every host's /status
lists one open link per other host for the channel (nwsmh.wait_links,
which polls GET /status through each host's agent): a link that reports
"open" has completed its WebSocket handshake with the peer's gateway, so
what is sent after that must arrive.

Needs root; exits 77 (skipped) otherwise. Figures go to stderr as lines
starting with "multihost:".
"""

import os
import random
import re
import statistics
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwsmh  # noqa: E402
from nwsmh import PORT, check_sequence, links_of, note  # noqa: E402

ADVERT_GONE_MAX = 2.5      # s from the last client leaving to the advert gone elsewhere
JOINS = 9                  # joins measured for the join latency
TICK = 0.02                # s between A's messages while B joins


class BroadcastTest(nwsmh.MultiHostCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a long-running avahi-browse in B, to time adverts (hosts.Browser)
        cls.browser_b = cls.hl[1].browser("_ws._tcp")

    @classmethod
    def tearDownClass(cls):
        if cls.hs is not None:
            cls.browser_b.close()
        super().tearDownClass()

    # --------------------------------------------------------------------

    def test_1_each_host_reaches_every_other_client(self):
        """A message on /broadcast/chat from a client on each host in turn
        reaches the other chat client on that host and both on each other
        host, exactly once and in order; never its sender."""
        for k, a in enumerate(self.agents):
            tag = "fan-%d" % k
            a.wait_sent(a.send("chat0", tag, 50))
            self.expect_exact(self.chat_clients(but=(a, "chat0")), tag, 1, 50)
            self.expect_none([(a, "chat0")], tag)
        # and every gateway's status shows one proxy link in per other host
        for a in self.agents:
            st = a.status()
            room = [r for r in st["channels"]
                    if r["scope"] == "broadcast" and r["name"] == self.CHAT]
            self.assertEqual(len(room), 1, st["channels"])
            self.assertEqual(room[0]["clients"], 2, room)
            self.assertEqual(room[0]["proxies"], self.N - 1,
                             "%s: proxy links into its gateway: %s" % (a.host.name, room))

    def test_2_local_stays_on_its_host(self):
        """/local/chat, used on every host next to /broadcast/chat, never
        leaves its host."""
        for a in self.agents:
            a.open(["loc0", "loc1"], "/local/chat")
        for k, a in enumerate(self.agents):
            a.wait_sent(a.send("loc0", "local-%d" % k, 20))
        for k, a in enumerate(self.agents):
            self.expect_exact([(a, "loc1")], "local-%d" % k, 1, 20)
        # a barrier: one broadcast message from each host, sent after the
        # local ones; once it is everywhere, a leaked local message (which
        # could only travel the same links) would have arrived too
        for k, a in enumerate(self.agents):
            a.wait_sent(a.send("chat0", "barrier-local-%d" % k, 1))
        for k, a in enumerate(self.agents):
            self.expect_exact(self.chat_clients(but=(a, "chat0")), "barrier-local-%d" % k, 1, 1)
        for k, a in enumerate(self.agents):
            others = [(b, c) for b in self.agents if b is not a for c in ("loc0", "loc1")]
            self.expect_none(others + self.chat_clients(), "local-%d" % k)
        # nothing advertises a local channel, no host links one
        for a in self.agents:
            st = a.status()
            for ad in st["discovery"]["adverts"]:
                self.assertNotEqual(ad["channel"], "loc", ad)
            # the only channel linked is the broadcast chat
            self.assertEqual({l["channel"] for l in links_of(st)}, {self.CHAT}, links_of(st))
        for ev in self.hl[1].browse("_ws._tcp"):
            self.assertTrue(all(t.startswith("path=/broadcast/") for t in ev["txt"]), ev)
        for a in self.agents:
            a.close("loc0")
            a.close("loc1")
            for c in ("loc0", "loc1"):
                a.wait_closed(c)
                self.closed_ok.add((self.agents.index(a), c))

    def test_3_single_host_channel(self):
        """A channel used on host A only is advertised (with the original's
        conventions) but linked nowhere, and its advert is gone from host B
        within ADVERT_GONE_MAX s after its last client leaves."""
        a, b, c = self.agents
        name_re = re.compile(r"^[0-9]+\.solo\._bws$")
        remotes0 = [x.status()["discovery"]["remotes"] for x in self.agents]
        mark = self.browser_b.mark()
        t0 = time.monotonic()
        a.open("solo0", "/broadcast/solo")
        ev = self.browser_b.wait(lambda e: e["event"] == "=" and name_re.match(e["name"]),
                                 15, mark, "advert of solo in B")
        note("advert of a new channel on A resolved in B %.2fs after its client joined",
             ev["t"] - t0)
        # (over IPv4 or IPv6 mDNS, whichever resolved first)
        self.assertIn(ev["address"].split("%")[0], nwsmh.host_addrs(self.hl[0]))
        self.assertEqual(ev["port"], PORT)
        self.assertEqual(ev["txt"], ["path=/broadcast/solo"])
        st_a = a.status()
        ads = [x for x in st_a["discovery"]["adverts"] if x["channel"] == "solo"]
        self.assertEqual(len(ads), 1, st_a["discovery"]["adverts"])
        self.assertEqual(ads[0]["instance"], ev["name"])
        # B and C know the advert (their discovery counts it) ...
        for k in (1, 2):
            x = self.agents[k]
            nwsmh.hosts.wait_for(lambda: x.status()["discovery"]["remotes"] >= remotes0[k] + 1,
                                 10, 0.1, "%s's discovery sees the solo advert" % x.host.name)
        # ... and nobody links it: B and C have no local interest, A has no
        # remote advert for it
        for x in self.agents:
            st = x.status()
            self.assertEqual(links_of(st, "solo"), [], "%s links solo" % x.host.name)
            self.assertNotIn("solo", st["discovery"]["interest"] if x is not a else [])
        room = [r for r in a.status()["channels"] if r["name"] == "solo"]
        self.assertEqual(room[0]["proxies"], 0, room)
        # the last client leaves: the advert goes
        mark = self.browser_b.mark()
        t1 = time.monotonic()
        a.close("solo0")
        a.wait_closed("solo0")
        self.closed_ok.add((0, "solo0"))
        gone = self.browser_b.wait(lambda e: e["event"] == "-" and e["name"] == ev["name"],
                                   10, mark, "advert of solo gone from B")
        dt = gone["t"] - t1
        note("last client of solo left A: its advert gone from B after %.2fs", dt)
        self.assertLess(dt, ADVERT_GONE_MAX)
        nwsmh.hosts.wait_for(lambda: not [x for x in a.status()["discovery"]["adverts"]
                                          if x["channel"] == "solo"],
                             3, 0.1, "solo advert gone from A's status")
        for x in self.agents:
            self.assertEqual(links_of(x.status(), "solo"), [])

    def test_4_thousand_messages_per_host(self):
        """Each host sends 1,000 numbered messages at once: every other chat
        client gets each exactly once, in the sender's order; no host links
        to itself or twice to the same peer."""
        n = 1000
        t0 = time.monotonic()
        jobs = [(a, a.send("chat0", "k-%d" % k, n)) for k, a in enumerate(self.agents)]
        for a, j in jobs:
            a.wait_sent(j, 60)
        # wait for everything, then a barrier behind it from each sender
        for k, a in enumerate(self.agents):
            for x, c in self.chat_clients(but=(a, "chat0")):
                x.wait(lambda: x.count(c, "k-%d" % k) >= n, 60,
                       "k-%d at %s %s" % (k, x.host.name, c))
        dt = time.monotonic() - t0
        for k, a in enumerate(self.agents):
            a.wait_sent(a.send("chat0", "kend-%d" % k, 1))
        for k, a in enumerate(self.agents):
            self.expect_exact(self.chat_clients(but=(a, "chat0")), "kend-%d" % k, 1, 1)
        note("3 x %d messages delivered to 5 clients each in %.2fs", n, dt)
        problems = []
        for k, a in enumerate(self.agents):
            for x, c in self.chat_clients(but=(a, "chat0")):
                p = check_sequence(x.numbers(c, "k-%d" % k), 1, n)
                if p:
                    problems.append("k-%d at %s %s: %s" % (k, x.host.name, c, p))
            if a.count("chat0", "k-%d" % k):
                problems.append("%s chat0 got its own messages" % a.host.name)
        self.assertFalse(problems, "\n".join(problems))
        for k, x in enumerate(self.agents):
            st = x.status()
            probs = nwsmh.link_problems(st, x.host, [h for h in self.hl if h is not x.host],
                                        self.CHAT)
            self.assertFalse(probs, "%s: %s" % (x.host.name, probs))
            for l in links_of(st):
                self.assertNotIn(nwsmh.link_address(l), nwsmh.host_addrs(x.host),
                                 "self-link %s" % l)
                self.assertEqual(l["connects"], 1, "a link reconnected: %s" % l)
            for key in ("closed_slow", "closed_gap", "gaps", "hub_publish_failed"):
                self.assertEqual(st["counters"][key], 0, "%s: %s" % (x.host.name, st["counters"]))
            self.assertEqual(st["discovery"]["publish_failed"], 0, st["discovery"])
            self.assertEqual(st["hub"]["dropped"], 0, st["hub"])

    def test_5_join_latency(self):
        """The time a fresh client on B, on a channel that A already uses
        (A sending every 20 ms, its advert already known to B's discovery),
        takes to get A's first message; and that every later message of A
        arrives. JOINS joins, each on a channel of its own."""
        a, b, _ = self.agents
        chans = ["lat%d" % i for i in range(JOINS)]
        remotes0 = b.status()["discovery"]["remotes"]
        for ch in chans:
            a.open("A" + ch, "/broadcast/" + ch)
        # B's discovery must know every advert first: otherwise we would
        # time mDNS probing and announcing (~1 s), not the join
        nwsmh.hosts.wait_for(lambda: b.status()["discovery"]["remotes"] >= remotes0 + JOINS,
                             15, 0.1, "B's discovery knows the lat adverts")
        jobs = [a.send("A" + ch, ch, 0, interval=TICK, stamp=True) for ch in chans]
        opened, firsts = {}, {}
        for ch in chans:
            # sampling, not synchronisation: join at a random phase of A's
            # 20 ms tick (the loop runs just after a tick otherwise)
            time.sleep(random.uniform(0, TICK))
            b.open("B" + ch, "/broadcast/" + ch)
            opened[ch] = b.opens["B" + ch]
            b.wait(lambda: b.first_time("B" + ch, ch), 10, "first message of A on %s at B" % ch)
            firsts[ch] = b.received("B" + ch, ch)[0]
        # a second client on B while the link is up, for comparison
        second = []
        for ch in chans:
            time.sleep(random.uniform(0, TICK))
            b.open("B2" + ch, "/broadcast/" + ch)
            t = b.wait(lambda: b.first_time("B2" + ch, ch), 10, "second client on B")
            second.append(t - b.opens["B2" + ch]["t"])
        for j in jobs:
            a.stop(j)
        sent = {ch: a.wait_sent(j) for ch, j in zip(chans, jobs)}
        # from its first message on, each B client has every later one
        problems = []
        for ch in chans:
            for cid in ("B" + ch, "B2" + ch):
                if cid not in b.opens:
                    continue
                last = sent[ch]["last"]
                b.wait(lambda: b.count(cid, ch) and b.numbers(cid, ch)[-1] >= last, 10,
                       "last message of %s at %s" % (ch, cid))
                nums = b.numbers(cid, ch)
                p = check_sequence(nums, nums[0], last)
                if p:
                    problems.append("%s at B %s: %s" % (ch, cid, p))
        self.assertFalse(problems, "\n".join(problems))
        lat, lat_conn, linked, unlinked = [], [], [], []
        for ch in chans:
            n, t = firsts[ch]
            lat.append(t - opened[ch]["t"])
            lat_conn.append(t - opened[ch]["t0"])
            stamps = sent[ch]["stamps"]
            linked.append(stamps[n - 1] - opened[ch]["t"])    # A sent n at stamps[n-1]
            if n >= 2:                                         # and n-1 did not come
                unlinked.append(max(0.0, stamps[n - 2] - opened[ch]["t"]))
        ms = lambda v: "%.0f ms" % (v * 1000)  # noqa: E731
        note("join latency, fresh client on B to its first message from A (A sending every "
             "%s, %d joins): median %s after its handshake (min %s, max %s); median %s "
             "after it started connecting", ms(TICK), JOINS, ms(statistics.median(lat)),
             ms(min(lat)), ms(max(lat)), ms(statistics.median(lat_conn)))
        note("  per join: %s", ", ".join(ms(v) for v in lat))
        note("  B's link to A took effect between a median %s and %s after B's handshake "
             "(A's last message B missed, and the first it got, were sent then; the rest "
             "is the wait for A's next tick)",
             ms(statistics.median(unlinked)) if unlinked else "?",
             ms(statistics.median(linked)))
        note("  a second client on B, link already up (the tick wait alone): median %s "
             "(min %s, max %s)", ms(statistics.median(second)), ms(min(second)),
             ms(max(second)))
        for ch in chans:
            for x, cid, k in ((a, "A" + ch, 0), (b, "B" + ch, 1), (b, "B2" + ch, 1)):
                if cid in x.opens:
                    x.close(cid)
                    x.wait_closed(cid)
                    self.closed_ok.add((k, cid))
        for x in self.agents:
            for l in links_of(x.status()):
                self.assertNotIn(nwsmh.link_address(l), nwsmh.host_addrs(x.host),
                                 "self-link %s" % l)

    def test_9_no_duplicates_anywhere(self):
        """Over everything the tests sent: no client got any sender's
        message twice or out of order, nor any of its own."""
        problems = nwsmh.order_problems(self.agents)
        self.assertFalse(problems, "\n".join(problems))


if __name__ == "__main__":
    nwsmh.skip_unless_possible()
    unittest.main(verbosity=2)
