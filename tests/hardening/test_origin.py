"""Hardening: web origins (`nws-gateway --allow-origin [CHANNELS=]ORIGINS`).

README ("Security", "Web pages and origins"): a request with an `Origin`
header joins a channel only if some rule covering that channel matches
its origin; a channel no rule covers is open, and with no rule at all
every origin is. A request without `Origin` (a program) is judged as
before. A refusal is a 403 before the upgrade, counted as
`refused_origin` and logged with the origin and the channel; a bad rule
stops the gateway at start with exit status 2, naming the rule.

Crafted upgrade requests (raw sockets) cover every rule form, overlapping
rules, no header, an empty one, two, odd case and spacing, malformed and
overlong values; bystanders on a guarded channel must never notice the
refused. /status lists the origins of each channel's clients, bounded.
"""

import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hardtest import (OP_TEXT, UPGRADE_LINES, HardeningCase, NwsTestCase, RawWs,  # noqa: E402
                      frame, log_text, main, metrics, nwstest, poll_until, raw_http, status,
                      text, upgrade_request)

# The issue's own case: the "done when".
DONE_WHEN = "local/home.*=https://app.example"

# Every rule form, and rules whose channels overlap.
RULES = [
    "local/exact=https://app.example",
    "local/wild.host=https://*.example.com",
    "local/wild.port=http://localhost:*",
    "local/file=null",
    "local/home.*=https://app.example",
    "local/home.lights=https://lights.example, null",
    "*/shared?=https://a.example,https://b.example",
    "broadcast/*=http://localhost:*",
    "local/open.*=*",
]

# (path, Origin header lines, status): None is no header at all.
CASES = [
    # exact
    ("/local/exact", ["Origin: https://app.example"], 101),
    ("/local/exact", ["Origin: https://app.example:443"], 101),
    ("/local/exact", ["Origin: http://app.example"], 403),
    ("/local/exact", ["Origin: https://app.example:8443"], 403),
    ("/local/exact", ["Origin: https://evilapp.example"], 403),
    ("/local/exact", ["Origin: https://app.example.evil"], 403),
    # wildcard host
    ("/local/wild.host", ["Origin: https://a.example.com"], 101),
    ("/local/wild.host", ["Origin: https://a.b.example.com"], 101),
    ("/local/wild.host", ["Origin: https://example.com"], 403),
    ("/local/wild.host", ["Origin: https://evilexample.com"], 403),
    ("/local/wild.host", ["Origin: http://a.example.com"], 403),
    # wildcard port
    ("/local/wild.port", ["Origin: http://localhost:3000"], 101),
    ("/local/wild.port", ["Origin: http://localhost"], 101),
    ("/local/wild.port", ["Origin: https://localhost:3000"], 403),
    ("/local/wild.port", ["Origin: http://localhost.evil:3000"], 403),
    # null (file:// pages, sandboxed frames)
    ("/local/file", ["Origin: null"], 101),
    ("/local/file", ["Origin: https://app.example"], 403),
    # overlapping rules: any rule covering the channel may let in
    ("/local/home.lights", ["Origin: https://app.example"], 101),
    ("/local/home.lights", ["Origin: https://lights.example"], 101),
    ("/local/home.lights", ["Origin: null"], 101),
    ("/local/home.lights", ["Origin: https://evil.example"], 403),
    ("/local/home.door", ["Origin: https://lights.example"], 403),
    ("/local/home.door", ["Origin: null"], 403),
    ("/local/shared1", ["Origin: https://b.example"], 101),
    ("/broadcast/shared1", ["Origin: https://a.example"], 101),
    ("/broadcast/shared1", ["Origin: http://localhost:8000"], 101),
    ("/local/shared1", ["Origin: http://localhost:8000"], 403),
    ("/broadcast/news", ["Origin: https://b.example"], 403),
    # "*" lets any origin in, a malformed one too
    ("/local/open.x", ["Origin: https://evil.example"], 101),
    ("/local/open.x", ["Origin: not an origin"], 101),
    # a channel no rule covers is open
    ("/local/chat", ["Origin: https://evil.example"], 101),
    ("/local/shared12", ["Origin: https://evil.example"], 101),
    # a peer proxy's link is a program too (a page cannot send its header)
    ("/broadcast/news", ["Origin: https://b.example", "X-BroadcastWebSocket-Proxy: true"], 101),
    ("/local/exact", ["Origin: https://b.example", "X-BroadcastWebSocket-Proxy: true"], 403),
    # no header: a program, judged as before
    ("/local/exact", None, 101),
    ("/broadcast/news", None, 101),
    # an empty header, two headers, malformed and overlong values
    ("/local/exact", ["Origin:"], 403),
    ("/local/exact", ["Origin:    "], 403),
    ("/local/exact", ["Origin: https://app.example", "Origin: https://app.example"], 403),
    ("/local/exact", ["Origin: https://app.example", "Origin: https://evil.example"], 403),
    ("/local/exact", ["Origin: https://app.example/"], 403),
    ("/local/exact", ["Origin: https://app.example, https://app.example"], 403),
    ("/local/exact", ["Origin: https://user@app.example"], 403),
    ("/local/exact", ["Origin: https://app.example" + "a" * 400], 403),
    ("/local/exact", [b"Origin: https://app.ex\xc3\xa4mple".decode("latin-1")], 403),
    # odd case and spacing
    ("/local/exact", ["Origin: HTTPS://App.EXAMPLE"], 101),
    ("/local/exact", ["origin: https://app.example"], 101),
    ("/local/exact", ["ORIGIN:https://app.example"], 101),
    ("/local/exact", ["Origin:    https://app.example   "], 101),
    ("/local/exact", ["Origin: \thttps://app.example\t"], 101),
    ("/local/exact", ["Origin: https:// app.example"], 403),
    ("/local/file", ["Origin: NULL"], 101),
]

BAD_RULES = [
    "app.example",                          # no scheme
    "https://app.example/",                 # a path
    "https://app.example:0",
    "https://app*.example",                 # a wildcard inside a name
    "home.*=https://app.example",           # CHANNELS without a scope
    "lokal/x=https://app.example",
    "local/a b=https://app.example",
    "local/x=",
    "local/x=https://app.example,",
    "=https://app.example",
    "local/x=https://a.example=b",
]


def _upgrade(port, path, origin_lines):
    """The status of an upgrade request for path with origin_lines."""
    got, head, _, _, ended = raw_http(port, upgrade_request(path, port,
                                                            extra=origin_lines or ()))
    return got, head, ended


class DoneWhen(NwsTestCase):
    """The issue's "done when", literally."""

    def test_evil_page_cannot_join_home_lights_but_can_join_chat(self):
        self.nws.start_hub()
        gw = self.nws.start_gateway(extra=("--allow-origin", DONE_WHEN))
        evil = ["Origin: https://evil.example"]
        got, head, _ = _upgrade(gw.port, "/local/home.lights", evil)
        self.assertEqual(got, 403, head)
        got, head, ended = _upgrade(gw.port, "/local/chat", evil)
        self.assertEqual((got, ended), (101, "upgraded"), head)
        got, head, _ = _upgrade(gw.port, "/local/home.lights", ["Origin: https://app.example"])
        self.assertEqual(got, 101, head)
        # Counted once, in both pages, and logged with origin and channel.
        self.assertEqual(status(gw.port)["counters"]["refused_origin"], 1)
        self.assertEqual(metrics(gw.port)["nws_refused_origin_total"], 1)
        poll_until(lambda: "https://evil.example" in log_text(gw)
                   and "local/home.lights" in log_text(gw), 5, "the refusal in the log")


class RuleForms(NwsTestCase):
    """Every rule form, overlapping rules, and every shape of header."""

    def test_every_case(self):
        self.nws.start_hub()
        extra = []
        for rule in RULES:
            extra += ["--allow-origin", rule]
        gw = self.nws.start_gateway(extra=extra)
        refused = 0
        for path, lines, want in CASES:
            with self.subTest(path=path, origin=lines):
                got, head, _ = _upgrade(gw.port, path, lines)
                self.assertEqual(got, want, head)
                refused += want == 403
        self.assertEqual(status(gw.port)["counters"]["refused_origin"], refused)
        self.nws.check_alive()

    def test_without_rules_every_origin_joins(self):
        self.nws.start_hub()
        gw = self.nws.start_gateway()
        for path, lines, _ in CASES:
            with self.subTest(path=path, origin=lines):
                got, head, _ = _upgrade(gw.port, path, lines)
                self.assertEqual(got, 101, head)
        self.assertEqual(status(gw.port)["counters"]["refused_origin"], 0)


class BadRules(unittest.TestCase):
    """A bad rule stops the gateway at start: exit 2, the rule named."""

    def test_bad_rules_are_usage_errors(self):
        if not os.access(nwstest.GATEWAY, os.X_OK):
            raise unittest.SkipTest("%s is not built" % nwstest.GATEWAY)
        for rule in BAD_RULES:
            with self.subTest(rule=rule):
                # A good rule first: the bad one is named, not the first.
                r = subprocess.run([nwstest.GATEWAY, "--port", "0", "--bind", "127.0.0.1",
                                    "--runtime-dir", "/nonexistent/nws-origin-test",
                                    "--allow-origin", "https://ok.example",
                                    "--allow-origin", rule],
                                   stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, b"", "no ready line")
                self.assertIn(("--allow-origin '%s'" % rule).encode(), r.stderr)


class RefusedPagesDisturbNobody(HardeningCase):
    """Bystanders on a guarded channel (programs, and a page of an allowed
    origin) while pages of other origins try to get in, and send anyway."""

    CHANNEL = "/local/home.lights"
    # python3-websocket's clients (the bystanders) say Origin: http://127.0.0.1:PORT
    GATEWAY_ARGS = ("--allow-origin", "local/home.*=https://app.example,http://127.0.0.1:*")

    def test_refused_pages_never_disturb_the_channel(self):
        page = self.raw(lines=UPGRADE_LINES + ["Origin: https://app.example"])
        attempts = 0
        for origin in ("https://evil.example", "null", "", "https://app.example.evil"):
            request = upgrade_request(self.CHANNEL, self.port, extra=["Origin: " + origin])
            # A refused page that sends a frame after its request anyway.
            got, head, data, _, _ = raw_http(self.port, request + frame(OP_TEXT, b"sneaked in"))
            attempts += 1
            self.assertEqual(got, 403, head)
            self.assertNotIn(b"sneaked in", data)
            self.assertUndisturbed("a refused page of %r" % origin)
        # The allowed page was there all along and heard the bystanders.
        page.send(frame(OP_TEXT, b"from the page"))
        for who in (self.by.a, self.by.b):
            self.assertReceives(who, [text("from the page")], what="the allowed page's message")
        self.by.a.send_text("last")
        heard = []
        deadline = time.monotonic() + 5
        while b"last" not in heard:
            _, op, payload = page.read_frame(deadline)
            heard.append(payload)
        self.assertNotIn(b"sneaked in", heard)
        self.assertIn(b"after a refused page of 'https://evil.example' #1", heard)
        self.assertEqual(status(self.port)["counters"]["refused_origin"], attempts)


class OriginsInStatus(NwsTestCase):
    """/status lists, per channel, the origins its clients come from; a
    stranger picks them, so the list is bounded."""

    def channel(self, port, name):
        for ch in status(port)["channels"]:
            if ch["name"] == name:
                return ch
        return None

    def test_origins_are_listed_and_bounded(self):
        self.nws.start_hub()
        gw = self.nws.start_gateway()
        raws = []
        self.addCleanup(lambda: [r.close() for r in raws])

        def join(origin_lines):
            raws.append(RawWs(gw.port, "/local/seen", lines=UPGRADE_LINES + origin_lines))

        join(["Origin: https://a.example"])
        join(["Origin: HTTPS://A.example:443"])
        join(["Origin: null"])
        join([])
        join(["Origin: not an origin"])
        ch = self.channel(gw.port, "seen")
        self.assertEqual(ch["origins"], {"https://a.example": 2, "null": 1})
        self.assertEqual((ch["no_origin"], ch["origins_unlisted"]), (1, 1))
        # Twenty more origins: eight are listed in all, the rest counted.
        for i in range(20):
            join(["Origin: https://%d.example" % i])
        ch = self.channel(gw.port, "seen")
        self.assertEqual(len(ch["origins"]), 8)
        self.assertEqual(sum(ch["origins"].values()) + ch["origins_unlisted"] + ch["no_origin"],
                         25)
        self.assertEqual(ch["clients"], 25)
        # Those that leave free their places.
        for r in raws[5:]:
            r.close()
        poll_until(lambda: self.channel(gw.port, "seen")["clients"] == 5, 5, "20 gone")
        ch = self.channel(gw.port, "seen")
        self.assertEqual(ch["origins"], {"https://a.example": 2, "null": 1})
        self.assertEqual((ch["no_origin"], ch["origins_unlisted"]), (1, 1))


if __name__ == "__main__":
    main()
