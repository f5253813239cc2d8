"""Tap and feed a channel with nothing but python3-zmq (zmq_peer.py, no
project code), over the hub's ipc endpoints and over tcp loopback ones.

A subscriber sees what WebSocket clients send, with the header fields of
the README's byte table; a bare 2-frame [topic][payload] message reaches
the WebSocket clients of its channel as text.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from taptest import (FLAG_CONTROL, KIND_BINARY, KIND_TEXT, TapTestCase,  # noqa: E402
                     ipv6_loopback)
from nwstest import binary, main, text  # noqa: E402


class OutsidePeer(TapTestCase):

    def next_message(self, peer, **kw):
        """The subscriber's next line that is not a control message (the
        README: a tap ignores them; a sender's gateway sends marks)."""
        while True:
            m = json.loads(peer.line(**kw))
            if not m.get("flags", 0) & FLAG_CONTROL:
                return m

    def watch_and_feed(self, out_endpoint, in_endpoint, name):
        gw = self.nws.start_gateway()
        path = "/local/%s" % name
        topic = "local/%s/" % name
        a, b = self.nws.open_clients(gw, path, 2)
        other = self.nws.client(gw, "/local/%sx" % name)   # a name that extends ours
        peer = self.zmq_peer("sub", out_endpoint, topic)
        # A SUB cannot tell when its subscription is in place: probe until
        # one probe is seen, then the real messages follow.
        got = None
        for n in range(200):
            a.send_text("probe %d" % n)
            try:
                got = self.next_message(peer, timeout=0.05)
                break
            except AssertionError:
                continue
        self.assertIsNotNone(got, "the zmq subscriber saw none of 200 probes")
        self.assertReceives(b, [text("probe %d" % i) for i in range(n + 1)])
        other.send_text("not on our channel")
        a.send_text("hello \u2713")
        a.send_binary(b"\x00\x01\xff")
        seen = []
        while len(seen) < 2:
            m = self.next_message(peer)
            if not bytes.fromhex(m["payload"]).startswith(b"probe "):
                seen.append(m)
        t, bm = seen
        for m in seen:
            self.assertEqual((m["frames"], m["topic"], m["version"], m["flags"], m["reserved"]),
                             (3, topic, 1, 0, 0), m)
        self.assertEqual((t["kind"], bytes.fromhex(t["payload"])),
                         (KIND_TEXT, "hello \u2713".encode()))
        self.assertEqual((bm["kind"], bytes.fromhex(bm["payload"])), (KIND_BINARY, b"\x00\x01\xff"))
        self.assertEqual(t["origin"], bm["origin"], "one connection, one origin")
        self.assertNotEqual(t["origin"] >> 32, 0, "a gateway's origin has an instance id")
        self.assertEqual(bm["seq"], t["seq"] + 1, "sequence numbers count up by one")
        self.assertEqual(got["origin"], t["origin"])

        feeder = self.zmq_peer("pub", in_endpoint, topic, "from zmq \u2713", "second")
        self.assertEqual(feeder.wait_exit(), 0, "zmq_peer pub: %r" % feeder.err)
        self.assertReceives(a, [text("from zmq \u2713"), text("second")])
        self.assertReceives(b, [text("hello \u2713"), binary(b"\x00\x01\xff"),
                                text("from zmq \u2713"), text("second")])
        # The subscriber sees the fed messages too, as origin 0, text.
        fed = []
        while len(fed) < 2:
            fed.append(self.next_message(peer))
        self.assertEqual([(m["kind"], m["origin"], m["seq"], bytes.fromhex(m["payload"]))
                          for m in fed],
                         [(KIND_TEXT, 0, 0, "from zmq \u2713".encode()),
                          (KIND_TEXT, 0, 0, b"second")])
        self.nws.check_alive()

    def test_over_ipc(self):
        ready = self.start_hub()
        self.assertEqual(ready["in"], [self.endpoint("hub-in")])
        self.assertEqual(ready["out"], [self.endpoint("hub-out")])
        self.watch_and_feed(self.endpoint("hub-out"), self.endpoint("hub-in"), "zipc")

    def test_over_tcp_loopback(self):
        ready = self.start_hub("--in", "tcp://127.0.0.1:0", "--out", "tcp://127.0.0.1:*")
        tcp_in, tcp_out = ready["in"][1], ready["out"][1]
        for ep in (tcp_in, tcp_out):
            self.assertRegex(ep, r"^tcp://127\.0\.0\.1:[1-9][0-9]*$")
        state = self.hub_json()
        self.assertEqual(state["endpoints"], {"in": ready["in"], "out": ready["out"]})
        self.watch_and_feed(tcp_out, tcp_in, "ztcp")

    def test_over_tcp_ipv6_loopback(self):
        if not ipv6_loopback():
            self.skipTest("no IPv6 loopback here")
        ready = self.start_hub("--in", "tcp://[::1]:*", "--out", "tcp://[::1]:0")
        tcp_in, tcp_out = ready["in"][1], ready["out"][1]
        for ep in (tcp_in, tcp_out):
            self.assertRegex(ep, r"^tcp://\[::1\]:[1-9][0-9]*$")
        self.watch_and_feed(tcp_out, tcp_in, "ztcp6")

    def test_localhost_is_bound_as_127_0_0_1(self):
        ready = self.start_hub("--out", "tcp://localhost:0")
        self.assertRegex(ready["out"][1], r"^tcp://127\.0\.0\.1:[1-9][0-9]*$")


if __name__ == "__main__":
    main()
