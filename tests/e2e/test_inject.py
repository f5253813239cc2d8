"""End to end: the hub's wire format seen from outside (python3-zmq).

The README's hub wire format, tapping and delivery sections and proto/include/nws_envelope.h: a hub
message is [topic "<scope>/<name>/"][20-byte envelope][payload], or
[topic][payload] from an outside publisher (a text message). A tap (SUB on
hub-out) sees what clients send; an injector (PUB on hub-in) feeds a
channel; control messages never reach clients; a sequence gap closes the
receiving clients with 4002; malformed messages are dropped without harm.
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zmq  # noqa: E402

from nwstest import CLOSE_GAP, Closed, NwsTestCase, binary, main, text  # noqa: E402

KIND_TEXT = 1
KIND_BINARY = 2
FLAG_FROM_PROXY = 0x01
FLAG_CONTROL = 0x02
ORIGIN = (0x7E57AB1E << 32) | 7     # an instance id no gateway will pick


def envelope(kind=KIND_TEXT, flags=0, origin=ORIGIN, seq=0):
    return struct.pack("!BBBBQQ", 1, kind, flags, 0, origin, seq)


class HubWire(NwsTestCase):

    def setUp(self):
        super().setUp()
        self.nws.start_hub()
        self.gw = self.nws.start_gateway()
        self.ctx = zmq.Context()
        self.addCleanup(self.ctx.term)
        self.sockets = []
        self.addCleanup(self.close_sockets)

    def close_sockets(self):
        for s in self.sockets:
            s.close(linger=0)

    def endpoint(self, name):
        return "ipc://%s/%s" % (self.nws.runtime_dir, name)

    def injector(self):
        """An XPUB on hub-in, returned once the hub's subscription to it
        has arrived (a plain PUB would drop what it sends before that)."""
        s = self.ctx.socket(zmq.XPUB)
        self.sockets.append(s)
        s.connect(self.endpoint("hub-in"))
        self.assertTrue(s.poll(5000, zmq.POLLIN), "the hub never subscribed to our publisher")
        sub = s.recv()
        self.assertEqual(sub[:1], b"\x01", "hub's subscription message %r" % sub)
        return s

    def test_outside_two_frame_message_arrives_as_text(self):
        a, b = self.nws.open_clients(self.gw, "/local/inj", 2)
        pub = self.injector()
        pub.send_multipart([b"local/inj/", "hello from zmq \u2713".encode()])
        pub.send_multipart([b"local/injx/", b"not for us"])
        pub.send_multipart([b"broadcast/inj/", b"other scope"])
        pub.send_multipart([b"local/inj/", b"second"])
        for who in (a, b):
            self.assertReceives(who, [text("hello from zmq \u2713"), text("second")])

    def test_three_frame_messages_keep_kind_and_control_is_hidden(self):
        a = self.nws.client(self.gw, "/broadcast/inj3")
        pub = self.injector()
        topic = b"broadcast/inj3/"
        pub.send_multipart([topic, envelope(KIND_BINARY, seq=1), b"\x00\xff\xfe"])
        # Control messages travel outside the data sequence (as a gateway's
        # own do: connection 0 of its instance).
        control_origin = ORIGIN & ~0xFFFFFFFF
        pub.send_multipart([topic, envelope(KIND_TEXT, flags=FLAG_CONTROL, origin=control_origin,
                                            seq=1), b"control"])
        pub.send_multipart([topic, envelope(KIND_TEXT, flags=FLAG_FROM_PROXY, seq=2), b"via proxy"])
        pub.send_multipart([topic, envelope(KIND_TEXT, seq=3), b"end"])
        self.assertReceives(a, [binary(b"\x00\xff\xfe"), text("via proxy"), text("end")])

    def test_malformed_hub_messages_are_dropped_harmlessly(self):
        a = self.nws.client(self.gw, "/local/junk")
        pub = self.injector()
        topic = b"local/junk/"
        bad = [
            [topic],                                                   # 1 frame
            [topic, envelope(seq=1), b"x", b"extra"],                  # 4 frames
            [topic, b"short envelope", b"x"],                          # wrong length
            [topic, b"\x02" + envelope(seq=1)[1:], b"x"],              # version 2
            [topic, envelope(kind=3, seq=1), b"x"],                    # unknown kind
            [topic, envelope(flags=0x80, seq=1), b"x"],                # unknown flag
            [topic, envelope(seq=1)[:3] + b"\x01" + envelope()[4:], b"x"],  # reserved != 0
            [b"local/bad!name/", b"x"],                                # invalid topic
            [b"local/junk", b"x"],                                     # no trailing '/'
        ]
        for frames in bad:
            pub.send_multipart(frames)
        pub.send_multipart([topic, b"good"])
        self.assertReceives(a, [text("good")], what="after malformed hub messages")
        self.nws.check_alive()
        b = self.nws.client(self.gw, "/local/junk")
        b.send_text("still fine")
        self.assertReceives(a, [text("still fine")])

    def test_invalid_utf8_text_from_the_hub_is_never_a_text_frame(self):
        # An outside publisher's [topic][payload] is "text"; so is a
        # 3-frame message of kind 1. Browsers fail the whole connection on
        # a text frame that is not UTF-8 (RFC 6455 section 8.1), so such a
        # payload may be dropped or delivered as binary, never as text.
        a = self.nws.client(self.gw, "/local/bytes")
        pub = self.injector()
        topic = b"local/bytes/"
        pub.send_multipart([topic, b"\xff\xfe two frames"])
        pub.send_multipart([topic, envelope(KIND_TEXT, seq=1), b"\xc3\x28 three frames"])
        pub.send_multipart([topic, b"good"])
        got = []
        while True:
            m = a.recv()
            got.append(m)
            if m == text("good"):
                break
            self.assertEqual(m.kind, "binary", "received %r" % got)

    def test_sequence_gap_closes_receivers_with_4002(self):
        a, b = self.nws.open_clients(self.gw, "/local/gappy", 2)
        other = self.nws.client(self.gw, "/local/calm")
        pub = self.injector()
        topic = b"local/gappy/"
        for seq in (1, 2, 4):                           # 3 is lost
            pub.send_multipart([topic, envelope(KIND_TEXT, seq=seq), b"seq %d" % seq])
        for who in (a, b):
            got = []
            try:
                while True:
                    got.append(who.recv())
            except Closed as e:
                self.assertEqual(e.code, CLOSE_GAP, "close code after %r" % got)
            # What arrives before the close is a prefix of what was sent
            # before the gap (the gateway may drop what it still had queued
            # when it closes), never the message after the gap.
            self.assertEqual(got, [text("seq 1"), text("seq 2")][:len(got)],
                             "before the gap close, only messages from before the gap")
        # Other channels are untouched.
        pub.send_multipart([b"local/calm/", b"calm"])
        self.assertReceives(other, [text("calm")])

    def test_tap_sees_client_messages_with_envelope(self):
        a = self.nws.client(self.gw, "/local/tap")
        sub = self.ctx.socket(zmq.SUB)
        self.sockets.append(sub)
        sub.connect(self.endpoint("hub-out"))
        sub.setsockopt(zmq.SUBSCRIBE, b"local/tap/")
        # A SUB cannot tell when its subscription is in place: send probes
        # until one is seen.
        for n in range(100):
            a.send_text("probe %d" % n)
            if sub.poll(100, zmq.POLLIN):
                break
        else:
            self.fail("the tap saw none of 100 probes")
        a.send_binary(b"\x01\x02")
        a.send_text("tapped")
        # Probes, and the gateway's control messages (marks), which a tap
        # ignores, are skipped.
        seen = []
        while len(seen) < 2:
            self.assertTrue(sub.poll(5000, zmq.POLLIN), "tap: message missing")
            frames = sub.recv_multipart()
            self.assertEqual(frames[0], b"local/tap/")
            self.assertEqual(len(frames), 3, "tap: frames %r" % frames)
            if not frames[1][2] & FLAG_CONTROL and not frames[2].startswith(b"probe "):
                seen.append(frames)
        (t1, e1, p1), (t2, e2, p2) = seen
        self.assertEqual((p1, p2), (b"\x01\x02", b"tapped"))
        v1, k1, f1, r1, o1, s1 = struct.unpack("!BBBBQQ", e1)
        v2, k2, f2, r2, o2, s2 = struct.unpack("!BBBBQQ", e2)
        self.assertEqual((v1, k1, f1, r1), (1, KIND_BINARY, 0, 0))
        self.assertEqual((v2, k2, f2, r2), (1, KIND_TEXT, 0, 0))
        self.assertEqual(o1, o2, "same connection, same origin")
        self.assertNotEqual(o1 >> 32, 0, "a gateway's origin has a non-zero instance id")
        self.assertEqual(s2, s1 + 1, "per-origin sequence numbers count up by one")


if __name__ == "__main__":
    main()
