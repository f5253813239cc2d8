"""End to end: message size limit (1009) and slow-client eviction (4001).

A message of exactly --max-message bytes (default 1 MiB) passes whole; one
byte more closes the sender with 1009 while the others stay connected and
see nothing of it. A client that does not read while others flood it is
closed with 4001 once its send queue overflows -- after an unbroken prefix
of the messages, never with a silent gap -- and /status counts it.
"""

import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nwstest import (CLOSE_SLOW, CLOSE_TOO_BIG, Closed, NwsTestCase, binary,  # noqa: E402
                     main, note, poll_until, status_json, text)

MIB = 1024 * 1024


def flat_counters(status):
    """The /status counters as one flat {dotted.name: number} dict."""
    out = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(prefix + k + ".", v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[prefix[:-1]] = value

    walk("", status.get("counters", {}))
    return out


def slow_counter_names(counters):
    """Counters that plausibly count clients closed for a full send queue."""
    names = [k for k in counters if "slow" in k.lower()]
    if not names:
        names = [k for k in counters
                 if any(w in k.lower() for w in ("overflow", "4001", "queue_full", "evict"))]
    return names


class MessageSize(NwsTestCase):

    def setUp(self):
        super().setUp()
        self.nws.start_hub()

    def test_one_mib_arrives_whole(self):
        gw = self.nws.start_gateway()
        a, b, c = self.nws.open_clients(gw, "/local/big", 3)
        blob = binary(os.urandom(MIB))
        big_text = text(("0123456789abcdef" * (MIB // 16)))
        a.send(blob)
        a.send(big_text)
        a.send_text("after")
        for who in (b, c):
            self.assertReceives(who, [blob, big_text, text("after")], timeout=15)

    def send_oversized(self, client, size):
        # The gateway may close while the frame is still being written.
        try:
            client.send_binary(b"\x01" * size)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    def test_one_byte_over_closes_only_the_sender(self):
        gw = self.nws.start_gateway()
        a, b, c = self.nws.open_clients(gw, "/local/big", 3)
        a.send_text("before")
        self.send_oversized(a, MIB + 1)
        self.assertClosedWith(a, CLOSE_TOO_BIG, timeout=10, limit=10)
        # The others got "before" and nothing of the oversized message, and
        # still talk to each other and to newcomers.
        for who in (b, c):
            self.assertReceives(who, [text("before")])
        b.send_text("still here")
        self.assertReceives(c, [text("still here")])
        c.send_binary(b"\x00\xff")
        self.assertReceives(b, [binary(b"\x00\xff")])
        d = self.nws.client(gw, "/local/big")
        d.send_text("newcomer")
        for who in (b, c):
            self.assertReceives(who, [text("newcomer")])

    def test_max_message_option(self):
        gw = self.nws.start_gateway(max_message=1000)
        a, b = self.nws.open_clients(gw, "/broadcast/small", 2)
        a.send_binary(b"x" * 1000)
        a.send_text("y" * 1000)
        self.assertReceives(b, [binary(b"x" * 1000), text("y" * 1000)])
        b.send_text("z" * 1001)
        self.assertClosedWith(b, CLOSE_TOO_BIG, limit=10)
        c = self.nws.client(gw, "/broadcast/small")
        c.send_text("hi")
        self.assertReceives(a, [text("hi")])


class SlowClient(NwsTestCase):

    FLOOD = 2000                    # messages
    SIZE = 16 * 1024                # bytes each: 32 MiB in all, far beyond socket buffers

    def test_client_that_does_not_read_is_closed_with_4001(self):
        self.nws.start_hub()
        fast = self.nws.start_gateway()                 # sender and reader
        tight = self.nws.start_gateway(send_queue=64)   # the client that does not read
        path = "/local/flood"
        # A small receive buffer so the kernel does not soak up the flood.
        slow = self.nws.client(tight, path,
                               sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])
        reader = self.nws.client(fast, path)
        sender = self.nws.client(fast, path)
        before = flat_counters(status_json(tight.port))

        def payload(i):
            return struct.pack("!I", i) + bytes([i & 0xFF]) * (self.SIZE - 4)

        got = []

        def read_all():
            for _ in range(self.FLOOD):
                m = reader.recv(timeout=15)
                got.append(struct.unpack("!I", m.data[:4])[0] if m.kind == "binary" else m)

        t = threading.Thread(target=read_all, daemon=True)
        t.start()
        for i in range(self.FLOOD):
            sender.send_binary(payload(i))
        t.join(60)
        self.assertFalse(t.is_alive(), "reader still reading after 60s (%d of %d)"
                         % (len(got), self.FLOOD))
        self.assertEqual(got, list(range(self.FLOOD)),
                         "the reading client must get the whole flood in order")

        # Now read what the slow client was sent: an unbroken prefix of the
        # flood, then a close frame with 4001.
        prefix = 0
        while True:
            try:
                m = slow.recv(timeout=15)
            except Closed as e:
                self.assertEqual(e.code, CLOSE_SLOW,
                                 "slow client: close code after %d messages (%s)" % (prefix, e))
                break
            self.assertEqual(m.kind, "binary")
            self.assertEqual(m.data, payload(prefix),
                             "slow client: message %d is not flood message %d (a gap)"
                             % (prefix, prefix))
            prefix += 1
            self.assertLess(prefix, self.FLOOD, "slow client got the whole flood and was "
                            "never closed: the flood did not overflow --send-queue 64")

        # The gateway counts it, and the connection is gone.
        def counted():
            s = status_json(tight.port)
            after = flat_counters(s)
            names = slow_counter_names(after)
            grew = [n for n in names if after[n] >= before.get(n, 0) + 1]
            return (grew, s["clients"]) if grew and s["clients"] == 0 else None

        note("slow client got %d of %d messages, then 4001", prefix, self.FLOOD)
        try:
            note("counted by %r", poll_until(counted, 5, "a slow-client counter in /status to count 1 and clients to be 0"))
        except AssertionError as e:
            raise AssertionError("%s; counters now: %r" % (e, flat_counters(status_json(tight.port))))
        # The others are unaffected.
        sender.send_text("done")
        self.assertReceives(reader, [text("done")])


if __name__ == "__main__":
    main()
