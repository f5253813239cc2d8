"""End to end: the hub is killed and restarted under running gateways.

Clients stay connected (no close frame) and, once the gateways are back
on the new hub, messages flow again between gateways, complete and in
order. Messages sent while no hub runs may be lost (numbered probes find
the moment traffic flows again); none sent after that may be.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nwstest import CLOSE_GAP, Closed, NwsTestCase, main, note, text  # noqa: E402

COUNT = 100
PROBE_WAIT = 0.2                    # seconds B waits for each probe
PROBES_FOR = 15.0                   # seconds of probing at most


class HubRestart(NwsTestCase):

    def probe_until_through(self, sender, receiver, tag):
        """Sends numbered probes from sender until one reaches receiver.
        Returns the number of probes sent."""
        n = 0
        deadline_probes = int(PROBES_FOR / PROBE_WAIT)
        while n < deadline_probes:
            sender.send_text("probe-%s-%d" % (tag, n))
            n += 1
            try:
                m = receiver.recv(timeout=PROBE_WAIT)
            except Closed:
                raise
            except AssertionError:
                continue                    # nothing yet: the next probe
            self.assertTrue(m.kind == "text" and m.data.startswith("probe-%s-" % tag),
                            "%s: expected a probe, got %r" % (tag, m))
            note("%s: %d probes sent, first through: %s", tag, n, m.data)
            return n
        raise AssertionError("%s: no probe got through within %.0fs of the hub restart"
                             % (tag, PROBES_FOR))

    def assertDataAfterProbes(self, client, tag, what):
        """client receives, after any number of probes tagged tag (in
        increasing order), exactly data-0..data-COUNT-1 of that tag."""
        last_probe = -1
        want = ["data-%s-%d" % (tag, i) for i in range(COUNT)]
        got = []
        while len(got) < COUNT:
            try:
                m = client.recv(timeout=10)
            except AssertionError as e:
                raise AssertionError("%s: after %d of %d messages: %s" % (what, len(got), COUNT, e))
            self.assertEqual(m.kind, "text", "%s: %r" % (what, m))
            if not got and m.data.startswith("probe-%s-" % tag):
                k = int(m.data.rsplit("-", 1)[1])
                self.assertGreater(k, last_probe, "%s: probes out of order" % what)
                last_probe = k
                continue
            got.append(m.data)
            self.assertEqual(m.data, want[len(got) - 1],
                             "%s: message %d of %d" % (what, len(got), COUNT))

    def test_clients_survive_hub_restart(self):
        old_hub = self.nws.start_hub(grace_ms=0)
        gw_a = self.nws.start_gateway()
        gw_b = self.nws.start_gateway()
        path = "/broadcast/restart"
        a1, a2 = self.nws.open_clients(gw_a, path, 2)
        b1, b2 = self.nws.open_clients(gw_b, path, 2)
        everyone = {"a1": a1, "a2": a2, "b1": b1, "b2": b2}

        # Traffic flows before the restart.
        a1.send_text("before")
        for name in ("a2", "b1", "b2"):
            self.assertReceives(everyone[name], [text("before")], what=name)

        old_hub.kill()
        # Same runtime dir, default grace (the gateways' subscriptions come
        # back before publishers are accepted).
        new_hub = self.nws.start_hub(grace_ms=None)
        self.assertNotEqual(new_hub.pid, old_hub.pid)

        # A to B.
        self.probe_until_through(a1, b1, "ab")
        for i in range(COUNT):
            a1.send_text("data-ab-%d" % i)
        for name in ("b1", "b2", "a2"):
            self.assertDataAfterProbes(everyone[name], "ab", name + " (sender a1)")

        # B to A.
        self.probe_until_through(b2, a2, "ba")
        for i in range(COUNT):
            b2.send_text("data-ba-%d" % i)
        for name in ("a2", "a1", "b1"):
            self.assertDataAfterProbes(everyone[name], "ba", name + " (sender b2)")

        # Nobody was closed, and the senders never got their own messages:
        # each client's next message is this fence.
        b1.send_text("fence")
        for name in ("a1", "a2", "b2"):
            self.assertReceives(everyone[name], [text("fence")], what=name + " at the end")
        a2.send_text("fence2")
        self.assertReceives(b1, [text("fence2")], what="b1 at the end")

    def assertPrefixThenGapClose(self, client, sent, what):
        """The delivery promise (README): client receives a prefix of sent, in order,
        and then either the rest or a close with 4002 -- never a message
        after a missing one (a silent gap)."""
        got = []
        while len(got) < len(sent):
            try:
                m = client.recv(timeout=10)
            except Closed as e:
                self.assertEqual(e.code, CLOSE_GAP, "%s: closed after %d of %d messages"
                                 % (what, len(got), len(sent)))
                return "closed 4002 after %d" % len(got)
            except AssertionError as e:
                raise AssertionError("%s: silent loss: %d of %d messages arrived, then "
                                     "nothing and no close frame (%s)"
                                     % (what, len(got), len(sent), e))
            self.assertEqual(m, sent[len(got)], "%s: message %d of %d (a silent gap if it is a "
                             "later one)" % (what, len(got) + 1, len(sent)))
            got.append(m)
        return "all %d" % len(got)

    def test_messages_sent_while_the_hub_is_down_are_delivered_or_reported(self):
        old_hub = self.nws.start_hub(grace_ms=0)
        gw_a = self.nws.start_gateway()
        gw_b = self.nws.start_gateway()
        path = "/local/outage"
        sender, a2 = self.nws.open_clients(gw_a, path, 2)
        b1, b2 = self.nws.open_clients(gw_b, path, 2)
        sender.send_text("before")
        for who in (a2, b1, b2):
            self.assertReceives(who, [text("before")])
        old_hub.kill()
        sent = [text("down-%d" % i) for i in range(10)]
        for m in sent:
            sender.send(m)
        self.nws.start_hub(grace_ms=None)
        up = [text("up-%d" % i) for i in range(COUNT)]
        for m in up:
            sender.send(m)
        for name, who in (("a2", a2), ("b1", b1), ("b2", b2)):
            note("%s: %s", name, self.assertPrefixThenGapClose(who, sent + up, name))


if __name__ == "__main__":
    main()
