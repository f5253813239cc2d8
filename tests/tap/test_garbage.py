"""Garbage injected into the hub: every WebSocket client keeps working,
taps see none of it, and hub.json (embedded in the gateways' /status)
counts each drop by reason.

Hub messages with the wrong number of frames, bad topics, other envelope
versions, malformed envelopes, payloads over --max-message and 3-frame
"text" that is not UTF-8 are sent to the hub's ipc and tcp publisher
endpoints, and raw bytes that are not even ZMTP to its tcp endpoints.
"""

import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from taptest import KIND_TEXT, TapTestCase, WAIT, poll_equal, poll_until  # noqa: E402
from nwstest import binary, main, status_json, text  # noqa: E402

MAX_MESSAGE = 1000
ORIGIN = (0x6A5BA6E0 << 32) | 1


def envelope(kind=KIND_TEXT, flags=0, seq=1, version=1, reserved=0, origin=ORIGIN):
    return struct.pack("!BBBBQQ", version, kind, flags, reserved, origin, seq)


T = b"local/g/"

# (reason in hub.json, frames)
GARBAGE = [
    ("frame_count", [T]),
    ("frame_count", [T, envelope(), b"x", b"extra"]),
    ("frame_count", [T, envelope(), b"x", b"y", b"z"]),
    ("topic", [b"local/bad!name/", b"x"]),
    ("topic", [b"local/g", b"x"]),
    ("topic", [b"nowhere/g/", b"x"]),
    ("topic", [b"", b"x"]),
    ("topic", [b"local/g/+", b"x"]),
    ("topic", [b"local/" + b"n" * 256 + b"/", b"x"]),
    ("envelope_version", [T, envelope(version=2), b"x"]),
    ("envelope_version", [T, envelope(version=0), b"x"]),
    ("envelope", [T, b"\x01short", b"x"]),          # version 1, too short
    ("envelope", [T, b"", b"x"]),
    ("envelope", [T, envelope() + b"\x00", b"x"]),
    ("envelope", [T, envelope(kind=3), b"x"]),
    ("envelope", [T, envelope(flags=0x80), b"x"]),
    ("envelope", [T, envelope(reserved=1), b"x"]),
    ("too_big", [T, b"y" * (MAX_MESSAGE + 1)]),
    ("too_big", [T, envelope(), b"z" * (2 * 1024 * 1024)]),
    ("not_utf8", [T, envelope(), b"\xc3\x28 not UTF-8"]),
]
REASONS = ["frame_count", "topic", "envelope_version", "envelope", "too_big", "not_utf8", "other"]


class Garbage(TapTestCase):

    def expected(self, times):
        counts = {r: 0 for r in REASONS}
        for reason, _ in GARBAGE:
            counts[reason] += times
        return counts

    def test_garbage_is_dropped_counted_and_harmless(self):
        ready = self.start_hub("--max-message", str(MAX_MESSAGE),
                               "--in", "tcp://127.0.0.1:*", "--out", "tcp://127.0.0.1:*")
        tcp_in, tcp_out = ready["in"][1], ready["out"][1]
        gw1 = self.nws.start_gateway()
        gw2 = self.nws.start_gateway()
        clients = {
            "/local/g": self.nws.open_clients(gw1, "/local/g", 2) + [self.nws.client(gw2, "/local/g")],
            "/broadcast/g": [self.nws.client(gw1, "/broadcast/g"), self.nws.client(gw2, "/broadcast/g")],
            "/local/other": [self.nws.client(gw2, "/local/other")],
        }
        tap = self.sub("--json")
        # Interest is what gateways mark: broadcast channels with clients.
        poll_equal(lambda: (self.hub_json()["channels"], self.hub_json()["interest"]), (3, 1),
                   WAIT, "hub.json to count 3 channels, 1 with interest")

        # Raw bytes that are not ZMTP, on both tcp endpoints.
        for ep in (tcp_in, tcp_out):
            host, port = ep[len("tcp://"):].rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=WAIT) as s:
                s.sendall(bytes(range(256)) * 8)

        # Every kind of malformed hub message, over ipc and over tcp (one
        # after the other: the hub takes turns between publishers, so only
        # each one's own order is kept).
        for endpoint in (self.endpoint("hub-in"), tcp_in):
            pub = self.injector(endpoint)
            for _, frames in GARBAGE:
                pub.send_multipart(frames)
            # A 2-frame payload that is not UTF-8 is no garbage: it goes on as binary.
            pub.send_multipart([T, b"\xff\xfe"])
            pub.send_multipart([T, "after garbage \u2713".encode()])
            for c in clients["/local/g"]:
                self.assertReceives(c, [binary(b"\xff\xfe"), text("after garbage \u2713")])
        want = self.expected(2)
        poll_equal(lambda: self.hub_json()["dropped_by_reason"], want, WAIT,
                   "hub.json to count the drops by reason")
        state = self.hub_json()
        self.assertEqual(state["dropped"], 2 * len(GARBAGE))
        self.assertEqual(state["external"], 4, "the four 2-frame messages that went on")
        for gw in (gw1, gw2):
            hub = poll_until(lambda: status_json(gw.port).get("hub"), WAIT, "/status to embed hub")
            self.assertEqual(hub["dropped_by_reason"], want)
            self.assertEqual(hub["pid"], self.nws.hub.pid)

        # Taps saw only what was forwarded: binary, then the text, twice.
        got = [json.loads(tap.line()) for _ in range(4)]
        self.assertEqual([(m["channel"], m["kind"], m.get("encoding")) for m in got],
                         [("local/g", "binary", "base64"), ("local/g", "text", None)] * 2)
        self.assertEqual([m["origin"] for m in got], ["0" * 16] * 4)

        # Every client still sends and receives.
        for path, group in clients.items():
            for i, sender in enumerate(group):
                sender.send_text("%s from %d" % (path, i))
                for other in group:
                    if other is not sender:
                        self.assertReceives(other, [text("%s from %d" % (path, i))])
        self.nws.check_alive()

        # hub.json follows channels going away.
        clients["/local/other"][0].close()
        poll_equal(lambda: self.hub_json()["channels"], 2, WAIT,
                   "hub.json to count 2 channels after the last client of one left")


if __name__ == "__main__":
    main()
