"""Fault: nws-hub is SIGKILLed and restarted under steady traffic.

Two gateways share one hub. On each of three channels one sender sends a
numbered message every ~2 ms; two receivers per gateway read. The hub is
killed (SIGKILL) and restarted three times, each time while messages flow.
While no hub runs, clients join: a receiver on B joins a channel whose
sender (on A) is sending, and a new channel gets a receiver on each
gateway and then a sender on A. Once the hub is back, a joined receiver
must get every message sent after its handshake (or be closed with 4002).

The delivery promise (README): every message is delivered exactly once and in order,
or the receiving connection is closed with a reason. Messages inside the
killed hub are lost, so here the only acceptable close is 4002 ("messages
were lost upstream"), and it must come right where the gap is: what a
client received before it is, per sender, strictly consecutive, with
nothing after a missing message. A client closed with 4002 reconnects (as
a browser would). Traffic must flow again, between the gateways too,
within RECOVERY seconds of the new hub's ready line, and every gateway
must have counted each 4002 it sent (/status counters.closed_gap).
"""

import os
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import Traffic, counters, note  # noqa: E402
from nwstest import CLOSE_GAP, NwsTestCase, main  # noqa: E402

KILLS = 3
RECOVERY = 5.0                      # seconds for traffic to flow again
# (path, the gateways of its senders)
CHANNELS = (("/local/k0", "A"), ("/broadcast/k1", "B"), ("/local/k2", "A"))


class HubKill(NwsTestCase):

    def test_sigkill_and_restart_the_hub_under_traffic(self):
        self.nws.start_hub(grace_ms=None)
        gws = {"A": self.nws.start_gateway(), "B": self.nws.start_gateway()}
        traffic = Traffic()
        self.addCleanup(traffic.stop)
        traffic.add_channels(gws, CHANNELS)
        traffic.policy = lambda peer, seg, end: end[:2] == ("close", CLOSE_GAP)
        before = {name: counters(gw.port) for name, gw in gws.items()}

        for k in range(KILLS):
            # A channel that flows on A only until B joins it with no hub.
            path = "/local/join%d" % k
            traffic.add(gws["A"], path, "join%dsA" % k, "A", sends=True)
            traffic.add(gws["A"], path, "join%dA" % k, "A")
        traffic.start()
        note("first traffic in %.3fs", traffic.wait_flowing(traffic.mark(), 10,
                                                            "traffic before any fault"))
        for k in range(KILLS):
            traffic.wait_sent(200)
            old = self.nws.hub
            t0 = time.monotonic()
            old.kill()
            # Joins while no hub runs (their subscriptions cannot be confirmed
            # now): B joins a channel that flows on A; and a new channel gets
            # receivers on both gateways, then a sender on A.
            j0 = time.monotonic()
            traffic.join(gws["B"], "/local/join%d" % k, "join%dB" % k, "B")
            fresh = "/local/fresh%d" % k
            traffic.join(gws["B"], fresh, "fresh%dB" % k, "B")
            traffic.join(gws["A"], fresh, "fresh%dA" % k, "A")
            traffic.join(gws["A"], fresh, "fresh%dsA" % k, "A", sends=True)
            note("kill %d: 4 clients joined in %.3fs with no hub", k + 1, time.monotonic() - j0)
            new = self.nws.start_hub(grace_ms=None)
            self.assertNotEqual(new.pid, old.pid)
            mark = traffic.mark()
            took = traffic.wait_flowing(mark, RECOVERY,
                                        "traffic to flow again after hub kill %d" % (k + 1))
            note("kill %d: traffic flowing %.3fs after the new hub's ready line, %.3fs after "
                 "the kill", k + 1, took, time.monotonic() - t0)
            self.nws.check_alive()
        traffic.finish(200)
        self.nws.check_alive()

        ends = traffic.ends()
        note("connections closed: %d (%s)", len(ends),
             ", ".join("%s#%d %r" % (p.label, s.index, e[:2]) for p, s, e in ends))
        traffic.assert_clean(self)

        # Each 4002 a client saw was counted by its gateway (and nothing
        # else was closed by it).
        for name, gw in gws.items():
            after = counters(gw.port)
            seen = sum(1 for p, s, e in ends if p.gateway == name and e[:2] == ("close", CLOSE_GAP))
            self.assertEqual(after["closed_gap"] - before[name]["closed_gap"], seen,
                             "gateway %s: counters.closed_gap vs 4002 closes its clients saw"
                             % name)
            if seen:
                self.assertGreater(after["gaps"], before[name]["gaps"],
                                   "gateway %s closed with 4002 but counted no gap" % name)
            note("gateway %s: gaps %d, closed_gap %d", name, after["gaps"], after["closed_gap"])


if __name__ == "__main__":
    main()
