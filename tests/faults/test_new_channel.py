"""Fault: joining a new channel while the hub is slow, frozen or lying.

A gateway answers a client's handshake (101) only once the hub forwards
the client's channel to it: a sync, an empty control message that the
gateway publishes on the channel's topic, has come back. Waiting for it
must not make anyone else wait, and only a sync sent for this very
subscription may end the wait.

* test_joins_with_the_hub_frozen_stall_nobody: the hub is stopped
  (SIGSTOP), so no sync can return; clients join NEW new channels one
  after another, each held for up to --sync-ms. Meanwhile a pair on an
  existing local channel trades messages: no round trip may take longer
  than STALL_MAX (a gateway that waited for the sync inside its event
  loop stalled everyone for --sync-ms per new channel).
* test_an_old_sync_does_not_confirm_a_new_subscription: the hub is a
  fake (python3-zmq XSUB/XPUB), which forwards everything but can hold
  the gateway's syncs back. A client joins a channel and leaves (the
  gateway unsubscribes); the fake keeps one of that subscription's
  syncs. When a new client joins the channel, the fake answers the new
  subscription with the old sync and holds the new ones: the new client
  must not be let in until the fake lets a new sync through.
"""

import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zmq  # noqa: E402

from faultlib import note, wait_state  # noqa: E402
from nwstest import NwsTestCase, main, poll_until, text  # noqa: E402

NEW = 8                             # new channels joined with the hub frozen
SYNC_MS = 500                       # the gateway's --sync-ms (its default)
STALL_MAX = 0.2                     # s, longest round trip on the steady pair
FLAG_CONTROL = 0x02


class FrozenHub(NwsTestCase):

    def test_joins_with_the_hub_frozen_stall_nobody(self):
        hub = self.nws.start_hub()
        gw = self.nws.start_gateway(extra=("--sync-ms", str(SYNC_MS)))
        a, b = self.nws.open_clients(gw, "/local/steady", 2)
        self.addCleanup(lambda: hub.alive() and hub.send_signal(signal.SIGCONT))
        hub.send_signal(signal.SIGSTOP)
        wait_state(hub.pid, ("T", "t"), what="hub")

        joined, errors = [], []

        def join():
            try:
                for k in range(NEW):
                    t0 = time.monotonic()
                    joined.append(self.nws.client(gw, "/local/new%d" % k))
                    note("new channel %d joined in %.3fs, hub frozen", k, time.monotonic() - t0)
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append(e)

        joiner = threading.Thread(target=join)
        joiner.start()
        worst, trips = 0.0, 0
        while joiner.is_alive() or trips == 0:
            t0 = time.monotonic()
            a.send_text("trip %d" % trips)
            self.assertReceives(b, [text("trip %d" % trips)])
            worst = max(worst, time.monotonic() - t0)
            trips += 1
        joiner.join()
        note("%d round trips on /local/steady while %d new channels were joined: worst %.3fs",
             trips, NEW, worst)
        self.assertEqual(errors, [], "joins with the hub frozen failed")
        self.assertEqual(len(joined), NEW)
        self.assertLess(worst, STALL_MAX,
                        "a round trip on an existing channel took %.3fs while new channels "
                        "were joined: the gateway stalled" % worst)
        hub.send_signal(signal.SIGCONT)
        self.nws.check_alive()


class FakeHub:
    """XSUB on hub-in and XPUB on hub-out, forwarding both ways, in a
    thread. hold(topic) keeps the gateway's syncs on topic back (and
    collects them) until release(); inject() sends a message to the
    gateway's SUB."""

    def __init__(self, runtime_dir):
        self.ctx = zmq.Context()
        self.xsub = self.ctx.socket(zmq.XSUB)
        self.xpub = self.ctx.socket(zmq.XPUB)
        self.xpub.setsockopt(zmq.XPUB_VERBOSE, 1)
        for s in (self.xsub, self.xpub):
            s.setsockopt(zmq.LINGER, 0)
        self.xsub.bind("ipc://%s/hub-in" % runtime_dir)
        self.xpub.bind("ipc://%s/hub-out" % runtime_dir)
        self.lock = threading.Lock()
        self.held_topic = None
        self.held = []              # syncs held back
        self.syncs = {}             # topic -> syncs forwarded
        self.subs = []              # subscription messages seen
        self.outbox = []            # to send to the gateway's SUB
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @staticmethod
    def is_sync(parts):
        return len(parts) == 3 and len(parts[1]) >= 3 and parts[1][2] & FLAG_CONTROL \
            and parts[2] == b""

    def _run(self):
        poller = zmq.Poller()
        poller.register(self.xsub, zmq.POLLIN)
        poller.register(self.xpub, zmq.POLLIN)
        while not self.stop:
            with self.lock:
                for parts in self.outbox:
                    self.xpub.send_multipart(parts)
                self.outbox = []
            for sock, _ in poller.poll(10):
                if sock is self.xpub:
                    sub = self.xpub.recv()
                    self.xsub.send(sub)
                    with self.lock:
                        self.subs.append(sub)
                    continue
                parts = self.xsub.recv_multipart()
                with self.lock:
                    if self.is_sync(parts) and parts[0] == self.held_topic:
                        self.held.append(parts)
                        continue
                    if self.is_sync(parts):
                        self.syncs.setdefault(parts[0], []).append(parts)
                self.xpub.send_multipart(parts)

    def hold(self, topic):
        with self.lock:
            self.held_topic = topic

    def release(self):
        with self.lock:
            self.held_topic = None
            self.outbox += self.held
            self.held = []

    def inject(self, parts):
        with self.lock:
            self.outbox.append(parts)

    def seen(self, what):
        with self.lock:
            return what in self.subs

    def close(self):
        self.stop = True
        self.thread.join()
        self.xsub.close()
        self.xpub.close()
        self.ctx.term()


class StaleSync(NwsTestCase):

    def test_an_old_sync_does_not_confirm_a_new_subscription(self):
        hub = FakeHub(self.nws.runtime_dir)
        self.addCleanup(hub.close)
        gw = self.nws.start_gateway(extra=("--sync-ms", "5000"))
        topic = b"local/stale/"
        first = self.nws.client(gw, "/local/stale")
        old = hub.syncs.get(topic)
        self.assertTrue(old, "the first join's sync went through the fake hub")
        first.close()
        poll_until(lambda: hub.seen(b"\x00" + topic), 5, "the gateway to unsubscribe")
        hub.subs.clear()
        hub.hold(topic)

        opened, errors = [], []

        def join():
            try:
                opened.append(self.nws.client(gw, "/local/stale"))
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append(e)

        joiner = threading.Thread(target=join)
        joiner.start()
        poll_until(lambda: hub.seen(b"\x01" + topic), 5, "the gateway to subscribe again")
        # The new subscription is in place at the fake: an old sync gets
        # to the gateway now, the new ones wait.
        hub.inject(old[-1])
        joiner.join(1.0)
        self.assertFalse(opened, "the gateway let a client in on an old sync, before the "
                                 "hub had passed one of the new subscription's")
        poll_until(lambda: hub.held, 5, "the gateway's new syncs")
        held = len(hub.held)
        hub.release()
        joiner.join(5.0)
        self.assertEqual(errors, [])
        self.assertTrue(opened, "the client was let in once a new sync came back")
        note("held back %d new sync(s) or more; the client got in after their release", held)
        self.nws.check_alive()


if __name__ == "__main__":
    main()
