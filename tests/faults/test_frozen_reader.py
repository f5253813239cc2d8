"""Fault: a reading client is frozen (SIGSTOP) while a sender floods.

The frozen client is a process of its own (frozen_client.py) on gateway A,
with a small receive buffer. A sender on A floods the channel with numbered
1 KiB messages; two readers on A and two on B (through the hub) read. As
soon as A's /status counts the frozen client in counters.closed_slow, it is
resumed (SIGCONT), well within the gateway's 5 s close grace.

Expected (README "Limits and close codes"): the frozen client reads an
unbroken prefix of the flood (from #1, no gap) and then a close frame with
4001; closed_slow grew by exactly one and A no longer counts that client;
every other client gets the whole flood, in order, and is never closed.
"""

import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import Child, Traffic, counters, note, poll_until, wait_state  # noqa: E402
from nwstest import CLOSE_SLOW, NwsTestCase, main, status_json  # noqa: E402

PATH = "/local/flood"
BATCH = 200                         # messages between two looks at /status
MAX_FLOOD = 200000                  # messages: far more than queue + buffers
FLOOD_FOR = 60.0                    # seconds
AFTER = 500                         # messages sent once the frozen one is out


class FrozenReader(NwsTestCase):

    def test_frozen_reader_is_closed_with_4001_and_nobody_else_notices(self):
        self.nws.start_hub()
        gw_a = self.nws.start_gateway()
        gw_b = self.nws.start_gateway()
        traffic = Traffic()
        self.addCleanup(traffic.stop)
        flood = traffic.add(gw_a, PATH, "flood", "A", sends="manual")
        flood.pad = "." * 1024
        for name, gw in (("A", gw_a), ("B", gw_b)):
            for k in range(2):
                traffic.add(gw, PATH, "r%s%d" % (name, k), name)
        traffic.policy = lambda peer, seg, end: False

        frozen = Child([sys.executable, os.path.join(os.path.dirname(__file__),
                                                     "frozen_client.py"),
                        "ws://127.0.0.1:%d%s" % (gw_a.port, PATH)],
                       os.path.join(self.nws.log_dir, "frozen-client.log"))
        self.addCleanup(frozen.kill)
        self.assertEqual(frozen.line(0, 10), "open")
        traffic.start()
        os.kill(frozen.pid, signal.SIGSTOP)
        wait_state(frozen.pid, ("T", "t"), what="frozen client")
        clients_before = status_json(gw_a.port)["clients"]
        self.assertEqual(clients_before, 4, "gateway A: clients (flood, 2 readers, frozen)")
        slow_before = counters(gw_a.port)["closed_slow"]

        t0 = time.monotonic()
        while True:
            for _ in range(BATCH):
                self.assertTrue(flood.send_next(), "the flooding sender was closed: %s"
                                % flood.current().describe())
            if counters(gw_a.port)["closed_slow"] > slow_before:
                break
            sent = flood.position()[1]
            self.assertLess(sent, MAX_FLOOD, "%d messages sent, frozen client not closed" % sent)
            self.assertLess(time.monotonic() - t0, FLOOD_FOR,
                            "%d messages in %.0fs, frozen client not closed" % (sent, FLOOD_FOR))
        counted = time.monotonic()
        os.kill(frozen.pid, signal.SIGCONT)
        resumed = time.monotonic()
        note("closed_slow counted after %d messages (%.2fs); resumed %.3fs later",
             flood.position()[1], counted - t0, resumed - counted)

        for _ in range(AFTER):
            self.assertTrue(flood.send_next())
        final = {"flood": flood.position()}
        traffic.drain(final, timeout=20)
        drained = time.monotonic()

        result = json.loads(frozen.line(1, 15))
        note("frozen client: %r; readers drained %.2fs after the resume, frozen client done "
             "%.2fs after", result, drained - resumed, time.monotonic() - resumed)
        self.assertEqual(result["bad"], [], "frozen client: gaps in what it read (expected, got)")
        self.assertEqual(result["end"][:2], ["close", CLOSE_SLOW],
                         "frozen client, resumed %.3fs after closed_slow counted it, read %d "
                         "messages and then: %r" % (resumed - counted, result["count"],
                                                    result["end"]))
        self.assertLess(result["count"], final["flood"][1], "the frozen client got everything")

        def settled():
            s = status_json(gw_a.port)
            return s["clients"] == 3 and s
        s = poll_until(settled, 10, "gateway A to count 3 clients (the frozen one gone)")
        self.assertEqual(s["counters"]["closed_slow"], slow_before + 1,
                         "closed_slow: exactly the frozen client")
        traffic.stop()
        traffic.assert_clean(self)
        for p in traffic.peers:
            self.assertEqual(len(p.segments), 1, "%s was reconnected" % p.label)
        self.nws.check_alive()


if __name__ == "__main__":
    main()
