#!/usr/bin/python3
"""Static peers (nws-discovery --peer HOST:PORT), for networks where
multicast DNS does not reach: two hosts A and B (hosts.py), each running
nws-hub, nws-gateway and nws-discovery; clients inside the hosts
(agent.py) on 127.0.0.1:9009.

StaticPeersTest: no avahi-daemon in either host (Hosts(avahi=False)), and
`nws-discovery --no-avahi --peer <other host>:9009` in each. Checks that
/broadcast/chat clients on A and B exchange 100 numbered messages each
way, exactly once and in order; that each /status shows exactly one link,
to the other host, open, and no adverts; that a channel used on one host
only is linked from that host alone (B links to A only for channels with
local clients on B, and the other way round); and that a malformed --peer
(e.g. `--peer bogus`) makes nws-discovery exit non-zero with a message on
stderr that names --peer.

AvahiAndPeerTest: avahi-daemon running in both hosts AND `--peer` to the
other host: the advert and the static peer name the same address, port
and channel, so there is one link per peer and channel, not two, and no
message arrives twice. The link also survives the advert going away (B's
avahi-daemon stopped) and coming back, without reconnecting.

Every wait polls GET /status (or waits on the agents' events) with a
deadline; negative checks ("no link for solo on B") are made after a
barrier that proves the host's nws-discovery has processed the events
that could have caused one.

Needs root; exits 77 (skipped) otherwise. Figures go to stderr as lines
starting with "multihost:".
"""

import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwsmh  # noqa: E402
from nwsmh import DISCOVERY, PORT, HarnessError, links_of, note  # noqa: E402

N_MSGS = 100               # messages each way
LINK_TIMEOUT = 20.0        # s for links to be right (the status file refreshes every 1 s)
BAD_PEERS = ["bogus", "10.77.0.11", "10.77.0.11:0", "10.77.0.11:65536", ":9009",
             "10.77.0.11:abc", "[10.77.0.11:9009"]


def poll(what, fn, timeout=LINK_TIMEOUT):
    return nwsmh.poll_problems(what, fn, timeout)


def start_nws_with_peers(hl, no_avahi):
    """nws-hub and nws-gateway in both hosts, then nws-discovery with
    --peer <the other host>:PORT (and --no-avahi if asked)."""
    nws = nwsmh.start_nws(hl, discovery=False)
    for k, n in enumerate(nws):
        other = hl[1 - k]
        cmd = [DISCOVERY, "--port", str(PORT), "--verbose"]
        for spelling in peer_spellings(hl[k], other):
            cmd += ["--peer", spelling]
        if no_avahi:
            cmd.append("--no-avahi")
        n._start("discovery", cmd)
    for n in nws:
        n.wait_ready("discovery")
    return nws


def peer_spellings(host, other):
    """--peer values for other, as seen from host: its IPv4 address and, on
    dual stack, its link-local IPv6 one too (two spellings of one proxy,
    which must still make one link)."""
    out = ["%s:%d" % (other.addr4, PORT)] if other.addr4 else []
    if other.addr6:
        out.append("[%s%%%s]:%d" % (other.addr6, host.ifname, PORT))
    return out


def room(status, name, scope="broadcast"):
    """The gateway's entry for a channel, or None."""
    rs = [r for r in status["channels"] if r["scope"] == scope and r["name"] == name]
    return rs[0] if rs else None


class PeersCase(nwsmh.MultiHostCase):
    """Two hosts, nws-discovery with --peer to the other one (twice: by its
    IPv4 and by its IPv6 address); each host has chat clients chat0 and
    chat1 on /broadcast/chat."""

    N = 2
    AVAHI = False
    link_msgs = 0          # messages each chat link should have read so far

    @classmethod
    def set_up_hosts(cls):
        cls.nws = start_nws_with_peers(cls.hl, no_avahi=not cls.AVAHI)
        cls.agents = [nwsmh.Agent(h) for h in cls.hs]
        cls.closed_ok = set()
        t_up = time.monotonic() - cls.t_start
        for a in cls.agents:
            a.open(["chat0", "chat1"], "/broadcast/" + cls.CHAT)
        dt = cls.wait_chat_links()
        note("%s: %d hosts up in %.2fs (avahi %s), /broadcast/%s linked %.2fs later "
             "(links %.2fs)", cls.__name__, cls.N, t_up, "on" if cls.AVAHI else "off",
             cls.CHAT, time.monotonic() - cls.t_start - t_up, dt)

    # ---- helpers

    @classmethod
    def peer_of(cls, k):
        return "%s:%d" % (cls.hl[1 - k].addr, PORT)

    @classmethod
    def chat_link_problems(cls, k, st):
        """What is wrong with host k's links: it must have exactly one, for
        chat, to the other host, open, named after a source it serves."""
        h = cls.hl[k]
        probs = ["%s: %s" % (h.name, p)
                 for p in nwsmh.link_problems(st, h, [cls.hl[1 - k]], cls.CHAT)]
        links = links_of(st)
        if len(links) != 1:
            probs.append("%s: %d links, want 1: %s" % (h.name, len(links), links))
        for l in links:
            # named after the source it serves: --peer, or with avahi
            # maybe the peer's advert (the other source then merged into it)
            want_keys = ["peer:%s %s" % (p.strip("[").replace("]", ""), cls.CHAT)
                         for p in peer_spellings(h, cls.hl[1 - k])]
            if l["key"] not in want_keys and not (cls.AVAHI
                                                  and nwsmh.INSTANCE_RE.match(l["key"])):
                probs.append("%s: link key %r, want one of %r" % (h.name, l["key"], want_keys))
        return probs

    @classmethod
    def wait_chat_links(cls, extra=None):
        """Polls both /status until each host has its one open chat link to
        the other (and extra(k, status) finds nothing wrong)."""
        def problems():
            probs = []
            for k, a in enumerate(cls.agents):
                st = a.status()
                probs += cls.chat_link_problems(k, st)
                if extra:
                    probs += extra(k, st)
            return probs
        return poll("one open chat link each way", problems)

    def exchange(self, tag, n=N_MSGS):
        """chat0 on A and chat0 on B each send n numbered messages at once;
        every other chat client (the other host's two, its own host's
        chat1) gets each exactly once, in order; no sender gets its own.
        Returns the time it took."""
        t0 = time.monotonic()
        jobs = [(a, a.send("chat0", "%s-%d" % (tag, k), n)) for k, a in enumerate(self.agents)]
        for a, j in jobs:
            a.wait_sent(j)
        for k, a in enumerate(self.agents):
            self.expect_exact(self.chat_clients(but=(a, "chat0")), "%s-%d" % (tag, k), 1, n)
        dt = time.monotonic() - t0
        # a barrier behind them, from each side: nothing more of tag may follow
        for k, a in enumerate(self.agents):
            a.wait_sent(a.send("chat0", "%s-end-%d" % (tag, k), 1))
        for k, a in enumerate(self.agents):
            self.expect_exact(self.chat_clients(but=(a, "chat0")), "%s-end-%d" % (tag, k), 1, 1)
        for k, a in enumerate(self.agents):
            self.expect_exact(self.chat_clients(but=(a, "chat0")), "%s-%d" % (tag, k), 1, n)
            self.expect_none([(a, "chat0")], "%s-%d" % (tag, k))
        # each side's n + 1 crossed the LAN once: on the one link that reads
        # from the sender's gateway (its count is in the status file, which
        # nws-discovery rewrites every second)
        type(self).link_msgs += n + 1
        want = self.link_msgs

        def counted():
            probs = []
            for k, a in enumerate(self.agents):
                got = sum(l["messages"] for l in links_of(a.status(), self.CHAT))
                if got < want:
                    probs.append("%s's chat link read %d messages, want %d"
                                 % (self.hl[k].name, got, want))
            return probs
        poll("the links' message counts", counted, timeout=5)
        for k, a in enumerate(self.agents):
            ls = links_of(a.status(), self.CHAT)
            self.assertEqual(sum(l["messages"] for l in ls), want,
                             "%s: messages read by its chat links: %s" % (self.hl[k].name, ls))
        return dt

    def assert_one_link_each(self, connects=1):
        """Right now: each host has exactly one link, for chat, to the other,
        open and (by default) never reconnected; the other gateway counts
        exactly one proxy link into its chat channel."""
        sts = [a.status() for a in self.agents]
        for k, st in enumerate(sts):
            probs = self.chat_link_problems(k, st)
            self.assertFalse(probs, "; ".join(probs))
            link = links_of(st)[0]
            self.assertTrue(nwsmh.peer_is(link, self.hl[1 - k]), link)
            if connects is not None:
                self.assertEqual(link["connects"], connects, "a link reconnected: %s" % link)
            r = room(st, self.CHAT)
            self.assertIsNotNone(r, st["channels"])
            self.assertEqual(r["clients"], 2, r)
            self.assertEqual(r["proxies"], 1, "%s: proxy links into its gateway: %s"
                             % (self.hl[k].name, r))
        return sts

    def check_no_duplicates(self):
        problems = nwsmh.order_problems(self.agents)
        self.assertFalse(problems, "\n".join(problems))


class StaticPeersTest(PeersCase):
    """No avahi-daemon anywhere; nws-discovery --no-avahi --peer."""

    AVAHI = False

    def test_0_no_avahi(self):
        """Neither host runs avahi-daemon (nothing answers on its D-Bus name),
        and nws-discovery says so in /status: daemon disabled, no adverts,
        no remote adverts."""
        for h, a in zip(self.hl, self.agents):
            self.assertIsNone(h.avahi)
            comms = []
            for pid in nwsmh.hosts.pids_in_netns(h.ns):
                try:
                    with open("/proc/%d/comm" % pid) as f:
                        comms.append(f.read().strip())
                except OSError:
                    pass
            self.assertNotIn("avahi-daemon", comms, "%s runs avahi-daemon" % h.name)
            self.assertIsNone(h.avahi_state(), "%s: avahi answers on D-Bus" % h.name)
            d = a.status()["discovery"]
            self.assertEqual(d.get("daemon"), "disabled", d)
            self.assertEqual(d["adverts"], [], d)
            self.assertEqual(d["remotes"], 0, d)
            self.assertEqual(d["interest"], [self.CHAT], d)

    def test_1_messages_both_ways(self):
        """100 numbered messages from A's chat0 and 100 from B's at the same
        time: the other host's chat clients (and the sender's neighbour) get
        each once, in order."""
        dt = self.exchange("ab")
        note("static peers: %d messages each way delivered (once, in order) in %.2fs",
             N_MSGS, dt)

    def test_2_status(self):
        """Each /status: exactly one link, for chat, to the other host's
        address and port, open, connected once, having carried the other
        side's messages; no adverts."""
        sts = self.assert_one_link_each()
        for k, st in enumerate(sts):
            d = st["discovery"]
            self.assertEqual(d["adverts"], [], d)
            self.assertEqual(d["remotes"], 0, d)
            link = links_of(st)[0]
            self.assertEqual(link["state"], "open", link)
            self.assertEqual(link["messages"], self.link_msgs, link)
            self.assertEqual(d["publish_failed"], 0, d)
            for key in ("closed_slow", "closed_gap", "gaps", "hub_publish_failed"):
                self.assertEqual(st["counters"][key], 0, "%s: %s" % (self.hl[k].name,
                                                                     st["counters"]))

    def test_3_one_sided_channels(self):
        """A channel with clients on one host only is linked from that host
        (static peers are linked for every channel with local clients) but
        not from the other: /broadcast/solo only on A, /broadcast/fence only
        on B. A proxy link into a gateway is not a local client."""
        a, b = self.agents
        A, B = self.hl
        a.open("solo0", "/broadcast/solo")

        def a_links_solo(k, st):
            if k != 0:
                return []
            ls = links_of(st, "solo")
            if len(ls) != 1 or ls[0]["state"] != "open" or not nwsmh.peer_is(ls[0], self.hl[1]):
                return ["A's solo links: %s" % ls]
            return []

        def b_has_solo_proxy(k, st):
            if k != 1:
                return []
            r = room(st, "solo")
            if not r or r["proxies"] != 1 or r["clients"] != 0:
                return ["B's gateway solo channel: %s" % r]
            return []
        # (the chat links must stay as they were meanwhile: one each, open)
        self.wait_chat_links_and(lambda k, st: a_links_solo(k, st) + b_has_solo_proxy(k, st),
                                 except_channels={0: {"solo"}})
        # Barrier for B: a client of B's own on a new channel. Its interest
        # marker travels B's gateway -> hub -> discovery after any marker the
        # proxy link from A could have caused; once B links fence, B's
        # discovery has seen them all.
        b.open("fence0", "/broadcast/fence")

        def b_links_fence(k, st):
            if k != 1:
                return []
            ls = links_of(st, "fence")
            if len(ls) != 1 or ls[0]["state"] != "open" or not nwsmh.peer_is(ls[0], self.hl[0]):
                return ["B's fence links: %s" % ls]
            return []
        self.wait_chat_links_and(b_links_fence, except_channels={0: {"solo"}, 1: {"fence"}})
        st_b = b.status()
        self.assertEqual(links_of(st_b, "solo"), [], "B links solo, which only A uses")
        self.assertNotIn("solo", st_b["discovery"]["interest"])
        r = room(st_b, "solo")
        self.assertEqual((r["clients"], r["proxies"]) if r else None, (0, 1), r)
        # Barrier for A: its last solo client leaves; once A's solo link is
        # gone, A's discovery has seen every marker of its gateway before,
        # including any the proxy link from B on fence could have caused.
        a.close("solo0")
        a.wait_closed("solo0")
        self.closed_ok.add((0, "solo0"))
        poll("A's solo link gone", lambda: ["A's solo links: %s" % links_of(a.status(), "solo")]
             if links_of(a.status(), "solo") else [])
        st_a = a.status()
        self.assertEqual(links_of(st_a, "fence"), [], "A links fence, which only B uses")
        self.assertNotIn("fence", st_a["discovery"]["interest"])
        r = room(st_a, "fence")
        self.assertEqual((r["clients"], r["proxies"]) if r else None, (0, 1), r)
        # B's last fence client leaves: its link goes, and with it the proxy
        # in A's gateway; A's link on solo closed, so B's gateway has none
        b.close("fence0")
        b.wait_closed("fence0")
        self.closed_ok.add((1, "fence0"))

        def gone():
            probs = []
            st_a, st_b = a.status(), b.status()
            if links_of(st_b, "fence"):
                probs.append("B's fence links: %s" % links_of(st_b, "fence"))
            for who, st, ch in (("A", st_a, "fence"), ("B", st_b, "solo")):
                r = room(st, ch)
                if r and (r["clients"] or r["proxies"]):
                    probs.append("%s's gateway still has %s: %s" % (who, ch, r))
            return probs
        poll("one-sided channels gone", gone)
        self.assert_one_link_each()

    def wait_chat_links_and(self, extra, except_channels):
        """Like wait_chat_links, but links of except_channels[k] (host k)
        are left to extra()."""
        def problems():
            probs = []
            for k, a in enumerate(self.agents):
                st = a.status()
                skip = except_channels.get(k, set())
                st_chat = dict(st)
                st_chat["discovery"] = dict(st["discovery"])
                st_chat["discovery"]["links"] = [l for l in links_of(st)
                                                 if l["channel"] not in skip]
                probs += self.chat_link_problems(k, st_chat)
                probs += extra(k, st)
            return probs
        return poll("links", problems)

    def test_4_bad_peer(self):
        """nws-discovery with a malformed --peer exits non-zero at once, with
        a message on stderr naming --peer and the bad value."""
        h = self.hl[0]
        # a runtime dir of its own, never the host's hub (were the bad
        # value taken, this one would link nothing)
        rt = os.path.join(h.dir, "bad-peer-rt")
        for bad in BAD_PEERS:
            with self.subTest(peer=bad):
                t0 = time.monotonic()
                try:
                    r = h.run([DISCOVERY, "--no-avahi", "--runtime-dir", rt, "--peer", bad],
                              timeout=10)
                except subprocess.TimeoutExpired:
                    self.fail("nws-discovery --peer %r still ran after 10 s" % bad)
                dt = time.monotonic() - t0
                self.assertGreater(r.returncode, 0, "--peer %r: exit %s, stdout %r, "
                                   "stderr %r" % (bad, r.returncode, r.stdout, r.stderr))
                self.assertIn("--peer", r.stderr, "--peer %r: stderr %r" % (bad, r.stderr))
                self.assertIn(bad, r.stderr, "--peer %r: stderr %r" % (bad, r.stderr))
                self.assertNotIn("ready", r.stdout, r.stdout)
                self.assertLess(dt, 5, "--peer %r took %.1fs to fail" % (bad, dt))
        r = h.run([DISCOVERY, "--no-avahi", "--runtime-dir", rt, "--peer"], timeout=10)
        self.assertGreater(r.returncode, 0, r)
        self.assertIn("--peer", r.stderr, r.stderr)
        self.assertFalse(os.path.exists(rt), "a failed start made %s" % rt)
        # the real ones are unaffected
        self.assert_one_link_each()

    def test_9_no_duplicates_anywhere(self):
        """Over everything the tests sent: no client got any sender's
        message twice or out of order."""
        self.check_no_duplicates()


class AvahiAndPeerTest(PeersCase):
    """avahi-daemon in both hosts and nws-discovery --peer <other host>: the
    advert and the static peer lead to the same address:port + channel,
    hence the same link."""

    AVAHI = True

    @classmethod
    def wait_chat_links(cls, extra=None):
        # both sources must be known before the link count means anything:
        # our own advert established, the other's advert among the remotes
        # (the status is written after the remote was reconciled)
        def both_sources(k, st):
            probs = []
            d = st["discovery"]
            if nwsmh.advert_of(st, cls.CHAT) is None:
                probs.append("%s: no established chat advert: %s" % (cls.hl[k].name,
                                                                     d["adverts"]))
            if d["remotes"] != 1:
                probs.append("%s: %d remote adverts, want 1" % (cls.hl[k].name, d["remotes"]))
            return probs + (extra(k, st) if extra else [])
        return super().wait_chat_links(both_sources)

    def test_1_one_link_per_peer_and_channel(self):
        """With the other host's advert and --peer for it: one link each way
        (named after one of the two sources), connected once; the other gateway has
        one proxy link in, not two."""
        sts = self.assert_one_link_each()
        for k, st in enumerate(sts):
            d = st["discovery"]
            self.assertNotEqual(d.get("daemon"), "disabled", d)
            self.assertEqual(d["remotes"], 1, d)

    def test_2_messages_both_ways(self):
        """100 messages each way, at once: each exactly once, in order."""
        dt = self.exchange("ab")
        note("avahi + --peer: %d messages each way delivered (once, in order) in %.2fs",
             N_MSGS, dt)
        self.assert_one_link_each()

    def test_3_advert_gone_link_stays(self):
        """B's avahi-daemon stops (its adverts leave with goodbye packets):
        A loses B's advert, but --peer still wants the same link: it stays
        open, not reconnected, and messages still flow once each way."""
        a, b = self.agents
        t0 = time.monotonic()
        self.hl[1].stop_avahi()
        poll("B's advert gone from A's discovery",
             lambda: [] if a.status()["discovery"]["remotes"] == 0
             else ["A remotes %d" % a.status()["discovery"]["remotes"]])
        note("avahi + --peer: B's avahi stopped, its advert gone from A after %.2fs",
             time.monotonic() - t0)
        self.assert_one_link_each()
        self.exchange("noadvert")
        self.assert_one_link_each()

    def test_4_advert_back_still_one_link(self):
        """B's avahi-daemon is back: both adverts again, and still one link
        each way (the same one, connected once); messages once each way."""
        t0 = time.monotonic()
        self.hl[1].start_avahi()
        dt = self.wait_chat_links()
        note("avahi + --peer: B's avahi back, both adverts known again after %.2fs "
             "(links checked %.2fs)", time.monotonic() - t0, dt)
        self.assert_one_link_each()
        self.exchange("back")
        self.assert_one_link_each()

    def test_9_no_duplicates_anywhere(self):
        self.check_no_duplicates()


if __name__ == "__main__":
    nwsmh.skip_unless_possible()
    unittest.main(verbosity=2)
