"""End to end: no join race.

Once a client's handshake has completed, it receives every message sent
after that moment, even on a channel nobody used before (the gateway's hub
subscription must be in place before the handshake completes), and also
when the sender is on another gateway sharing the hub.
"""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nwstest import NwsTestCase, main, run_threads, text  # noqa: E402

N = 20
ROUNDS = 5
LATE_ROUNDS = 100


class Join(NwsTestCase):

    def setUp(self):
        super().setUp()
        self.nws.start_hub()
        self.gw = self.nws.start_gateway()

    def open_at_once(self, gw, path, n):
        """n clients whose connects start together (threads + barrier)."""
        barrier = threading.Barrier(n)

        def one():
            barrier.wait(timeout=10)
            return self.nws.client(gw, path)

        return run_threads([one] * n, timeout=30)

    def check_first_reaches_all(self, sender, receivers, tag):
        sender.send_text("first-" + tag)
        sender.send_text("fence-" + tag)
        for i, r in enumerate(receivers):
            # Exactly once: a duplicate would come before the fence.
            self.assertReceives(r, [text("first-" + tag), text("fence-" + tag)],
                                what="%s receiver %d" % (tag, i))
        receivers[0].send_text("back-" + tag)
        self.assertReceives(sender, [text("back-" + tag)], what=tag + " sender")

    def test_twenty_clients_join_at_once(self):
        for r in range(ROUNDS):
            clients = self.open_at_once(self.gw, "/local/join-%d" % r, N)
            self.check_first_reaches_all(clients[0], clients[1:], "round%d" % r)

    def test_twenty_clients_join_at_once_sender_on_other_gateway(self):
        other = self.nws.start_gateway()
        for r in range(ROUNDS):
            path = "/broadcast/xjoin-%d" % r
            sender = self.nws.client(other, path)
            clients = self.open_at_once(self.gw, path, N)
            self.check_first_reaches_all(sender, clients, "xround%d" % r)

    def test_send_right_after_handshake_across_gateways(self):
        other = self.nws.start_gateway()
        for r in range(LATE_ROUNDS):
            path = "/local/late-%d" % r
            sender = self.nws.client(other, path)
            joiner = self.nws.client(self.gw, path)     # handshake complete here
            sender.send_text("now-%d" % r)
            self.assertReceives(joiner, [text("now-%d" % r)], what="joiner %d" % r)
            joiner.send_text("back-%d" % r)
            self.assertReceives(sender, [text("back-%d" % r)], what="sender %d" % r)
            sender.close()
            joiner.close()

    def test_send_right_after_handshake_on_a_new_gateway(self):
        # The sender's gateway has just connected to the hub: its first
        # messages must not be lost while the hub's subscription to it is
        # still on its way.
        for r in range(10):
            fresh = self.nws.start_gateway()
            path = "/broadcast/fresh-%d" % r
            joiner = self.nws.client(self.gw, path)
            sender = self.nws.client(fresh, path)
            sender.send_text("first-%d" % r)
            self.assertReceives(joiner, [text("first-%d" % r)], what="joiner %d" % r)
            fresh.stop()


if __name__ == "__main__":
    main()
