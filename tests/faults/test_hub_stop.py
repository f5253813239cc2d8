"""Fault: nws-hub is frozen (SIGSTOP) for a couple of seconds under traffic.

Two gateways share one hub; three channels with one sender each (every
~2 ms) and two receivers per gateway. The hub is stopped until every
sender has sent FROZEN_FOR more messages (about two seconds), then
continued (SIGCONT); twice. While the hub is frozen, a receiver on B joins
a channel whose sender (on A) is sending: its subscription cannot be
confirmed before SIGCONT, but it must then get every message sent after
its handshake.

Expected: while the hub is frozen, clients on a sender's own gateway keep
receiving (a gateway never waits for the hub to deliver locally); after
SIGCONT the queues (libzmq pipes, high-water marks of 1,000,000) hand
over what waited, so nothing is lost. Should anything be lost anyway, the
affected receivers must be closed with 4002 -- never a silent gap, and no
other close. Traffic flows again between the gateways within RECOVERY
seconds.
"""

import os
import signal
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import Traffic, counters, note, wait_state  # noqa: E402
from nwstest import CLOSE_GAP, NwsTestCase, main  # noqa: E402

STOPS = 2
FROZEN_FOR = 1000                   # messages per sender while frozen (~2 s)
RECOVERY = 5.0
# (path, the gateways of its senders)
CHANNELS = (("/local/h0", "A"), ("/broadcast/h1", "B"), ("/local/h2", "A"))


class HubStop(NwsTestCase):

    def test_sigstop_and_sigcont_the_hub_under_traffic(self):
        hub = self.nws.start_hub()
        gws = {"A": self.nws.start_gateway(), "B": self.nws.start_gateway()}
        traffic = Traffic()
        self.addCleanup(traffic.stop)
        traffic.add_channels(gws, CHANNELS)
        traffic.policy = lambda peer, seg, end: end[:2] == ("close", CLOSE_GAP)
        # If the test dies while the hub is stopped, cleanup must not wait
        # 5 s for a stopped process to handle SIGTERM.
        self.addCleanup(lambda: hub.alive() and hub.send_signal(signal.SIGCONT))

        for k in range(STOPS):
            # A channel that flows on A only until B joins it, hub frozen.
            path = "/local/join%d" % k
            traffic.add(gws["A"], path, "join%dsA" % k, "A", sends=True)
            traffic.add(gws["A"], path, "join%dA" % k, "A")
        traffic.start()
        traffic.wait_flowing(traffic.mark(), 10, "traffic before any fault")
        for k in range(STOPS):
            traffic.wait_sent(200)
            hub.send_signal(signal.SIGSTOP)
            wait_state(hub.pid, ("T", "t"), what="hub")
            t0 = time.monotonic()
            mark = traffic.mark()
            took = traffic.wait_flowing(mark, RECOVERY, "local delivery with the hub stopped",
                                        pairs=lambda r, s: r.gateway == s.gateway)
            j0 = time.monotonic()
            traffic.join(gws["B"], "/local/join%d" % k, "join%dB" % k, "B")
            note("stop %d: joined a channel on B in %.3fs", k + 1, time.monotonic() - j0)
            traffic.wait_sent(FROZEN_FOR)
            self.assertEqual(hub.popen.poll(), None, "the hub died while stopped")
            note("stop %d: local delivery went on (%.3fs); hub stopped for %.2fs", k + 1,
                 took, time.monotonic() - t0)
            hub.send_signal(signal.SIGCONT)
            mark = traffic.mark()
            took = traffic.wait_flowing(mark, RECOVERY, "traffic after SIGCONT %d" % (k + 1))
            note("stop %d: traffic flowing everywhere %.3fs after SIGCONT", k + 1, took)
            self.nws.check_alive()
        traffic.finish(200)
        self.nws.check_alive()
        ends = traffic.ends()
        note("connections closed: %d %s", len(ends),
             ["%s#%d %r" % (p.label, s.index, e[:2]) for p, s, e in ends])
        traffic.assert_clean(self)
        for name, gw in gws.items():
            c = counters(gw.port)
            note("gateway %s: gaps %d, closed_gap %d, closed_slow %d", name, c["gaps"],
                 c["closed_gap"], c["closed_slow"])


if __name__ == "__main__":
    main()
