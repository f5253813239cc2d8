"""End to end: a burst of 10,000 messages from one sender reaches 10
receivers complete and in order (each receiver reads in its own thread,
while the sender is still sending)."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nwstest import NwsTestCase, main, run_threads, text  # noqa: E402

MESSAGES = 10000
RECEIVERS = 10


class Burst(NwsTestCase):

    def run_burst(self, sender_gw, receiver_gws, path):
        sender = self.nws.client(sender_gw, path)
        receivers = [self.nws.client(receiver_gws[i % len(receiver_gws)], path)
                     for i in range(RECEIVERS)]
        start = threading.Event()

        def reader(i, r):
            def read():
                start.wait(10)
                for k in range(MESSAGES):
                    m = r.recv(timeout=20)
                    want = "burst %d" % k
                    if m.kind != "text" or not m.data.startswith(want + " "):
                        raise AssertionError("receiver %d: message %d of %d: expected %r..., got %r"
                                             % (i, k + 1, MESSAGES, want, m))
                return MESSAGES
            return read

        def send():
            start.set()
            pad = "x" * 20
            for k in range(MESSAGES):
                sender.send_text("burst %d %s" % (k, pad))
            sender.send_text("end")
            return MESSAGES

        run_threads([send] + [reader(i, r) for i, r in enumerate(receivers)], timeout=90)
        for i, r in enumerate(receivers):
            self.assertReceives(r, [text("end")], what="receiver %d after the burst" % i)

    def test_burst_one_gateway(self):
        self.nws.start_hub()
        gw = self.nws.start_gateway()
        self.run_burst(gw, [gw], "/local/burst")

    def test_burst_across_gateways(self):
        self.nws.start_hub()
        a = self.nws.start_gateway()
        b = self.nws.start_gateway()
        self.run_burst(a, [a, b], "/broadcast/burst")


if __name__ == "__main__":
    main()
