"""Hardening: slow, truncated, oversized and malformed HTTP handshakes
(RFC 6455 section 4, RFC 7230), sent byte for byte on bare sockets.

* slowloris: connections that send half a request, or nothing, or one
  byte every half second, are dropped after the handshake timeout (10 s,
  README "Limits and close codes") -- all at once, while the bystanders
  keep talking and newcomers get in;
* oversized headers (a 64 KiB line, 1000 headers, a 64 KiB URL) are
  refused at once with a 4xx or the end of the connection, never a crash;
* garbage and odd methods get a 4xx at once, never a 101;
* the RFC 6455 section 4.2.1 rules (HTTP/1.1, Host, a 16-byte key,
  version 13 -- else 426 with Sec-WebSocket-Version: 13) in strict tests
  (libwebsockets 4.1 lets several through: see the report of issue 7);
* what must pass does: a request one byte per write, Firefox's
  `Connection: keep-alive, Upgrade`, and a browser's request with 6 KiB of
  cookies for localhost.

After every attack the gateway runs and the two bystanders on the channel
still talk both ways.
"""

import os
import selectors
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hardtest import (UPGRADE_LINES, HardeningCase, header_value, main, metrics,  # noqa: E402
                      note, poll_until, raw_http, rss_kib, status, upgrade_request)

HANDSHAKE_SECS = 10                 # README: handshake 10 s, the connection is dropped
SLACK = 3.0                         # seconds beyond it we allow


class SlowClients(HardeningCase):

    def open_slow(self, kind):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if kind == "half request":
            s.sendall(b"GET /local/target HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        elif kind == "headers without the blank line":
            s.sendall(upgrade_request("/local/target", self.port)[:-2])
        elif kind == "half a request line":
            s.sendall(b"GET /loc")
        elif kind == "nothing":
            pass
        return s

    def test_slowloris_is_dropped_after_the_handshake_timeout(self):
        kinds = ["half request", "headers without the blank line", "half a request line",
                 "nothing"]
        slow = []                   # (kind, socket, opened at)
        for kind in kinds:
            for _ in range(10):
                slow.append((kind, self.open_slow(kind), time.monotonic()))
        # Trickles: one more header byte every half second, never done.
        stop = threading.Event()
        trickles = []
        for _ in range(5):
            s = self.open_slow("half request")
            trickles.append(s)
            slow.append(("one byte every 0.5 s", s, time.monotonic()))

        def trickle(sock):
            try:
                sock.sendall(b"X-Slow: ")
                while not stop.wait(0.5):
                    sock.sendall(b"a")
            except OSError:
                pass

        threads = [threading.Thread(target=trickle, args=(s,), daemon=True) for s in trickles]
        for t in threads:
            t.start()
        self.addCleanup(stop.set)

        sel = selectors.DefaultSelector()
        for i, (_, s, _) in enumerate(slow):
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, i)
        ended = {}                  # index -> (seconds after opening, bytes received)
        got = {i: b"" for i in range(len(slow))}
        deadline = time.monotonic() + HANDSHAKE_SECS + SLACK
        served = 0
        next_check = 0.0
        while len(ended) < len(slow) and time.monotonic() < deadline:
            # Meanwhile the others are served, about four times a second.
            if time.monotonic() >= next_check:
                self.assertUndisturbed("%d slow connections open" % (len(slow) - len(ended)))
                self.assertEqual(status(self.port)["clients"], 2)
                served += 1
                next_check = time.monotonic() + 0.25
            for key, _ in sel.select(timeout=0.05):
                i = key.data
                kind, s, opened = slow[i]
                try:
                    data = s.recv(65536)
                except (ConnectionResetError, BlockingIOError) as e:
                    data = b"" if isinstance(e, ConnectionResetError) else None
                if data is None:
                    continue
                if data:
                    got[i] += data
                    continue
                ended[i] = time.monotonic() - opened
                sel.unregister(s)
        stop.set()
        for _, s, _ in slow:
            s.close()
        open_still = sorted({slow[i][0] for i in range(len(slow)) if i not in ended})
        self.assertEqual(open_still, [], "slow connections still open %.0fs after they opened"
                         % (HANDSHAKE_SECS + SLACK))
        by_kind = {}
        for i, after in ended.items():
            by_kind.setdefault(slow[i][0], []).append(after)
        for kind, times in sorted(by_kind.items()):
            note("%s: dropped after %.2f-%.2fs", kind, min(times), max(times))
            self.assertGreaterEqual(min(times), HANDSHAKE_SECS - 1.0,
                                    "%s: dropped before the handshake timeout" % kind)
        answered = {slow[i][0]: got[i][:60] for i in got if got[i]}
        self.assertEqual(answered, {}, "slow connections got an answer instead of being dropped")
        self.assertGreater(served, 10, "the bystanders were served only %d times meanwhile"
                           % served)
        poll_until(lambda: status(self.port)["connections"] <= 3, 5,
                   "/status connections back to the bystanders (and this request)")

    def test_handshake_timeouts_are_counted(self):
        # README: "Every refusal and close is counted in /status and
        # /metrics by reason."
        before = metrics(self.port)
        socks = [self.open_slow("half request"), self.open_slow("nothing")]
        for s in socks:
            s.settimeout(HANDSHAKE_SECS + SLACK)
            try:
                self.assertEqual(s.recv(100), b"")
            except ConnectionResetError:
                pass
            s.close()
        after = metrics(self.port)
        grew = {k: after[k] - before.get(k, 0) for k in after
                if any(w in k for w in ("handshake", "timeout", "timed_out"))
                and after[k] > before.get(k, 0)}
        self.assertIn(2, grew.values(), "no counter in /metrics named for handshake timeouts "
                      "went up by 2 after two timeouts (went up: %r); counters: %s"
                      % (grew, sorted(k for k in after if k.endswith("_total"))))


# name -> request bytes (built for a port in the test)
def oversized(port):
    return {
        "a 64 KiB header line": upgrade_request("/local/target", port,
                                                extra=["X-Big: " + "a" * 65536]),
        "1000 headers": upgrade_request("/local/target", port,
                                        extra=["X-H%d: v" % i for i in range(1000)]),
        "a 10 KiB header name": upgrade_request("/local/target", port, extra=["X" * 10240 + ": v"]),
        "ten 8 KiB header values": upgrade_request(
            "/local/target", port, extra=["X-%d: %s" % (i, "v" * 8192) for i in range(10)]),
        "a 64 KiB URL": upgrade_request("/local/target?" + "q" * 65536, port),
        "a 1 MiB header line": upgrade_request("/local/target", port,
                                               extra=["X-Huge: " + "h" * (1 << 20)]),
    }


def malformed_header_lines(port):
    return {
        "a header with no colon": upgrade_request("/local/target", port, extra=["NoColonHere"]),
        "a NUL inside a header": upgrade_request("/local/target", port, extra=["X-A: a\x00b"]),
    }


def garbage(port):
    return {
        "a TLS ClientHello": bytes.fromhex("16030100a5010000a10303") + bytes(range(256)) * 2,
        "4 KiB of NUL bytes": b"\x00" * 4096,
        "1000 empty lines": b"\r\n" * 1000,
        "binary noise": bytes((i * 7919 + 13) % 256 for i in range(4096)),
        "a request line with no spaces": b"GET/local/target\r\n\r\n",
        "Upgrade: foo": upgrade_request("/local/target", port,
                                        lines=["Connection: Upgrade", "Upgrade: foo"]
                                        + UPGRADE_LINES[2:]),
    }


class BadRequests(HardeningCase):

    def assertRefusedAtOnce(self, what, request, byte_by_byte=False):
        """No 101; a 4xx or the end of the connection within 3 s."""
        st, head, data, took, ended = raw_http(self.port, request, timeout=3,
                                               byte_by_byte=byte_by_byte)
        self.assertNotEqual(st, 101, "%s: upgraded" % what)
        if st is None:
            self.assertIn(ended, ("eof", "reset", "send-failed"),
                          "%s: neither answered nor closed within 3 s (%s, got %r)"
                          % (what, ended, data[:80]))
        else:
            self.assertTrue(400 <= st < 500, "%s: status %s (%r)" % (what, st, head[:80]))
        note("%s: %s", what, st if st else "connection ended, no answer (%s)" % ended)
        return st

    def test_oversized_headers_are_refused_at_once(self):
        before = rss_kib(self.gw.pid)
        for what, request in oversized(self.port).items():
            with self.attempt(attack=what):
                self.assertRefusedAtOnce(what, request)
                self.assertUndisturbed(what)
        grown = rss_kib(self.gw.pid) - before
        self.assertLess(grown, 8 * 1024, "gateway RSS grew by %d KiB" % grown)

    def test_garbage_is_refused_at_once(self):
        for what, request in garbage(self.port).items():
            with self.attempt(attack=what):
                self.assertRefusedAtOnce(what, request)
                self.assertUndisturbed(what)

    def test_malformed_header_lines_are_refused_at_once(self):
        # RFC 7230 3.2: a header line without a colon, or with a NUL, is
        # a bad request (400) -- not one to wait on until the handshake
        # timeout.
        for what, request in malformed_header_lines(self.port).items():
            with self.attempt(attack=what):
                self.assertRefusedAtOnce(what, request)
                self.assertUndisturbed(what)

    def test_other_methods_are_refused_at_once(self):
        # README: a channel URL with another method is 405; an unknown
        # one must at least get a 4xx at once.
        for method in ("FOO", "TRACE", "PATCH", "OPTIONS", "HEAD", "DELETE", "POST", "PUT"):
            for upgrade in (False, True):
                what = "%s /local/target%s" % (method, " with upgrade headers" if upgrade else "")
                with self.attempt(attack=what):
                    request = upgrade_request("/local/target", self.port, method=method,
                                              lines=None if upgrade else [])
                    self.assertRefusedAtOnce(what, request)
                    self.assertUndisturbed(what)

    def test_strict_other_methods_get_405(self):
        # README ("URLs"): "a channel URL with another method | 405".
        # Unknown methods (FOO, and "get": methods are case-sensitive, RFC
        # 7230 3.1.1) may get 501 Not Implemented instead (RFC 7231 6.6.2).
        for method in ("FOO", "get", "TRACE", "CONNECT", "PATCH", "OPTIONS", "HEAD"):
            for upgrade in (False, True):
                what = "%s /local/target%s" % (method, " with upgrade headers" if upgrade else "")
                with self.attempt(attack=what):
                    request = upgrade_request("/local/target", self.port, method=method,
                                              lines=None if upgrade else [])
                    st, head, data, took, ended = raw_http(self.port, request, timeout=3)
                    allowed = (405, 501) if method in ("FOO", "get") else (405,)
                    self.assertIn(st, allowed, "%s: %s after %.1fs (%s) %r"
                                  % (what, st, took, ended, head[:60]))
                    self.assertUndisturbed(what)

    def test_strict_rfc6455_handshake_rules(self):
        # RFC 6455 4.2.1: a handshake that is not "an HTTP/1.1 or higher
        # GET request" with Host, Upgrade, Connection, a Sec-WebSocket-Key
        # of 16 bytes (base64) and Sec-WebSocket-Version 13 gets an HTTP
        # error (such as 400) -- not a dropped connection, not a 101. For
        # another version, 4.4: an error (such as 426) with a
        # Sec-WebSocket-Version header naming 13.
        lines = UPGRADE_LINES
        cases = {
            "HTTP/1.0": (upgrade_request("/local/target", self.port, version="HTTP/1.0"), False),
            "no Sec-WebSocket-Key": (upgrade_request("/local/target", self.port,
                                                     lines=lines[:2] + lines[3:]), False),
            "an empty Sec-WebSocket-Key": (upgrade_request(
                "/local/target", self.port,
                lines=lines[:2] + ["Sec-WebSocket-Key: "] + lines[3:]), False),
            "a Sec-WebSocket-Key of 5 bytes": (upgrade_request(
                "/local/target", self.port,
                lines=lines[:2] + ["Sec-WebSocket-Key: c2hvcnQ="] + lines[3:]), False),
            "no Host": (upgrade_request("/local/target", self.port, host=False), False),
            "no Connection header": (upgrade_request("/local/target", self.port,
                                                     lines=lines[1:]), False),
            "Sec-WebSocket-Version: 8": (upgrade_request(
                "/local/target", self.port, lines=lines[:3] + ["Sec-WebSocket-Version: 8"]),
                True),
            "Sec-WebSocket-Version: 99": (upgrade_request(
                "/local/target", self.port, lines=lines[:3] + ["Sec-WebSocket-Version: 99"]),
                True),
            "no Sec-WebSocket-Version": (upgrade_request("/local/target", self.port,
                                                         lines=lines[:3]), True),
        }
        for what, (request, version) in cases.items():
            with self.attempt(attack=what):
                st, head, data, took, ended = raw_http(self.port, request, timeout=3)
                self.assertTrue(st is not None and 400 <= st < 500,
                                "%s: expected an HTTP error (4xx), got %s (%s after %.1fs) %r"
                                % (what, st, ended, took, head[:60]))
                if version:
                    self.assertIn("13", header_value(head, "Sec-WebSocket-Version") or "",
                                  "%s: %s without Sec-WebSocket-Version: 13" % (what, st))
                self.assertUndisturbed(what)

    def test_handshake_oddities_never_disturb_others(self):
        # The cases of the strict test above, for what they must never do
        # whatever the gateway answers: hang, crash, or disturb anyone.
        # When one is upgraded anyway, the connection is an ordinary client.
        lines = UPGRADE_LINES
        cases = {
            "HTTP/1.0": upgrade_request("/local/target", self.port, version="HTTP/1.0"),
            "no Sec-WebSocket-Key": upgrade_request("/local/target", self.port,
                                                    lines=lines[:2] + lines[3:]),
            "no Host": upgrade_request("/local/target", self.port, host=False),
            "Sec-WebSocket-Version: 8": upgrade_request(
                "/local/target", self.port, lines=lines[:3] + ["Sec-WebSocket-Version: 8"]),
            "no Sec-WebSocket-Version": upgrade_request("/local/target", self.port,
                                                        lines=lines[:3]),
        }
        for what, request in cases.items():
            with self.attempt(attack=what):
                st, head, data, took, ended = raw_http(self.port, request, timeout=3)
                note("%s: %s (%s)", what, st, ended)
                self.assertTrue(st == 101 or ended in ("eof", "reset")
                                or (st is not None and 400 <= st < 500),
                                "%s: %s, %s after %.1fs" % (what, st, ended, took))
                self.assertUndisturbed(what)


class GoodRequests(HardeningCase):

    def test_a_request_one_byte_per_write_upgrades(self):
        st, head, *_ = raw_http(self.port, upgrade_request("/local/target", self.port),
                                byte_by_byte=True)
        self.assertEqual(st, 101, head)
        self.assertUndisturbed("upgrade one byte per write")

    def test_browser_variants_upgrade(self):
        for what, lines in (
                ("Connection: keep-alive, Upgrade (Firefox)",
                 ["Connection: keep-alive, Upgrade"] + UPGRADE_LINES[1:]),
                ("Upgrade: WebSocket", [UPGRADE_LINES[0], "Upgrade: WebSocket"]
                 + UPGRADE_LINES[2:]),
                ("lower-case header names", [x.lower() if ":" not in x else
                                             x.split(":")[0].lower() + ":" + x.split(":", 1)[1]
                                             for x in UPGRADE_LINES])):
            with self.attempt(case=what):
                st, head, *_ = raw_http(self.port, upgrade_request("/local/target", self.port,
                                                                   lines=lines))
                self.assertEqual(st, 101, "%s: %r" % (what, head[:80]))

    def test_browser_request_with_6_kib_of_cookies_upgrades(self):
        # A browser sends every cookie of localhost with the upgrade (dev
        # servers on other ports of localhost set them), plus User-Agent,
        # Origin, Accept-Language... 6 KiB of headers is ordinary (nginx
        # takes 8 KiB per line, 32 KiB in all, by default).
        extra = [
            "Origin: http://localhost:3000",
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36",
            "Accept-Language: en-GB,en;q=0.9,fr;q=0.8",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            "Cookie: " + "; ".join("c%02d=%s" % (i, "v" * 120) for i in range(48)),
        ]
        request = upgrade_request("/local/target", self.port, extra=extra)
        self.assertGreater(len(request), 6000)
        st, head, data, took, ended = raw_http(self.port, request)
        self.assertEqual(st, 101, "a %d-byte browser handshake: %s (%s) %r"
                         % (len(request), st, ended, head[:80]))


if __name__ == "__main__":
    main()
