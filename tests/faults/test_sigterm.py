"""Every program exits cleanly on SIGTERM, under traffic.

A hub, two gateways (A, B) and nws-discovery (--no-avahi) run; on two
channels a sender (one on each gateway) sends every ~2 ms to two receivers
per gateway. On gateway A there are also a client that stopped reading
(small receive buffer, 6 MiB sent to it: its connection cannot take a close
frame) and a connection stuck halfway through its handshake.

Then, one at a time: SIGTERM to nws-discovery, to gateway A, to the hub,
and to gateway B (which by then has no hub). Expected: each exits with
status 0 within STOP_TIMEOUT; every WebSocket client of a stopping gateway
gets a close frame with 1001 (the stuck reader excepted: nothing can reach
it), after an unbroken stream; the clients of the gateway that goes on are
not disturbed, and B keeps delivering locally after the hub is gone.
"""

import os
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import Traffic, note, quiet_close_reply  # noqa: E402
from nwstest import (STOP_TIMEOUT, Client, NwsTestCase, Proc, binary, main,  # noqa: E402
                     status_json)

CLOSE_GOING_AWAY = 1001
DISCOVERY = os.environ.get("NWS_DISCOVERY") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build",
                 "discovery", "nws-discovery"))
STUCK_MESSAGES = 96
STUCK_SIZE = 64 * 1024


class Sigterm(NwsTestCase):

    def stop(self, proc, what):
        t0 = time.monotonic()
        code = proc.stop(signal.SIGTERM)
        took = time.monotonic() - t0
        note("%s exited with %s %.3fs after SIGTERM", what, code, took)
        self.assertIsNotNone(code, "%s did not exit within %.0fs of SIGTERM\n%s"
                             % (what, STOP_TIMEOUT, proc.log_tail()))
        self.assertEqual(code, 0, "%s: exit status after SIGTERM\n%s" % (what, proc.log_tail()))
        return took

    def test_each_program_exits_cleanly_on_sigterm(self):
        hub = self.nws.start_hub()
        gws = {"A": self.nws.start_gateway(), "B": self.nws.start_gateway()}
        discovery = None
        if os.access(DISCOVERY, os.X_OK):
            discovery = Proc("discovery", [DISCOVERY, "--runtime-dir", self.nws.runtime_dir,
                                           "--port", str(gws["A"].port), "--no-avahi"],
                             self.nws._log("discovery"))
            self.nws.procs.append(discovery)
            discovery.wait_ready("ready ")
        elif os.environ.get("NWS_DISCOVERY"):
            self.fail("$NWS_DISCOVERY=%s is not an executable" % DISCOVERY)
        else:
            note("nws-discovery not built: its SIGTERM is not tested")

        traffic = Traffic()
        self.addCleanup(traffic.stop)
        traffic.add_channels(gws, (("/local/t0", "A"), ("/broadcast/t1", "B")))
        stopping = set()
        traffic.policy = lambda peer, seg, end: (peer.gateway in stopping
                                                 and end[:2] == ("close", CLOSE_GOING_AWAY))
        traffic.reconnect = lambda peer, seg, end: False
        traffic.start()
        traffic.wait_flowing(traffic.mark(), 10, "traffic before any SIGTERM")

        # A reader that stopped reading, with full buffers on both sides.
        stuck = Client(self.nws.url(gws["A"], "/local/stuck"),
                       sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])
        self.addCleanup(stuck.close)
        feeder = self.nws.client(gws["A"], "/local/stuck")
        witness = self.nws.client(gws["B"], "/local/stuck")
        for c in (stuck, feeder, witness):
            quiet_close_reply(c.ws)
        blobs = [binary(bytes([i]) * STUCK_SIZE) for i in range(STUCK_MESSAGES)]
        for b in blobs:
            feeder.send(b)
        self.assertReceives(witness, blobs, timeout=10, what="witness of the stuck reader")
        # A connection halfway through its handshake.
        half = socket.create_connection(("127.0.0.1", gws["A"].port))
        self.addCleanup(half.close)
        half.sendall(b"GET /local/t0 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
        self.assertEqual(status_json(gws["A"].port)["clients"], 3 + 2 + 2,
                         "gateway A: clients before SIGTERM (t0: 3, t1: 2, stuck: 2)")

        if discovery:
            self.stop(discovery, "nws-discovery")

        a_peers = [p for p in traffic.peers if p.gateway == "A"]
        b_peers = [p for p in traffic.peers if p.gateway == "B"]
        stopping.add("A")
        self.stop(gws["A"], "gateway A (a stuck reader, a half handshake)")
        for p in a_peers:
            p.reader.join(5)
            self.assertFalse(p.reader.is_alive(), "%s: still reading after A exited" % p.label)
            self.assertEqual(len(p.segments), 1)
            self.assertEqual(p.segments[0].end[:2], ("close", CLOSE_GOING_AWAY),
                             "%s on the stopped gateway A: %s"
                             % (p.label, p.segments[0].describe()))
        try:
            got, reason, skipped = stuck.recv_close(timeout=5)
            note("stuck reader: %d messages, then close %s %r", skipped, got, reason)
        except AssertionError as e:
            note("stuck reader: no close frame (%s)", e)
        feeder_end = feeder.recv_close(timeout=5)
        self.assertEqual(feeder_end[0], CLOSE_GOING_AWAY, "feeder on gateway A: %r"
                         % (feeder_end,))

        # B is not disturbed: local traffic and the witness.
        b_local = [p for p in traffic.senders if p.gateway == "B"]
        traffic.wait_flowing(traffic.mark(), 5, "B's local traffic after A stopped",
                             pairs=lambda r, s: r.gateway == "B" and s.gateway == "B")
        self.stop(hub, "nws-hub (with gateway B connected)")
        traffic.wait_sent(100, senders=b_local)
        traffic.wait_flowing(traffic.mark(), 5, "B's local traffic after the hub stopped",
                             pairs=lambda r, s: r.gateway == "B" and s.gateway == "B")
        for p in b_peers:
            self.assertEqual([s.end for s in p.segments], [None],
                             "%s on gateway B, which goes on" % p.label)

        final = traffic.stop_senders()
        traffic.drain(final)
        stopping.add("B")
        self.stop(gws["B"], "gateway B (no hub)")
        for p in b_peers:
            p.reader.join(5)
            self.assertEqual(len(p.segments), 1)
            self.assertEqual(p.segments[0].end[:2], ("close", CLOSE_GOING_AWAY),
                             "%s on the stopped gateway B: %s"
                             % (p.label, p.segments[0].describe()))
        code, reason, skipped = witness.recv_close(timeout=5)
        self.assertEqual((code, skipped), (CLOSE_GOING_AWAY, 0), "witness on gateway B")
        traffic.stop()
        traffic.assert_clean(self)
        self.nws.check_alive()


if __name__ == "__main__":
    main()
