#!/usr/bin/python3
"""Broadcast without holes (issue 11), on dual-stack hosts as users have
them. Each class is one LAN and one ctest (multihost.holes.<Class>):

* Joiners: the first client of a host opens and at once sends 50 messages;
  the hosts already on the channel link to it a second later, and still
  get all 50 (the dialed gateway replays them); and the joiner gets every
  message sent after its open. Both directions.
* LinkCuts: the link between two hosts is cut (their TCP connections
  reset, new ones refused) under steady traffic: for 2 s, the links come
  back and resume, and every message arrives once, in order; for longer
  than the replay window (5 s), the clients that lost messages are closed
  with 4002, and nobody gets a message twice or out of order.
* Frozen: a whole host is stopped (SIGSTOP) for 8 s under traffic: each
  message arrives once, in order, or its receiver is closed with 4001 or
  4002.
* RemoteTail: a burst from host A whose tail is lost in host B's hub
  (killed with SIGKILL in the middle): B's clients get the whole burst or
  4002, never a silent tail (nws-discovery marks what it publishes).

Needs root; exits 77 otherwise. Figures go to stderr ("multihost:").
"""

import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwsmh  # noqa: E402
from nwsmh import PORT, HarnessError, note  # noqa: E402

BURST = 50                 # messages a joiner sends at once
TICK = 0.01                # s between a steady sender's messages
WINDOW = 5.0               # s: nws-gateway's --replay-ms default
GAP = 4002                 # close code: messages lost upstream
SLOW = 4001                # close code: send queue full


def closes_of(agent, cid):
    with agent.cond:
        return [e for e in agent.closes if e["c"] == cid]


def whole_or_closed(agent, cid, tag, last, codes=(GAP,)):
    """None if client cid got tag:1..last exactly once, in order, or got a
    strictly increasing run and was closed with one of codes; else what
    is wrong."""
    nums = agent.numbers(cid, tag)
    closed = closes_of(agent, cid)
    if closed and closed[0].get("code") in codes:
        return nwsmh.check_increasing(nums)
    return nwsmh.check_sequence(nums, 1, last)


class HolesCase(nwsmh.MultiHostCase):
    N = 2

    def steady(self, pairs, tag):
        """Starts a steady sender (every TICK) in each (agent, cid)."""
        return [(a, a.send(c, "%s%d" % (tag, k), 0, interval=TICK)) for k, (a, c) in
                enumerate(pairs)]

    def stop_all(self, jobs):
        """Stops steady senders; the last number each sent."""
        for a, job in jobs:
            a.stop(job)
        return [a.wait_sent(job)["last"] for a, job in jobs]

    def flowing(self, senders, tags, receivers):
        """Waits until every receiver got a newer message of every tag
        (the links carry traffic again)."""
        for a, c in receivers:
            for t in tags:
                n0 = a.count(c, t)
                a.wait(lambda: a.count(c, t) > n0 or closes_of(a, c), 15,
                       "%s flowing to %s %s" % (t, a.host.name, c))

    def wait_for_last(self, receivers, tag, last, timeout=20):
        """Waits until every receiver has tag:last or was closed."""
        for a, c in receivers:
            try:
                a.wait(lambda: last in a.numbers(c, tag) or closes_of(a, c), timeout,
                       "%s:%d at %s %s" % (tag, last, a.host.name, c))
            except HarnessError:
                pass                         # reported by the caller's check


class Joiners(HolesCase):
    """Host A has a client that sends every 10 ms; host B's first client
    on the channel opens and at once sends 50 messages. Then the other way
    round, on another channel."""

    @classmethod
    def set_up_hosts(cls):
        cls.nws = nwsmh.start_nws(cls.hs)
        cls.agents = [nwsmh.Agent(h) for h in cls.hs]
        cls.closed_ok = set()

    def joiner(self, k_old, k_new, channel):
        old, new = self.agents[k_old], self.agents[k_new]
        path = "/broadcast/" + channel
        old.open("old", path)
        # the old host's client is alone until the new host joins: no link
        steady = old.send("old", "o" + channel, 0, interval=TICK, stamp=True)
        t_open = new.open("new", path)[0]
        new.send("new", "n" + channel, BURST, job="burst-" + channel)
        new.wait_sent("burst-" + channel)
        # the old host links to the new one about a second later; wait for it
        t_link = nwsmh.poll_problems(
            "%s linked to %s" % (old.host.name, new.host.name),
            lambda: [] if any(nwsmh.peer_is(l, new.host) and l["state"] == "open"
                              for l in nwsmh.links_of(old.status(), channel))
            else ["no link yet"], 15)
        old.wait(lambda: old.count("old", "n" + channel) >= BURST, 10,
                 "the joiner's burst at the old host")
        old.stop(steady)
        sent = old.wait_sent(steady)
        problems = []
        p = nwsmh.check_sequence(old.numbers("old", "n" + channel), 1, BURST)
        if p:
            problems.append("%s's client, the joiner's burst: %s" % (old.host.name, p))
        # the joiner must have every message sent after its open
        after = [n for n, t in zip(range(1, sent["last"] + 1), sent["stamps"]) if t >= t_open]
        new.wait(lambda: sent["last"] in new.numbers("new", "o" + channel), 10,
                 "the old host's last message at the joiner")
        got = new.numbers("new", "o" + channel)
        p = nwsmh.check_increasing(got)
        if p:
            problems.append("joiner: %s" % p)
        missing = sorted(set(after) - set(got))
        if missing:
            problems.append("joiner missed %d messages sent after its open: %s"
                            % (len(missing), missing[:10]))
        early = len(set(got) - set(after))
        note("joiner %s -> %s: link %.2fs after the burst; the old host got %d of %d; the "
             "joiner got %d sent after its open (of %d) and %d sent up to 0.1 s before",
             new.host.name, old.host.name, t_link, old.count("old", "n" + channel), BURST,
             len(set(after) & set(got)), len(after), early)
        self.assertFalse(problems, "\n".join(problems))
        for a, c in ((old, "old"), (new, "new")):
            self.assertFalse(closes_of(a, c), closes_of(a, c))
            a.close(c)
            a.wait_closed(c)
            self.closed_ok.add((self.agents.index(a), c))

    def test_1_joiner_on_b(self):
        self.joiner(0, 1, "joinb")

    def test_2_joiner_on_a(self):
        self.joiner(1, 0, "joina")


class LinkCuts(HolesCase):
    """Both hosts have chat clients and steady senders; the links between
    them are cut: reset, and refused while the cut lasts."""

    def cut(self, secs):
        """Cuts every host's links for secs seconds: new connections to or
        from port 9009 on the LAN are dropped, and those open are reset."""
        for h in self.hl:
            script = ("table inet nwsmh_cut {\n"
                      " chain i {\n  type filter hook input priority 0;\n"
                      "  iifname != \"lo\" tcp dport %d drop\n"
                      "  iifname != \"lo\" tcp sport %d drop\n }\n"
                      " chain o {\n  type filter hook output priority 0;\n"
                      "  oifname != \"lo\" tcp dport %d drop\n"
                      "  oifname != \"lo\" tcp sport %d drop\n }\n}\n"
                      % (PORT, PORT, PORT, PORT))
            h.run(["nft", "-f", "-"], input=script, check=True)
        for h in self.hl:
            r = h.run(["ss", "-tnH", "state", "established",
                       "( sport = :%d or dport = :%d )" % (PORT, PORT)], check=True)
            for line in r.stdout.splitlines():
                local, peer = line.split()[2:4]
                if peer.startswith(("127.", "[::1]", "[::ffff:127.")):
                    continue
                lport, pport = local.rsplit(":", 1)[1], peer.rsplit(":", 1)[1]
                h.run(["ss", "-K", "-tn", "( sport = :%s and dport = :%s )" % (lport, pport)],
                      check=True)
        time.sleep(secs)                     # the cut itself: time is what is tested
        for h in self.hl:
            h.run(["nft", "delete", "table", "inet", "nwsmh_cut"], check=True)

    def run_cut(self, secs, tag):
        senders = [(a, "chat0") for a in self.agents]
        tags = ["%s%d" % (tag, k) for k in range(len(senders))]
        jobs = self.steady(senders, tag)
        receivers = self.chat_clients(but=senders[0])
        self.flowing(senders, tags[:1], [r for r in receivers if r[0] is not self.agents[0]])
        t0 = time.monotonic()
        self.cut(secs)
        nwsmh.wait_links(self.agents, self.CHAT, self.hl, timeout=30)
        note("LinkCuts: cut for %.0fs; links open again %.2fs after the cut began",
             secs, time.monotonic() - t0)
        for k, (sa, _) in enumerate(senders):
            self.flowing(senders, [tags[k]], [r for r in self.chat_clients(but=(sa, "chat0"))
                                              if r[0] is not sa])
        lasts = self.stop_all(jobs)
        problems = []
        for k, (sa, _) in enumerate(senders):
            receivers = self.chat_clients(but=(sa, "chat0"))
            self.wait_for_last(receivers, tags[k], lasts[k])
            for a, c in receivers:
                p = whole_or_closed(a, c, tags[k], lasts[k])
                if p:
                    problems.append("%s %s, %s: %s" % (a.host.name, c, tags[k], p))
        return problems

    def test_1_short_cut_resumes(self):
        """Cut for 2 s: the links resume where they stopped; every message
        once, in order; nobody closed."""
        problems = self.run_cut(2.0, "c2-")
        for k, a in enumerate(self.agents):
            for c in ("chat0", "chat1"):
                if closes_of(a, c):
                    problems.append("%s %s closed: %s" % (a.host.name, c, closes_of(a, c)))
        self.assertFalse(problems, "\n".join(problems))

    def test_2_long_cut_closes_with_4002(self):
        """Cut for longer than the window: what was lost cannot be replayed,
        so each host's clients are closed with 4002 when its link comes
        back; none got a message twice or out of order."""
        senders = [(a, "chat0") for a in self.agents]
        tags = ["c8-%d" % k for k in range(len(senders))]
        jobs = self.steady(senders, "c8-")
        self.flowing(senders, tags[:1], [(self.agents[1], "chat1")])
        self.flowing(senders, tags[1:], [(self.agents[0], "chat1")])
        t0 = time.monotonic()
        self.cut(WINDOW + 3)
        for k, a in enumerate(self.agents):
            for c in ("chat0", "chat1"):
                self.closed_ok.add((k, c))
                a.wait(lambda: closes_of(a, c), 30, "%s %s closed" % (a.host.name, c))
        note("LinkCuts: cut for %.0fs; every client closed with 4002 %.2fs after the cut "
             "began", WINDOW + 3, time.monotonic() - t0)
        for a, job in jobs:
            a.stop(job)
            a.wait(lambda: a.sent.get(job), 10, "job %s over" % job)
        problems = []
        for k, a in enumerate(self.agents):
            for c in ("chat0", "chat1"):
                end = closes_of(a, c)[0]
                # (chat0 sends every 10 ms: a send racing the close may end
                # its socket before the close frame is read)
                if end.get("code") != GAP and not (c == "chat0" and end.get("by") == "error"):
                    problems.append("%s %s closed: %s, want %d" % (a.host.name, c, end, GAP))
                for t in tags:
                    p = nwsmh.check_increasing(a.numbers(c, t))
                    if p:
                        problems.append("%s %s, %s: %s" % (a.host.name, c, t, p))
        self.assertFalse(problems, "\n".join(problems))


class Frozen(HolesCase):
    N = 3

    def test_1_host_frozen_8s(self):
        """Host C stops for 8 s (every process in it) while A and B send
        steadily: every message arrives once, in order, or its receiver is
        closed with 4001 or 4002."""
        jobs = self.steady([(self.agents[0], "chat0"), (self.agents[1], "chat0")], "fz")
        c = self.hl[2]
        pids = [int(p) for p in nwsmh.hosts.pids_in_netns(c.ns)]
        for p in pids:
            os.kill(p, 19)                   # SIGSTOP
        time.sleep(8.0)                      # the freeze itself
        for p in pids:
            os.kill(p, 18)                   # SIGCONT
        nwsmh.wait_links(self.agents, self.CHAT, self.hl, timeout=30)
        lasts = self.stop_all(jobs)
        problems = []
        for k in (0, 1):
            t = "fz%d" % k
            receivers = self.chat_clients(but=(self.agents[k], "chat0"))
            self.wait_for_last(receivers, t, lasts[k])
            for a, cid in receivers:
                p = whole_or_closed(a, cid, t, lasts[k], codes=(GAP, SLOW))
                if p:
                    problems.append("%s %s, %s: %s" % (a.host.name, cid, t, p))
        closed = [(a.host.name, e["c"], e.get("code")) for a in self.agents for e in a.closes]
        note("Frozen: host C stopped 8 s; closes %s", closed)
        for k, a in enumerate(self.agents):
            for cid in ("chat0", "chat1"):
                self.closed_ok.add((k, cid))
        self.assertFalse(problems, "\n".join(problems))


class RemoteTail(HolesCase):

    def test_1_tail_lost_in_our_hub(self):
        """B's hub is frozen (SIGSTOP) while A's chat0 sends 300 messages;
        once B's nws-discovery has read them all from its link (and queued
        them for the frozen hub), the hub is killed (SIGKILL) and started
        again: the burst is lost in it, and nothing follows, so only
        nws-discovery's marks can tell B's gateway. B's clients must get
        all of them, or be closed with 4002."""
        a, b = self.agents
        n = 300                              # all of it fits the frozen hub's socket buffer
        # one message first, so that B's gateway knows the link's origin
        a.wait_sent(a.send("chat0", "first", 1))
        b.wait(lambda: b.count("chat1", "first") == 1, 10, "the first message at B")

        def link_read():
            return sum(l["messages"] for l in nwsmh.links_of(b.status(), self.CHAT))
        read0 = link_read()
        hub = self.nws[1].procs["hub"]
        os.kill(hub.pid, 19)                 # SIGSTOP
        a.wait_sent(a.send("chat0", "tail", n))
        nwsmh.poll_problems("B's discovery read the burst",
                            lambda: [] if link_read() >= read0 + n else
                            ["read %d of %d" % (link_read() - read0, n)], 15)
        self.nws[1].stop("hub", sig=9)
        self.nws[1].start_hub()
        receivers = [(b, "chat0"), (b, "chat1")]
        self.wait_for_last(receivers, "tail", n, timeout=15)
        problems = []
        for x, c in receivers:
            p = whole_or_closed(x, c, "tail", n)
            if p:
                problems.append("%s %s: %s" % (x.host.name, c, p))
            self.closed_ok.add((1, c))
        note("RemoteTail: B's clients got %s of %d; closes %s",
             [x.count(c, "tail") for x, c in receivers], n,
             [(e["c"], e.get("code")) for e in b.closes])
        self.assertFalse(problems, "\n".join(problems))


if __name__ == "__main__":
    nwsmh.skip_unless_possible()
    unittest.main(verbosity=2)
