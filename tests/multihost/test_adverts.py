#!/usr/bin/python3
"""Bogus DNS-SD adverts on the LAN (issue 7, bad input): hosts A and B run
nws (hub, gateway, discovery --verbose) and share /broadcast/chat, each
host's chat0 sending a numbered message every 10 ms; host C runs no nws,
only avahi-daemon, and publishes adverts of type _ws._tcp with
`avahi-publish` that nws-discovery must not follow:

* a name not of the form ^[0-9]+\\..*\\._bws( \\([0-9]+\\))?$ ("chat._bws",
  "x123.chat._bws", "123.chat._bwsx");
* no TXT path, a TXT path that is not /broadcast/<valid name>
  (path=/local/chat, path=/broadcast/bad!name, path=/broadcast/, a
  "path" without "="), two path= strings, port 0;
* a valid advert of chat pointing back at A's own address and port
  (avahi-publish -a -R on C makes a host name for A's address; the advert
  names it with -H): A must not link to itself; B, for which it is just A,
  must still hold one link to A;
* a valid advert of chat pointing at the loopback address (127.0.0.1), at
  nws's port and at another one: no host may link to 127.0.0.1 on the
  word of another host;
* a valid advert of chat pointing at a port on C where nothing listens:
  A and B each get a link to it that stays connecting/backoff (with
  backoff: a few dials, not a storm) and disturbs nothing, and that goes
  away when the advert is withdrawn;
* valid adverts at the limits: a 63-byte instance name (the longest DNS
  label; avahi-publish refuses 64) and a 255-byte TXT string (the longest;
  a 239-byte channel name): found, counted, not linked (no local clients),
  their names intact in the log.

Each malformed advert is published on ports of C where nothing listens
(9101...), so that following one would show as a link to C in /status.
For each: nws-discovery on A and B stays up (same pid), logs a line that
names the advert and says it was ignored ("ignor..."), never logs it as
found, never links to it, does not count it in /status "remotes"; A and B
stay linked by exactly one open link each way, never reconnected; and
A<->B traffic is exactly once and in order throughout.

Waits are on events: the publisher's "Established" line, the discovery
logs, GET /status (polled), the agents' messages. Needs root; exits 77
(skipped) otherwise. Figures go to stderr as lines starting with
"multihost:".
"""

import os
import re
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nwsmh  # noqa: E402
from nwsmh import PORT, HarnessError, links_of, note  # noqa: E402

TICK = 0.01                # s between the A and B tickers' messages
LOG_WAIT = 10.0            # s for the discovery logs to tell about an advert
DEAD_PORT = 9200           # nothing listens there on C
LOOP_DEAD_PORT = 9201      # nor there, on 127.0.0.1 of anybody
DIALS = 4                  # dials of the dead port to watch

LONG_LABEL = "1." + "l" * 56 + "._bws"          # 63 bytes
LONG_NAME = "l" * 100                             # its channel
TXT_NAME = "x" * 239                              # path=/broadcast/<239> = 255 bytes

# (instance, port, TXT strings, what is wrong with it)
MALFORMED = [
    ("chat._bws", 9101, ["path=/broadcast/chat"], "no number before the name"),
    ("x123.chat._bws", 9102, ["path=/broadcast/chat"], "not a number before the name"),
    ("123.chat._bwsx", 9103, ["path=/broadcast/chat"], "not ending in ._bws"),
    ("124.chat._bws", 9104, [], "no TXT at all"),
    ("125.chat._bws", 9105, ["path=/local/chat"], "a local path"),
    ("126.chat._bws", 9106, ["path=/broadcast/bad!name"], "an invalid name"),
    ("127.chat._bws", 9107, ["path=/broadcast/"], "an empty name"),
    ("128.chat._bws", 9108, ["path=/broadcast/chat", "path=/broadcast/chat2"],
     "two TXT paths"),
    ("129.chat._bws", 0, ["path=/broadcast/chat"], "port 0"),
    ("130.chat._bws", 9110, ["path", "foo=/broadcast/chat"], "'path' without '='"),
]


class AdvertsTest(nwsmh.MultiHostCase):
    """A and B: nws and agents; C: avahi-daemon only (the publisher)."""

    N = 3

    @classmethod
    def set_up_hosts(cls):
        # nws and clients on A and B only
        cls.c = cls.hl[2]
        cls.nws = nwsmh.start_nws(cls.hl[:2])
        cls.agents = [nwsmh.Agent(h) for h in cls.hl[:2]]
        cls.closed_ok = set()
        for a in cls.agents:
            a.open(["chat0", "chat1"], "/broadcast/" + cls.CHAT)
        dt = nwsmh.wait_links(cls.agents, cls.CHAT, cls.hl[:2])
        cls.disc_pids = [n.procs["discovery"].pid for n in cls.nws]
        cls.npub = 0
        note("%s: nws on A and B, /broadcast/%s linked %.2fs after start (links %.2fs)",
             cls.__name__, cls.CHAT, time.monotonic() - cls.t_start, dt)

    # ---------------------------------------------------------- helpers

    def setUp(self):
        self.problems = []

    def tearDown(self):
        if getattr(self, "problems", None):
            problems, self.problems = self.problems, []
            self.fail("\n".join(problems))

    def soft(self, fn, *args, **kw):
        """Runs a check; a failure is noted and the test goes on (to show
        what else holds), failing at its end."""
        try:
            return fn(*args, **kw)
        except (AssertionError, HarnessError) as e:
            self.problems.append(str(e))
            return None

    def publish(self, name, port, txt, host=None, wait=True):
        """avahi-publish -s in C (with -H host if given); waits until it
        is established (unless wait=False: then see wait_publisher).
        Withdrawn at the end of the test."""
        type(self).npub += 1
        log = "publish-%d" % self.npub
        cmd = ["avahi-publish", "-s"] + (["-H", host] if host else []) + \
              [name, "_ws._tcp", str(port)] + list(txt)
        p = self.c.popen(cmd, log=log)
        p.advert = name
        self.addCleanup(self.withdraw, p)
        if wait:
            self.wait_publisher(p, name)
        return p

    def publish_address(self, hostname, addr):
        """avahi-publish -a -R in C: hostname.local resolves to addr."""
        type(self).npub += 1
        p = self.c.popen(["avahi-publish", "-a", "-R", hostname, addr],
                         log="publish-%d" % self.npub)
        self.addCleanup(self.withdraw, p)
        self.wait_publisher(p, hostname)
        return p

    def wait_publisher(self, p, name):
        def established():
            text = nwsmh.log_tail(p.log_path, 2000)
            if "Established" in text:
                return True
            if p.poll() is not None or "Failed" in text:
                raise HarnessError("avahi-publish %s in C failed: %s" % (name, text.strip()))
            return False
        nwsmh.hosts.wait_for(established, 10, 0.05, "avahi-publish %s established" % name)

    def withdraw(self, p):
        if p.poll() is None:
            self.c.kill(p)
        self.c._forget(p)

    def disc_log(self, k):
        return nwsmh.log_tail(self.nws[k].procs["discovery"].log_path, 10 ** 7)

    def log_lines(self, k, pattern):
        rx = re.compile(pattern)
        return [l for l in self.disc_log(k).splitlines() if rx.search(l)]

    @staticmethod
    def quoted(name):
        """A regex for the instance name as a whole word of a log line
        (quoted or not: "x123.chat._bws" does not contain "chat._bws")."""
        return r"""['"]?(?<![\w.])%s(?![\w.])['"]?""" % re.escape(name)

    def wait_log(self, pattern, what, timeout=LOG_WAIT, hosts=(0, 1)):
        """Waits until the discovery log of each host in hosts has a line
        matching pattern; returns {k: first such line}; a host without one
        at the deadline is noted as a problem."""
        return self.wait_logs({what: pattern}, timeout, hosts).get(what, {})

    def wait_logs(self, patterns, timeout=LOG_WAIT, hosts=(0, 1), first=None, then=2.0):
        """wait_log for several {what: pattern} at once, with one deadline.
        With first (a set of whats), once those are all there the others
        get `then` more seconds at most. Returns {what: {k: line}}."""
        found = {w: {} for w in patterns}
        deadline = time.monotonic() + timeout
        while True:
            for w, pat in patterns.items():
                for k in hosts:
                    if k not in found[w]:
                        lines = self.log_lines(k, pat)
                        if lines:
                            found[w][k] = lines[0]
            if all(len(found[w]) == len(hosts) for w in patterns):
                break
            if first and all(len(found[w]) == len(hosts) for w in first):
                deadline = min(deadline, time.monotonic() + then)
                first = None
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for w, pat in patterns.items():
            for k in hosts:
                if k not in found[w]:
                    self.problems.append("%s: nws-discovery logged no line for %s (/%s/)"
                                         % (self.hl[k].name, w, pat))
        return found

    def start_tickers(self, prefix):
        tk = [(a, a.send("chat0", "%s-%d" % (prefix, k), 0, interval=TICK), "%s-%d" % (prefix, k))
              for k, a in enumerate(self.agents)]
        self.addCleanup(lambda: [a.stop(job) for a, job, _ in tk])
        for k, (_, _, tag) in enumerate(tk):
            x = self.agents[1 - k]
            x.wait(lambda: x.count("chat1", tag), 10, "%s flowing to %s" % (tag, x.host.name))
        return tk

    def stop_tickers(self, tk):
        """Stops the tickers; A->B and B->A were exactly once, in order,
        to both chat clients of the other host and the sender's neighbour."""
        for a, job, _ in tk:
            a.stop(job)
        for k, (a, job, tag) in enumerate(tk):
            last = a.wait_sent(job)["last"]
            receivers = [(a, "chat1")] + [(self.agents[1 - k], c) for c in ("chat0", "chat1")]
            self.soft(self.expect_exact, receivers, tag, 1, last, timeout=10)
        note("  A<->B meanwhile: %s", ", ".join("%s %d messages" % (tag, a.count("chat1", tag))
                                                for a, _, tag in tk))

    def check_lan(self, what, extra=None, remotes=None):
        """Each of A and B: discovery alive with the same pid; one open
        link to the other, never reconnected; no other link but those
        extra[k] allows (a predicate on a link); remotes[k] adverts known.
        Returns the statuses."""
        sts = []
        for k, a in enumerate(self.agents):
            other = self.hl[1 - k]
            p = self.nws[k].procs["discovery"]
            if p.poll() is not None or p.pid != self.disc_pids[k]:
                self.problems.append("%s: %s: nws-discovery exited (%s)"
                                     % (what, a.host.name, p.poll()))
            st = a.status()
            sts.append(st)
            d = st.get("discovery") or {}
            if d.get("pid") != self.disc_pids[k]:
                self.problems.append("%s: %s: discovery pid %s, was %s" % (
                    what, a.host.name, d.get("pid"), self.disc_pids[k]))
            for l in links_of(st):
                if nwsmh.link_address(l) in nwsmh.host_addrs(a.host) \
                        or l["peer"].startswith("127."):
                    self.problems.append("%s: %s: self-link %s" % (what, a.host.name, l))
                elif nwsmh.peer_is(l, other) and l["channel"] == self.CHAT:
                    if (l["state"], l["connects"]) != ("open", 1):
                        self.problems.append("%s: %s: the link to %s is disturbed: %s"
                                             % (what, a.host.name, other.name, l))
                elif not (extra and extra(k, l)):
                    self.problems.append("%s: %s: links to a bogus advert: %s"
                                         % (what, a.host.name, l))
            n = len([l for l in links_of(st) if nwsmh.peer_is(l, other)])
            if n != 1:
                self.problems.append("%s: %s: %d links to %s: %s" % (what, a.host.name, n,
                                                                     other.name, links_of(st)))
            if remotes is not None and d.get("remotes") != remotes[k]:
                self.problems.append("%s: %s: %s remote adverts counted, want %d"
                                     % (what, a.host.name, d.get("remotes"), remotes[k]))
        return sts

    # ------------------------------------------------------------ tests

    def test_1_malformed_adverts_ignored(self):
        """Each malformed advert: ignored with a log line saying so, never
        followed, never counted; nws-discovery stays up; A<->B undisturbed."""
        tk = self.start_tickers("bad")
        t0 = time.monotonic()
        pubs = [self.publish(name, port, txt, wait=False) for name, port, txt, _ in MALFORMED]
        for p in pubs:
            self.wait_publisher(p, p.advert)
        note("%d malformed adverts published in C in %.2fs", len(MALFORMED),
             time.monotonic() - t0)
        # the adverts with a well-formed name reach the resolver, and their
        # log lines mark the point where nws-discovery has seen them all;
        # the others get 2 s more from there
        patterns = {"advert '%s' (%s)" % (name, why):
                    r"ignor.*%s|%s.*ignor" % (self.quoted(name), self.quoted(name))
                    for name, _, _, why in MALFORMED}
        well_named = {"advert '%s' (%s)" % (name, why) for name, _, _, why in MALFORMED
                      if nwsmh.INSTANCE_RE.match(name)}
        found = self.wait_logs(patterns, first=well_named)
        for what, lines in found.items():
            for k, line in sorted(lines.items()):
                note("  %s, %s: %s", what, self.hl[k].name, line.split(": ", 1)[-1])
        for k in (0, 1):
            for name, _, _, why in MALFORMED:
                taken = self.log_lines(k, r"found advert %s" % self.quoted(name))
                if taken:
                    self.problems.append("%s: advert '%s' (%s) was taken: %s"
                                         % (self.hl[k].name, name, why, taken))
        self.check_lan("malformed adverts published", remotes=[1, 1])
        t1 = time.monotonic()
        for p in pubs:
            self.withdraw(p)
        note("malformed adverts withdrawn in %.2fs", time.monotonic() - t1)
        self.stop_tickers(tk)
        self.check_lan("malformed adverts withdrawn", remotes=[1, 1])

    def test_2_adverts_at_the_limits(self):
        """A 63-byte instance name and a 255-byte TXT string (valid, of
        channels nobody here uses): found with their whole names, counted,
        not linked; gone when withdrawn."""
        tk = self.start_tickers("limits")
        long_pub = self.publish(LONG_LABEL, 9120, ["path=/broadcast/" + LONG_NAME])
        txt_pub = self.publish("131.txt._bws", 9121, ["path=/broadcast/" + TXT_NAME])
        self.wait_log(r"found advert %s: %s at %s:9120" % (self.quoted(LONG_LABEL), LONG_NAME,
                                                           re.escape(self.c.addr)),
                      "the 63-byte advert found, name and channel intact")
        self.wait_log(r"found advert %s: %s at " % (self.quoted("131.txt._bws"), TXT_NAME),
                      "the 255-byte TXT advert found, channel intact")
        self.soft(nwsmh.hosts.wait_for, lambda: all(a.status()["discovery"]["remotes"] == 3
                                                    for a in self.agents), 5, 0.1,
                  "both adverts counted in /status")
        self.check_lan("adverts at the limits", remotes=[3, 3])
        self.withdraw(long_pub)
        self.withdraw(txt_pub)
        self.wait_log(r"advert %s is gone" % self.quoted(LONG_LABEL), "the 63-byte advert gone")
        self.wait_log(r"advert %s is gone" % self.quoted("131.txt._bws"),
                      "the 255-byte TXT advert gone")
        self.stop_tickers(tk)
        self.check_lan("adverts at the limits withdrawn", remotes=[1, 1])

    def test_3_dead_port(self):
        """A valid advert of chat at a port of C where nothing listens: a
        link on A and B that stays connecting/backoff, dialed with backoff,
        disturbing nothing; gone when the advert is withdrawn."""
        tk = self.start_tickers("dead")
        t0 = time.monotonic()
        pub = self.publish("4242.chat._bws", DEAD_PORT, ["path=/broadcast/chat"])
        self.wait_log(r"linking chat to .*:%d \(advert %s\)" % (DEAD_PORT,
                                                              self.quoted("4242.chat._bws")),
                      "the link to the dead port")
        dead = lambda k, l: nwsmh.peer_is(l, self.c, DEAD_PORT) and l["channel"] == self.CHAT  # noqa: E731,E501
        # watch it until each host has dialed it DIALS times (with backoff,
        # 100 ms doubling: ~1.5 s; every address of C once per round):
        # always connecting or backoff, never open
        retry = r"link 4242\.chat\._bws: .*retry in"
        states = set()
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            for a in self.agents:
                for l in links_of(a.status()):
                    if dead(0, l):
                        states.add(l["state"])
                        if l["connects"]:
                            self.problems.append("%s: the dead-port link connected: %s"
                                                 % (a.host.name, l))
            if all(len(self.log_lines(k, retry)) >= DIALS for k in (0, 1)):
                break
            time.sleep(0.1)
        note("dead-port link states seen: %s", sorted(states))
        if not states or not states <= {"connecting", "backoff"}:
            self.problems.append("dead-port link states %s, want connecting/backoff"
                                 % sorted(states))
        self.check_lan("dead-port advert", extra=dead, remotes=[2, 2])
        for k in (0, 1):
            n = len(self.log_lines(k, retry))
            dt = time.monotonic() - t0
            note("  %s dialed the dead port %d times in %.1fs", self.hl[k].name, n, dt)
            # 100 ms doubling to 5 s: about log2(dt / 0.1) + 1 dials
            if n > 3 + dt / 0.5:
                self.problems.append("%s dialed the dead port %d times in %.1fs: no backoff?"
                                     % (self.hl[k].name, n, dt))
        t1 = time.monotonic()
        self.withdraw(pub)
        try:
            nwsmh.hosts.wait_for(lambda: not any(dead(0, l) for a in self.agents
                                                 for l in links_of(a.status())),
                                 8, 0.1, "the dead-port link gone")
            note("dead-port advert withdrawn: its links gone after %.2fs", time.monotonic() - t1)
        except HarnessError as e:
            self.problems.append(str(e))
        self.stop_tickers(tk)
        self.check_lan("dead-port advert withdrawn", remotes=[1, 1])

    def test_4_advert_of_a_own_address(self):
        """An advert of chat from C naming A's address and port: A does not
        link to itself (and logs why); B keeps one link to A; no message
        twice; B's link to A outlives the bogus advert's withdrawal."""
        tk = self.start_tickers("selfa")
        self.publish_address("selfa-%d.local" % os.getpid(), self.hl[0].addr)
        pub = self.publish("4343.chat._bws", PORT, ["path=/broadcast/chat"],
                           host="selfa-%d.local" % os.getpid())
        lines = self.wait_log(r"ignor.*%s" % self.quoted("4343.chat._bws"),
                              "the advert of A's own address", hosts=(0,))
        if lines:
            note("  A: %s", lines[0].split(": ", 1)[-1])
        # B takes it for what it is, an advert of A: the same link as A's own
        self.wait_log(r"found advert %s: chat at %s:%d"
                      % (self.quoted("4343.chat._bws"), re.escape(self.hl[0].addr), PORT),
                      "the advert naming A", hosts=(1,))
        self.check_lan("advert of A's own address", remotes=[1, 2])
        self.withdraw(pub)
        self.wait_log(r"advert %s is gone" % self.quoted("4343.chat._bws"),
                      "the advert naming A gone", hosts=(1,))
        self.stop_tickers(tk)
        self.check_lan("advert of A's own address withdrawn", remotes=[1, 1])

    def test_5_advert_of_loopback(self):
        """Adverts of chat from C naming 127.0.0.1, at nws's port and at
        another: another host cannot be reached at a loopback address, so
        neither A nor B may link to one (that would be a link to itself,
        or to whatever listens on its loopback); each logs why."""
        tk = self.start_tickers("loop")
        loop = "loop-%d.local" % os.getpid()
        pubs = [self.publish_address(loop, "127.0.0.1"),
                self.publish("4444.chat._bws", PORT, ["path=/broadcast/chat"], host=loop),
                self.publish("4445.chat._bws", LOOP_DEAD_PORT, ["path=/broadcast/chat"],
                             host=loop)]
        whats = {"the advert '%s' of 127.0.0.1:%d" % (name, port): name
                 for name, port in (("4444.chat._bws", PORT),
                                    ("4445.chat._bws", LOOP_DEAD_PORT))}
        found = self.wait_logs({w: r"ignor.*%s|%s.*ignor" % (self.quoted(n), self.quoted(n))
                                for w, n in whats.items()},
                               first={w for w, n in whats.items() if n == "4444.chat._bws"})
        for what, lines in found.items():
            for k, line in sorted(lines.items()):
                note("  %s, %s: %s", what, self.hl[k].name, line.split(": ", 1)[-1])
        # whatever was logged: has any host linked to it?
        self.wait_log(self.quoted("4445.chat._bws"), "anything about 4445.chat._bws")
        self.check_lan("adverts of 127.0.0.1", remotes=[1, 1])
        for p in reversed(pubs):
            self.withdraw(p)
        self.soft(nwsmh.hosts.wait_for,
                  lambda: all(not [l for l in links_of(a.status())
                                   if l["peer"].startswith("127.")]
                              and a.status()["discovery"]["remotes"] == 1 for a in self.agents),
                  8, 0.1, "the adverts of 127.0.0.1 withdrawn (no link to 127.*, 1 remote advert)")
        self.stop_tickers(tk)

    def test_9_discovery_never_restarted(self):
        """After everything: nws-discovery on A and B is the process that
        started; A<->B never re-linked; nothing got a message twice."""
        self.check_lan("the end", remotes=[1, 1])
        self.problems.extend(nwsmh.order_problems(self.agents))
        for k, n in enumerate(self.nws):
            for name, code in n.alive().items():
                if code is not None:
                    self.problems.append("%s: %s exited (%s)" % (self.hl[k].name, name, code))


if __name__ == "__main__":
    nwsmh.skip_unless_possible()
    unittest.main(verbosity=2)
