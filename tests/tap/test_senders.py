#!/usr/bin/python3
"""Senders a gateway must keep track of (README, "How delivery works"):
every sender of a channel, however many, and where each one began.

Messages are fed into the hub from outside with python3-zmq, each with an
envelope of its own (origin, sequence number), as another gateway would
send them; a receiver on a real gateway reads them with python3-websocket.

- A gap in any of 40 senders' streams closes the receiver with 4002
  before the message after the gap reaches it (a table of 16 senders, the
  old one, forgot them all when they take turns).
- A sender first heard here at message 3, whose mark says its first
  message went after the receiver had joined: the receiver lost messages 1
  and 2 and is closed with 4002. Had the first gone long before it joined,
  nothing was owed and it stays open.
- End to end: a new client's first message dies in a killed hub; the
  receiver on the other gateway gets it, or a 4002.
"""

import os
import signal
import struct
import sys
import time

import zmq

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from taptest import FLAG_CONTROL, KIND_TEXT, TapTestCase, WAIT  # noqa: E402
from nwstest import CLOSE_GAP, Closed, main, poll_until  # noqa: E402

SENDERS = 40
INSTANCE = 0x7E570000               # the fed senders' made-up process id
MARK_SLACK = 0.25                   # seconds a mark's age is trusted to (README)


def envelope(origin, seq, flags=0):
    return struct.pack("!BBBBQQ", 1, KIND_TEXT, flags, 0, origin, seq)


class Senders(TapTestCase):

    def receiver(self, gw, name):
        """A client of /local/<name>, returned once what is fed into the
        hub on that channel reaches it."""
        topic = ("local/%s/" % name).encode()
        client = self.nws.client(gw, "/local/" + name)
        feed = self.injector()

        def probed():
            feed.send_multipart([topic, envelope(0, 0), b"probe"])
            try:
                return client.recv(timeout=0.1).data == "probe"
            except AssertionError:
                return False
        poll_until(probed, WAIT, "a fed message to reach the receiver")
        return client, feed, topic

    def expect_gap_close(self, client, what):
        try:
            got = client.recv(timeout=WAIT)
        except Closed as e:
            self.assertEqual(e.code, CLOSE_GAP, "%s: closed with %r" % (what, e))
            return
        self.fail("%s: %r reached the client instead of a 4002" % (what, got))

    def test_a_gap_is_seen_among_many_senders(self):
        self.start_hub()
        gw = self.nws.start_gateway()
        client, feed, topic = self.receiver(gw, "crowd")
        origins = [INSTANCE << 32 | (i + 1) for i in range(SENDERS)]
        # Every sender in turn, three times: all arrive, in order.
        for seq in (1, 2, 3):
            for i, origin in enumerate(origins):
                feed.send_multipart([topic, envelope(origin, seq), b"s%d.%d" % (i, seq)])
        for seq in (1, 2, 3):
            for i in range(SENDERS):
                self.assertEqual(client.recv().data, "s%d.%d" % (i, seq))
        # Sender 7's message 4 is lost on the way; its 5 must not get through.
        feed.send_multipart([topic, envelope(origins [7], 5), b"s7.5"])
        self.expect_gap_close(client, "a gap in one of %d senders" % SENDERS)

    def test_a_senders_lost_start_is_seen(self):
        self.start_hub()
        gw = self.nws.start_gateway()
        client, feed, topic = self.receiver(gw, "fresh")
        joined = time.monotonic()
        # The marks' ages are judged against when the client joined, with
        # MARK_SLACK: let that much and more pass (a wait for time itself).
        time.sleep(max(0.0, joined + 2 * MARK_SLACK - time.monotonic()))
        # A sender under way long before the client joined, first heard at
        # 3: nothing was owed, and its next message still arrives.
        old = INSTANCE << 32 | 100
        feed.send_multipart([topic, envelope(old, 3), b"old.3"])
        self.assertEqual(client.recv().data, "old.3")
        feed.send_multipart([topic, envelope(old, 3, FLAG_CONTROL), b"mark 0 100000"])
        feed.send_multipart([topic, envelope(old, 4), b"old.4"])
        self.assertEqual(client.recv().data, "old.4", "a sender under way before the join")
        # A sender whose first message went just now, first heard at 3:
        # messages 1 and 2 were lost, and the client was there for them.
        new = INSTANCE << 32 | 101
        feed.send_multipart([topic, envelope(new, 3), b"new.3"])
        self.assertEqual(client.recv().data, "new.3")
        feed.send_multipart([topic, envelope(new, 3, FLAG_CONTROL), b"mark 0 0"])
        self.expect_gap_close(client, "a sender whose first messages never came")

    def test_a_new_clients_first_message_dies_in_a_killed_hub(self):
        self.nws.start_hub(grace_ms=None)
        a, b = self.nws.start_gateway(), self.nws.start_gateway()
        sender = self.nws.client(a, "/local/first")
        receiver = self.nws.client(b, "/local/first")
        joined = time.monotonic()
        # Both rooms are confirmed (the handshakes waited for it): the hub
        # forwards the channel from A to B.
        sender.send_text("hello")
        self.assertEqual(receiver.recv().data, "hello")
        joiner = self.nws.client(a, "/local/first")
        # The receiver must have been there for the joiner's first message,
        # by more than a mark's slack (a wait for time itself).
        time.sleep(max(0.0, joined + 2 * MARK_SLACK - time.monotonic()))
        old = self.nws.hub
        old.send_signal(signal.SIGSTOP)
        joiner.send_text("one")
        self.assertEqual(sender.recv().data, "one", "local delivery needs no hub")
        old.kill()
        self.nws.start_hub(grace_ms=None)
        joiner.send_text("two")
        got = []
        try:
            while got != ["one", "two"]:
                got.append(receiver.recv(timeout=WAIT).data)
        except Closed as e:
            self.assertEqual(e.code, CLOSE_GAP, "closed with %r after %r" % (e, got))
            return
        self.assertEqual(got, ["one", "two"])


if __name__ == "__main__":
    main()
