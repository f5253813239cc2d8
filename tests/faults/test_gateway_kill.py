"""Fault: one nws-gateway is SIGKILLed and restarted under steady traffic.

Two gateways (A and B, each on its own port) share one hub. Channel g0
has a sender on A, g1 a sender on B, g2 a sender on each; every channel
has two receivers on each gateway. A is killed (SIGKILL) and restarted on
its port, then B.

Expected (the delivery promise, README "How delivery works"): the killed gateway's own clients see their
connection drop (no close frame can come from a killed process) and
reconnect to the restarted gateway, where they receive again within
RECOVERY seconds. The other gateway's clients are not disturbed at all:
no close, and per sender no gap and no duplicate -- a sender that was on
the killed gateway reconnects as a new connection, whose messages they
get from its first one.
"""

import os
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import Traffic, note  # noqa: E402
from nwstest import NwsTestCase, main  # noqa: E402

RECOVERY = 5.0                      # seconds for the victims to receive again
CHANNELS = (("/local/g0", "A"), ("/broadcast/g1", "B"), ("/local/g2", "AB"))


class GatewayKill(NwsTestCase):

    def test_sigkill_and_restart_a_gateway_under_traffic(self):
        self.nws.start_hub()
        gws = {"A": self.nws.start_gateway(), "B": self.nws.start_gateway()}
        traffic = Traffic()
        self.addCleanup(traffic.stop)
        traffic.add_channels(gws, CHANNELS)
        killed = set()
        traffic.policy = lambda peer, seg, end: end[0] == "dropped" and peer.gateway in killed

        traffic.start()
        traffic.wait_flowing(traffic.mark(), 10, "traffic before any fault")
        for victim in ("A", "B"):
            traffic.wait_sent(200)
            segments = {p.label: len(p.segments) for p in traffic.peers}
            killed.add(victim)
            old = gws[victim]
            t0 = time.monotonic()
            old.kill()
            gws[victim] = self.nws.start_gateway(port=old.port)
            ready = time.monotonic()
            mark = traffic.mark()
            took = traffic.wait_flowing(mark, RECOVERY,
                                        "traffic to flow everywhere after gateway %s was "
                                        "killed and restarted" % victim)
            note("gateway %s: restarted %.3fs after the kill, everyone receiving %.3fs later",
                 victim, ready - t0, took)
            killed.discard(victim)
            # Exactly the victim's clients have a new connection, once.
            for p in traffic.peers:
                want = segments[p.label] + (1 if p.gateway == victim else 0)
                self.assertEqual(len(p.segments), want,
                                 "%s on gateway %s after gateway %s was killed: connections "
                                 "%s" % (p.label, p.gateway, victim,
                                         [s.describe() for s in p.segments]))
            self.nws.check_alive()
        traffic.finish(200)
        self.nws.check_alive()
        traffic.assert_clean(self)
        for p in traffic.peers:
            for seg in p.segments[:-1]:
                self.assertEqual(seg.end[0], "dropped", "%s: %s" % (p.label, seg.describe()))


if __name__ == "__main__":
    main()
