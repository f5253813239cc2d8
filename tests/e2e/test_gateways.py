"""End to end: several gateways sharing one hub.

Two gateways on the same port (SO_REUSEPORT; the kernel spreads new
connections over both) act as one: a sender's messages reach every
receiver, whichever process accepted it. Two gateways on different ports
link their clients both ways.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nwstest import NwsTestCase, binary, main, note, poll_until, status_json, text  # noqa: E402

MESSAGES = 200


class SharedPort(NwsTestCase):

    def test_two_gateways_on_one_port_act_as_one(self):
        self.nws.start_hub()
        first = self.nws.start_gateway(port=0)
        second = self.nws.start_gateway(port=first.port)
        port = first.port
        pids = {first.pid, second.pid}

        # Each /status request is a new connection: both processes answer.
        seen = set()

        def both_answer():
            s = status_json(port)
            self.assertIn(s["gateway"]["pid"], pids, "an unknown process answers on the port")
            self.assertEqual(s["gateway"]["port"], port)
            seen.add(s["gateway"]["pid"])
            return seen == pids

        poll_until(both_answer, 10, "both gateway pids in /status on port %d" % port,
                   interval=0)

        path = "/local/shared"
        sender = self.nws.client(port, path)
        receivers = self.nws.open_clients(port, path, 10)

        # Learn how the kernel spread them; open more receivers until each
        # process holds at least one client of the channel.
        def spread():
            counts = {}
            for _ in range(200):
                s = status_json(port)
                counts[s["gateway"]["pid"]] = sum(
                    c["clients"] for c in s["channels"]
                    if (c["scope"], c["name"]) == ("local", "shared"))
                if len(counts) == 2:
                    return counts
            raise AssertionError("only pid(s) %r answered /status in 200 tries" % list(counts))

        counts = spread()
        extra = 0
        while min(counts.values()) == 0 and extra < 30:
            receivers.append(self.nws.client(port, path))
            extra += 1
            counts = spread()
        note("clients per gateway pid: %r after %d extra", counts, extra)
        self.assertTrue(all(counts[p] > 0 for p in pids),
                        "after %d extra clients, clients per gateway: %r" % (extra, counts))
        self.assertEqual(sum(counts.values()), len(receivers) + 1,
                         "clients per gateway %r vs %d opened" % (counts, len(receivers) + 1))

        sent = []
        for i in range(MESSAGES):
            m = text("m%d" % i) if i % 2 else binary(b"\x80m%d" % i)
            sender.send(m)
            sent.append(m)
        for i, r in enumerate(receivers):
            self.assertReceives(r, sent, what="receiver %d" % i)
        # And back: one receiver to the sender and everyone else.
        receivers[0].send_text("reply")
        self.assertReceives(sender, [text("reply")])
        for i, r in enumerate(receivers[1:], 1):
            self.assertReceives(r, [text("reply")], what="receiver %d" % i)


class TwoPorts(NwsTestCase):

    def test_clients_on_different_gateways_talk_both_ways(self):
        self.nws.start_hub()
        a_gw = self.nws.start_gateway()
        b_gw = self.nws.start_gateway()
        self.assertNotEqual(a_gw.port, b_gw.port)
        for path in ("/local/pair", "/broadcast/pair"):
            with self.subTest(path=path):
                a = self.nws.client(a_gw, path)
                b = self.nws.client(b_gw, path)
                to_b = [text("a%d" % i) for i in range(50)] + [binary(bytes(range(256)))]
                to_a = [binary(b"\xfeb%d" % i) for i in range(50)] + [text("\u2713")]
                for m in to_b:
                    a.send(m)
                for m in to_a:
                    b.send(m)
                self.assertReceives(b, to_b, what="client on gateway B")
                self.assertReceives(a, to_a, what="client on gateway A")
                # Nothing echoed back: these fences come next.
                a.send_text("fence-a")
                b.send_text("fence-b")
                self.assertReceives(a, [text("fence-b")], what="A after the exchange")
                self.assertReceives(b, [text("fence-a")], what="B after the exchange")


if __name__ == "__main__":
    main()
