"""Faults, repeated: 100 client cycles and 100 hub kills, then no growth.

test_client_cycles: 100 times, 20 clients (5 on each of 4 new channels,
spread over two gateways) connect, each sends one message that the 4
others of its channel receive, and all disconnect; the gateways and the
hub must then count no client and no channel.

test_hub_kill_cycles: 100 times, the hub is SIGKILLed and restarted, and a
new client on each gateway exchanges a message through the new hub; four
idle clients stay connected throughout and still work at the end.

After cycle WARM (warm-up: allocator arenas, lws pools, libzmq's
reconnection state) and after the last cycle, each long-lived process's
fd count (/proc/PID/fd) and VmRSS are read: they must not have grown by
more than FD_MARGIN fds / RSS_MARGIN_KIB. No process may crash.
"""

import os
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import fd_count, note, poll_until, rss_kib, status_json  # noqa: E402
from nwstest import NwsTestCase, main, text as nwstext  # noqa: E402

CYCLES = 100
WARM = 10                           # measure after this cycle and after the last
CLIENTS = 20
CHANNELS = 4
FD_MARGIN = 2                       # fds
RSS_MARGIN_KIB = 1024               # 90 cycles: 1,800 connections, 360 channels;
                                    # ~60 KiB of noise seen


def usage(procs):
    return {name: (fd_count(p.pid), rss_kib(p.pid)) for name, p in procs.items()}


def sanitized(pid):
    """True if the process runs under a sanitizer (ASan's quarantine and
    shadow memory make RSS meaningless here; LeakSanitizer checks leaks)."""
    with open("/proc/%d/maps" % pid) as f:
        if any(lib in f.read() for lib in ("libasan", "libtsan", "libmsan", "libubsan")):
            return True
    with open("/proc/%d/exe" % pid, "rb") as f:
        return b"__asan_init" in f.read()


class Cycles(NwsTestCase):

    def assertNoGrowth(self, warm, last, what, procs):
        report = ", ".join("%s fds %d->%d RSS %d->%d KiB" % (
            name, warm[name][0], last[name][0], warm[name][1], last[name][1]) for name in warm)
        note("%s: %s", what, report)
        for name in warm:
            self.assertLessEqual(last[name][0], warm[name][0] + FD_MARGIN,
                                 "%s: %s fd count grew after cycle %d (%s)"
                                 % (what, name, WARM, report))
            if sanitized(procs[name].pid):
                note("%s runs under a sanitizer: RSS not compared", name)
                continue
            self.assertLessEqual(last[name][1], warm[name][1] + RSS_MARGIN_KIB,
                                 "%s: %s RSS grew after cycle %d (%s)"
                                 % (what, name, WARM, report))

    def idle(self, gws, clients=0, channels=0):
        """Every gateway counts this many clients and channels."""
        def check():
            for name, gw in gws.items():
                s = status_json(gw.port)
                if s["clients"] != clients or len(s["channels"]) != channels:
                    return None
            return True
        poll_until(check, 10, "gateways with %d clients and %d channels left"
                   % (clients, channels))

    def test_client_cycles(self):
        hub = self.nws.start_hub()
        gws = {"A": self.nws.start_gateway(), "B": self.nws.start_gateway()}
        procs = {"hub": hub, "gateway A": gws["A"], "gateway B": gws["B"]}
        warm = None
        t0 = time.monotonic()
        for cycle in range(1, CYCLES + 1):
            members = []
            for k in range(CHANNELS):
                path = "/%s/c%d-%d" % ("local" if k % 2 == 0 else "broadcast", cycle, k)
                chan = []
                for i in range(CLIENTS // CHANNELS):
                    gw = gws["A" if (i + k) % 2 == 0 else "B"]
                    chan.append(("%d.%d" % (k, i), self.nws.client(gw, path)))
                members.append(chan)
            for chan in members:
                for label, c in chan:
                    c.send_text("cycle %d from %s" % (cycle, label))
            for chan in members:
                for label, c in chan:
                    want = sorted("cycle %d from %s" % (cycle, other)
                                  for other, _ in chan if other != label)
                    got = sorted(m.data for m in c.recv_n(len(want)))
                    self.assertEqual(got, want, "cycle %d, client %s" % (cycle, label))
            for c in self.nws.clients:
                c.close()
            self.nws.clients = []
            self.idle(gws)
            self.nws.check_alive()
            if cycle == WARM:
                warm = usage(procs)
        last = usage(procs)
        note("%d client cycles in %.1fs", CYCLES, time.monotonic() - t0)
        self.assertNoGrowth(warm, last, "client cycles", procs)
        self.assertEqual(hub.popen.poll(), None)

    def test_hub_kill_cycles(self):
        self.nws.start_hub(grace_ms=None)
        gws = {"A": self.nws.start_gateway(), "B": self.nws.start_gateway()}
        procs = {"gateway A": gws["A"], "gateway B": gws["B"]}
        idle = [self.nws.client(gws[name], "/local/idle") for name in ("A", "A", "B", "B")]
        self.nws.clients = []       # kept apart from the per-cycle clients
        self.addCleanup(lambda: [c.close() for c in idle])
        warm = None
        t0 = time.monotonic()
        for cycle in range(1, CYCLES + 1):
            self.nws.hub.kill()
            self.nws.start_hub(grace_ms=None)
            path = "/local/hk%d" % cycle
            a = self.nws.client(gws["A"], path)
            b = self.nws.client(gws["B"], path)
            a.send_text("a%d" % cycle)
            self.assertReceives(b, [nwstext("a%d" % cycle)], what="cycle %d: A to B" % cycle)
            b.send_text("b%d" % cycle)
            self.assertReceives(a, [nwstext("b%d" % cycle)], what="cycle %d: B to A" % cycle)
            a.close()
            b.close()
            self.nws.clients = []
            self.idle(gws, clients=2, channels=1)
            self.nws.check_alive()
            if cycle == WARM:
                warm = usage(procs)
        last = usage(procs)
        note("%d hub kills in %.1fs", CYCLES, time.monotonic() - t0)
        # The idle clients were never closed and still talk across gateways.
        idle[0].send_text("still here")
        for i, c in enumerate(idle[1:], 1):
            self.assertReceives(c, [nwstext("still here")], what="idle client %d" % i)
        idle[3].send_text("and here")
        for i, c in enumerate(idle[:3]):
            self.assertReceives(c, [nwstext("and here")], what="idle client %d" % i)
        self.assertNoGrowth(warm, last, "hub kill cycles", procs)


if __name__ == "__main__":
    main()
