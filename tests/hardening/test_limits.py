"""Hardening: each limit of the README's "Limits and close codes" table
enforced, counted in /status and /metrics, and harmless to everyone within
it.

* --max-clients: the next upgrade gets 503 (nws_refused_clients_total);
  once a client leaves, a newcomer gets in again. A flood of bare TCP
  connections far beyond it is cut at accept (nws_refused_full_total)
  while the connected clients keep talking.
* --max-clients by default: the open-files hard limit less 128, after the
  gateway raised its soft limit (run under prlimit --nofile=150:300).
* --max-clients-per-address: 429 beyond it for a non-loopback address
  (nws_refused_address_total), another address unaffected, loopback exempt
  -- from 10.253.0.x inside a private network namespace (`unshare -n`).
* --max-channels: 503 for a new channel beyond it
  (nws_refused_channels_total); an existing channel is still joinable, and
  a freed slot can be used again.
* --ping-secs 1 --idle-secs 2: a client that never answers pings is
  dropped within 2-3 s; a python3-websocket client (which answers them) and
  a raw client that answers with pongs stay.
"""

import http.client
import os
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websocket  # noqa: E402

from hardtest import (OP_PING, OP_PONG, OP_TEXT, OTHER, OTHER2, HardeningCase,  # noqa: E402
                      NwsTestCase, PingAnswerer, RawWs, frame, main, metrics, netns_enter,
                      netns_run, netns_suite, note, poll_until, run_threads, status,
                      text)


def counters(port):
    """{name: value} of /metrics' nws_*_total and /status' counters, which
    must agree."""
    m = metrics(port)
    s = status(port)["counters"]
    for name, value in s.items():
        if "nws_%s_total" % name in m:
            assert m["nws_%s_total" % name] == value, (name, value, m["nws_%s_total" % name])
    return s


class LimitCase(HardeningCase):

    def assertRefused(self, path, code, host="127.0.0.1"):
        why = "ws://%s%s should be refused with %d" % (host, path, code)
        with self.assertRaises(websocket.WebSocketBadStatusException, msg=why) as cm:
            self.nws.client(self.gw, path, host=host)
        self.assertEqual(cm.exception.status_code, code, "ws://%s%s: status" % (host, path))

    def talk(self, a, b, what):
        a.send_text(what)
        self.assertReceives(b, [text(what)], what=what)


class MaxClients(LimitCase):

    GATEWAY_ARGS = ("--max-clients", "4")

    def test_503_beyond_max_clients_and_room_again_after_one_leaves(self):
        before = counters(self.port)
        # The two bystanders count: two more fill the gateway.
        third = self.nws.client(self.gw, "/local/third")
        fourth = self.nws.client(self.gw, "/broadcast/other")
        for path in ("/local/target", "/broadcast/other", "/local/new"):
            with self.attempt(path=path):
                self.assertRefused(path, 503)
                self.assertUndisturbed("503 for %s" % path, newcomer=False)
        third2 = None
        after = counters(self.port)
        self.assertEqual(after["refused_clients"] - before["refused_clients"], 3,
                         "refused_clients (nws_refused_clients_total) counts the 503s")
        # The pages still answer at the limit.
        self.assertEqual(status(self.port)["clients"], 4)
        # One leaves: there is room for one again, and only one.
        fourth.close()
        poll_until(lambda: status(self.port)["clients"] == 3, 5, "the leaver to be gone")
        third2 = self.nws.client(self.gw, "/local/third")
        self.assertRefused("/local/new", 503)
        self.talk(third2, third, "the newcomer talks")
        self.assertUndisturbed("after a leave", newcomer=False)


class FilesLimit(LimitCase):
    """No --max-clients: the cap follows the open-files limit."""

    # A soft limit of 150 would leave room for 22 clients; the gateway
    # raises it to the hard limit, 300, and keeps 128 for itself.
    GATEWAY_WRAP = ("prlimit", "--nofile=150:300")

    def test_default_max_clients_is_the_hard_limit_less_128(self):
        before = counters(self.port)
        clients = self.nws.open_clients(self.gw, "/local/many", 172 - 2)
        self.assertRefused("/local/many", 503)
        self.assertEqual(counters(self.port)["refused_clients"] - before["refused_clients"], 1)
        clients[0].send_text("all %d in" % len(clients))
        for c in clients[1:]:
            self.assertReceives(c, [text("all %d in" % len(clients))])
        self.assertUndisturbed("at the default limit", newcomer=False)


class ConnectionFlood(LimitCase):

    GATEWAY_ARGS = ("--max-clients", "2")

    def test_tcp_flood_is_cut_at_accept_and_counted(self):
        # Bare TCP connections that each ask for a page (kept alive after
        # the answer) until the gateway stops accepting them: those beyond
        # its connection limit are closed at once, unanswered.
        before = counters(self.port)
        kept, cut = [], 0
        request = b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        for _ in range(120):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            try:
                s.sendall(request)
                answer = s.recv(4096)
            except ConnectionResetError:
                answer = b""
            if answer.startswith(b"HTTP/1.1 404"):
                kept.append(s)
            else:
                self.assertEqual(answer, b"", "a connection beyond the limit got an answer")
                cut += 1
                s.close()
        note("connection flood: %d kept (answered), %d cut at accept", len(kept), cut)
        try:
            self.assertGreater(cut, 0, "120 connections and none was cut")
            # Some room is left beyond --max-clients for pages (/status...).
            self.assertGreater(len(kept), 0, "no connection kept at all")
            # The connected clients talk on, through the flood.
            self.by.check(self, "a full gateway", newcomer=False)
            self.nws.check_alive()
        finally:
            for s in kept:
                s.close()
        # Until the gateway has seen them go, it may cut this request too
        # (and count it).
        def drained():
            try:
                return status(self.port)["connections"] <= 3
            except (ConnectionError, http.client.HTTPException):
                refused_polls.append(1)
                return False

        refused_polls = []
        poll_until(drained, 5, "the flood's connections to be gone")
        after = counters(self.port)
        self.assertEqual(after["refused_full"] - before["refused_full"], cut + len(refused_polls),
                         "refused_full (nws_refused_full_total) counts the cut connections")
        self.assertUndisturbed("after the flood", newcomer=False)


class MaxChannels(LimitCase):

    GATEWAY_ARGS = ("--max-channels", "3")

    def test_503_for_a_new_channel_beyond_max_channels(self):
        before = counters(self.port)
        # /local/target (the bystanders) and two more fill it.
        c1 = self.nws.client(self.gw, "/local/c1")
        c2 = self.nws.client(self.gw, "/broadcast/c2")
        for path in ("/local/c3", "/broadcast/c3", "/local/c1x"):
            with self.attempt(path=path):
                self.assertRefused(path, 503)
                self.assertUndisturbed("503 for %s" % path)
        # Existing channels are still joinable.
        c1b = self.nws.client(self.gw, "/local/c1")
        c2b = self.nws.client(self.gw, "/broadcast/c2")
        self.talk(c1, c1b, "c1 still open")
        self.talk(c2b, c2, "c2 still open")
        after = counters(self.port)
        self.assertEqual(after["refused_channels"] - before["refused_channels"], 3,
                         "refused_channels (nws_refused_channels_total) counts the 503s")
        # A channel whose clients all left frees its slot.
        c1.close()
        c1b.close()
        poll_until(lambda: len(status(self.port)["channels"]) == 2, 5,
                   "/local/c1 to be released")
        c3 = self.nws.client(self.gw, "/local/c3")
        c3b = self.nws.client(self.gw, "/local/c3")
        self.talk(c3, c3b, "c3 in the freed slot")
        self.assertRefused("/local/c4", 503)


class Keepalive(NwsTestCase):
    """--ping-secs 1 --idle-secs 2."""

    def setUp(self):
        super().setUp()
        self.nws.start_hub()
        self.gw = self.nws.start_gateway(extra=("--ping-secs", "1", "--idle-secs", "2"))

    def test_silent_clients_are_dropped_and_counted(self):
        # After the handshake, nothing at all; or the first byte of a
        # frame and nothing more: pinged after 1 s, dropped after 2-3 s.
        before = counters(self.gw.port)
        silent = RawWs(self.gw.port, "/local/k")
        half = RawWs(self.gw.port, "/local/k")
        half.send(b"\x81")
        outs = run_threads([lambda: silent.outcome(6, answer_close=False),
                            lambda: half.outcome(6, answer_close=False)], 10)
        for name, raw, out in (("silent", silent, outs[0]), ("half a frame header", half, outs[1])):
            note("%s client: %r", name, out)
            self.assertIn(out.kind, ("drop", "close"), "%s client after 6 s: %r" % (name, out))
            self.assertTrue(1.5 <= out.after <= 3.5,
                            "%s client dropped after %.1fs, not 2-3 s" % (name, out.after))
            raw.close()
        after = counters(self.gw.port)
        self.assertEqual(after.get("closed_idle", 0) - before.get("closed_idle", 0), 2,
                         "closed_idle (nws_closed_idle_total) counts the two dropped clients")

    def test_clients_that_answer_pings_stay(self):
        # Five python3-websocket clients, kept reading (it answers pings
        # inside recv) -- one talks twice a second, four only listen -- and
        # a raw client that answers pings with pongs: all stay for 8 s
        # (four idle periods). And five silent clients are each pinged
        # before they are dropped (a ping they could have answered).
        silent = [RawWs(self.gw.port, "/local/quiet") for _ in range(5)]
        silent_outs = []
        quiet = threading.Thread(target=lambda: silent_outs.extend(
            run_threads([lambda r=r: r.outcome(6, answer_close=False) for r in silent], 10)),
            daemon=True)
        quiet.start()
        a = PingAnswerer(self.nws.client(self.gw, "/local/k"))
        listeners = [PingAnswerer(self.nws.client(self.gw, "/local/k")) for _ in range(4)]
        ponger = RawWs(self.gw.port, "/local/k")
        pongs = []
        stop = threading.Event()

        def answer_pings():
            try:
                while not stop.is_set():
                    try:
                        _, op, payload = ponger.read_frame(time.monotonic() + 0.2)
                    except socket.timeout:
                        continue
                    if op == OP_PING:
                        ponger.send(frame(OP_PONG, payload))
                        pongs.append(time.monotonic())
            except (EOFError, OSError) as e:
                pongs.append(e)

        t = threading.Thread(target=answer_pings, daemon=True)
        t.start()
        self.addCleanup(stop.set)
        deadline = time.monotonic() + 8
        rounds = 0
        while time.monotonic() < deadline:
            rounds += 1
            a.client.send_text("round %d" % rounds)
            for b in listeners:
                b.wait_message("round %d" % rounds)
            threading.Event().wait(0.5)     # pacing: the listeners' silence is the point
        stop.set()
        t.join(2)
        for who in [a] + listeners:
            self.assertIsNone(who.ended, "a python3-websocket client was dropped")
        self.assertFalse(any(isinstance(p, Exception) for p in pongs),
                         "the client answering pings was dropped: %r" % pongs[-1:])
        self.assertGreaterEqual(len(pongs), 2, "the ponging client was pinged %d times"
                                % len(pongs))
        ponger.send(frame(OP_TEXT, b"still here"))
        for who in [a] + listeners:
            who.wait_message("still here")
        ponger.close()
        quiet.join(10)
        for out in silent_outs:
            self.assertIn(out.kind, ("drop", "close"), "silent client after 6 s: %r" % out)
            self.assertGreaterEqual(out.pings, 1, "silent client dropped without a ping first: "
                                    "%r" % out)
        self.assertEqual(counters(self.gw.port).get("closed_idle", 0), len(silent),
                         "only the silent clients were dropped")

    def test_a_client_that_talks_is_not_silent(self):
        # README: "silence | ping after 30 s, drop after 75 s": clients
        # that keep sending messages are not silent, even if they leave
        # the pings unanswered. Two raw clients that talk four times a
        # second, and never answer a ping, stay 5 s (2.5 idle periods).
        one = RawWs(self.gw.port, "/local/talk")
        two = RawWs(self.gw.port, "/local/talk")
        start = time.monotonic()
        n = 0
        heard = {one: [], two: []}
        while time.monotonic() < start + 5:
            n += 1
            for raw in (one, two):
                raw.send(frame(OP_TEXT, ("talk %d" % n).encode()))
            for raw in (one, two):
                out = raw.outcome(0.125, answer_close=False)
                heard[raw] += [payload for _, payload in out.messages]
                self.assertEqual(out.kind, "open", "a client sending a message every 0.25 s "
                                 "was closed after %.1fs: %r" % (time.monotonic() - start, out))
        for raw in (one, two):
            out = raw.outcome(1, answer_close=False)
            heard[raw] += [payload for _, payload in out.messages]
            self.assertEqual(heard[raw], [("talk %d" % i).encode() for i in range(1, n + 1)],
                             "each talker hears the other, whole and in order")
            raw.close()


# --------------------------------------------------------------------------
#  Per address, from other addresses: in a private network namespace

class PerAddress(unittest.TestCase):
    """Runs NetnsPerAddress (below) in this file under `unshare -n`."""

    def test_max_clients_per_address(self):
        netns_run(self, __file__, "NetnsPerAddress")


class NetnsPerAddress(LimitCase):
    """Only inside the namespace made by PerAddress."""

    BIND = "0.0.0.0"
    CHANNEL = "/broadcast/target"
    GATEWAY_ARGS = ("--max-clients-per-address", "3")

    def setUp(self):
        netns_enter(self)
        super().setUp()

    def test_429_beyond_the_limit_for_one_address_only(self):
        before = counters(self.port)
        first = [self.nws.client(self.gw, "/broadcast/many", host=OTHER) for _ in range(3)]
        for path in ("/broadcast/target", "/broadcast/elsewhere"):
            with self.attempt(path=path):
                self.assertRefused(path, 429, host=OTHER)
                self.assertUndisturbed("429 for %s" % path)
        # Another address has its own count; loopback has none.
        others = [self.nws.client(self.gw, "/broadcast/many", host=OTHER2) for _ in range(3)]
        self.assertRefused("/broadcast/many", 429, host=OTHER2)
        local = [self.nws.client(self.gw, "/broadcast/many") for _ in range(5)]
        first[0].send_text("from %s" % OTHER)
        for who in first[1:] + others + local:
            self.assertReceives(who, [text("from %s" % OTHER)])
        after = counters(self.port)
        self.assertEqual(after["refused_address"] - before["refused_address"], 3,
                         "refused_address (nws_refused_address_total) counts the 429s")
        # One from OTHER leaves: room for one more from OTHER.
        first[0].close()
        poll_until(lambda: status(self.port)["clients"] == 2 + 2 + 3 + 5, 5,
                   "the leaver to be gone")
        again = self.nws.client(self.gw, "/broadcast/many", host=OTHER)
        again.send_text("back")
        self.assertReceives(local[0], [text("back")])
        self.assertRefused("/broadcast/many", 429, host=OTHER)


def load_tests(loader, tests, pattern):
    return netns_suite(loader, [MaxClients, FilesLimit, ConnectionFlood, MaxChannels, Keepalive, PerAddress],
                       [NetnsPerAddress])


if __name__ == "__main__":
    main()
