"""Fault: the hub is killed and stays down for a while (0.3 to 1.3 s) under
traffic, then restarted; six times, one outage length each.

Like test_hub_kill.py, but the new hub starts only after every sender
has sent OUTAGES[k] more messages (~2 ms each), so the gateways spend that
long reconnecting (libzmq retries with a growing interval). During each
outage a receiver on B joins a channel whose sender (on A) keeps sending.

Expected (the delivery promise, README "How delivery works"): receivers get every message sent after
their handshake, in order, or are closed with 4002 -- for the joined
receivers as for the others; no other close; traffic flows again within
RECOVERY seconds of the new hub's ready line.
"""

import os
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import Traffic, counters, note  # noqa: E402
from nwstest import CLOSE_GAP, NwsTestCase, main  # noqa: E402

OUTAGES = (150, 250, 350, 450, 550, 650)   # messages per sender while no hub runs
RECOVERY = 5.0


class HubOutage(NwsTestCase):

    def test_hub_down_for_a_while_under_traffic(self):
        self.nws.start_hub(grace_ms=None)
        gws = {"A": self.nws.start_gateway(), "B": self.nws.start_gateway()}
        traffic = Traffic()
        self.addCleanup(traffic.stop)
        traffic.add_channels(gws, (("/local/o0", "A"), ("/broadcast/o1", "B")), receivers=1)
        for k in range(len(OUTAGES)):
            path = "/local/join%d" % k
            traffic.add(gws["A"], path, "join%dsA" % k, "A", sends=True)
            traffic.add(gws["A"], path, "join%dA" % k, "A")
        traffic.policy = lambda peer, seg, end: end[:2] == ("close", CLOSE_GAP)
        before = {name: counters(gw.port) for name, gw in gws.items()}
        traffic.start()
        traffic.wait_flowing(traffic.mark(), 10, "traffic before any fault")
        for k, outage in enumerate(OUTAGES):
            traffic.wait_sent(100)
            t0 = time.monotonic()
            self.nws.hub.kill()
            traffic.join(gws["B"], "/local/join%d" % k, "join%dB" % k, "B")
            traffic.wait_sent(outage)
            down = time.monotonic() - t0
            self.nws.start_hub(grace_ms=None)
            took = traffic.wait_flowing(traffic.mark(), RECOVERY,
                                        "traffic after outage %d (%.2fs)" % (k + 1, down))
            note("outage %d: hub down %.2fs; traffic flowing %.3fs after the new hub's "
                 "ready line", k + 1, down, took)
            self.nws.check_alive()
        traffic.finish(100)
        self.nws.check_alive()
        ends = traffic.ends()
        note("connections closed: %d %s", len(ends),
             ["%s#%d %r" % (p.label, s.index, e[:2]) for p, s, e in ends])
        for name, gw in gws.items():
            c = counters(gw.port)
            note("gateway %s: gaps +%d, closed_gap +%d, hub_sync_timeouts +%d", name,
                 c["gaps"] - before[name]["gaps"], c["closed_gap"] - before[name]["closed_gap"],
                 c["hub_sync_timeouts"] - before[name]["hub_sync_timeouts"])
        traffic.assert_clean(self)


if __name__ == "__main__":
    main()
