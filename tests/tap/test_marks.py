#!/usr/bin/python3
"""Marks: the control messages a gateway publishes for a sender (README,
"Hub wire format") so that receivers notice lost messages even when
nothing follows them. Seen from outside, with python3-zmq:

- after a sender's last message, its marks carry that message's sequence
  number, and they stop: an idle sender costs the hub nothing;
- after a hub restart they come again, so that what the dead hub took
  with it still shows.
"""

import os
import struct
import sys
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from taptest import FLAG_CONTROL, TapTestCase, WAIT  # noqa: E402
from nwstest import main  # noqa: E402

TOPIC = b"local/quiet/"
MARK_SECONDS = 3                    # the README: marks for three seconds


class Marks(TapTestCase):

    def subscriber(self):
        """A SUB on the hub's subscriber endpoint, returned once it is
        known to receive (a probe published from outside came back)."""
        sub = self.ctx.socket(zmq.SUB)
        self.sockets.append(sub)
        sub.connect(self.endpoint("hub-out"))
        sub.setsockopt(zmq.SUBSCRIBE, TOPIC)
        feed = self.injector()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            feed.send_multipart([TOPIC, b"probe"])
            if sub.poll(100, zmq.POLLIN):
                while sub.poll(0, zmq.POLLIN):
                    sub.recv_multipart()
                return sub
        self.fail("the subscriber never received a probe")

    def marks(self, sub, seconds, ages=None):
        """(origin, seq) of the marks received within seconds; each mark's
        ages ("mark <last ms> <first ms>": how long ago the sender's last
        and first messages were sent) are appended to ages, when given."""
        out = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sub.poll(int(left * 1000), zmq.POLLIN):
                return out
            frames = sub.recv_multipart()
            if len(frames) != 3 or len(frames[1]) != 20:
                continue
            _, _, flags, _, origin, seq = struct.unpack("!BBBBQQ", frames[1])
            word, *numbers = frames[2].split(b" ")
            if flags & FLAG_CONTROL and word == b"mark":
                out.append((origin, seq))
                if ages is not None:
                    ages.append(tuple(int(n) for n in numbers))

    def test_marks_follow_the_last_message_then_stop(self):
        self.start_hub()
        gw = self.nws.start_gateway()
        sub = self.subscriber()
        a = self.nws.client(gw, "/local/quiet")
        b = self.nws.client(gw, "/local/quiet")
        for i in range(5):
            a.send_text("m%d" % i)
        for i in range(5):
            self.assertEqual(b.recv().data, "m%d" % i)
        # A mark a second, for MARK_SECONDS, each with the last number.
        # (A sweep may fall between the five messages: a mark of an
        # earlier number may come first.)
        ages = []
        got = [seq for _, seq in self.marks(sub, MARK_SECONDS + 1.5, ages)]
        last = [seq for seq in got if seq == 5]
        self.assertTrue(got and got[-1] == 5 and all(seq <= 5 for seq in got),
                        "marks carry the last sequence number: %r" % got)
        self.assertTrue(MARK_SECONDS - 1 <= len(last) <= MARK_SECONDS + 1,
                        "marks after the last message: %r" % got)
        # Each says how long ago the last and the first messages went:
        # within the marks' time, growing from one mark to the next, the
        # first no later than the last.
        self.assertTrue(all(len(a) == 2 and 0 <= a[0] <= a[1] <= (MARK_SECONDS + 2) * 1000
                            for a in ages), ages)
        self.assertEqual(ages, sorted(ages), "mark ages: %r" % ages)
        # Then nothing, however long the sender stays idle.
        self.assertEqual(self.marks(sub, 2.0), [], "marks from an idle sender")

    def test_marks_come_again_after_a_hub_restart(self):
        self.start_hub()
        gw = self.nws.start_gateway()
        a = self.nws.client(gw, "/local/quiet")
        self.nws.client(gw, "/local/quiet")
        a.send_text("before")
        # Its marks end while the first hub is up.
        sub = self.subscriber()
        deadline = time.monotonic() + MARK_SECONDS + 3
        while self.marks(sub, 1.2) and time.monotonic() < deadline:
            pass
        self.assertEqual(self.marks(sub, 1.2), [], "marks still coming")
        self.nws.hub.kill()
        self.start_hub()
        sub = self.subscriber()
        got = self.marks(sub, MARK_SECONDS + 1.5)
        self.assertTrue(got, "no mark after the hub restart")
        self.assertEqual({seq for _, seq in got}, {1})


if __name__ == "__main__":
    main()
