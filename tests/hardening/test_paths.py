"""Hardening: percent-encoding, `.`/`..` segments and odd slashes in
channel paths.

README ("URLs"): "Paths are normalised before the name is checked, as most
web servers do: percent-escapes are decoded and `//`, `/./` and `/../`
collapsed (so `/local//chat` is `/local/chat`, and the names `.` and `..`
cannot be reached from a URL); a query string is ignored." An invalid
name (not `[A-Za-z0-9._-]{1,255}`) is 404 before any upgrade; `/local/*`
answers loopback peers only (403 otherwise).

So each path below gets the status that follows from the README, and an
upgrade lands on the channel its normalised path names (checked by a
message to a client of that channel). Inside a private network namespace
(`unshare -n`, as tests/e2e/test_http.py) a non-loopback peer tries every
way into a local channel through /broadcast/ and escapes: 403 each time,
never a 101, never a message to a local client. The gateway never dies and
the bystanders keep talking.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hardtest import (OP_TEXT, OTHER, HardeningCase, HandshakeRefused, RawWs,  # noqa: E402
                      frame, main, metrics, netns_enter, netns_run, netns_suite, raw_http,
                      text, upgrade_request)

# path -> the channel it reaches after normalisation (101)
REACHES = {
    "/local/%41bc": "/local/Abc",
    "/local/%61%62%63": "/local/abc",
    "/%6cocal/x": "/local/x",
    "/local%2fx": "/local/x",
    "/%2flocal/x": "/local/x",
    "/broadcast/../local/x": "/local/x",
    "/broadcast/%2e%2e/local/x": "/local/x",
    "/broadcast/..%2flocal%2fx": "/local/x",
    "/broadcast/x/../../local/x": "/local/x",
    "/status/../local/x": "/local/x",
    "/../local/x": "/local/x",
    "/./local/x": "/local/x",
    "//local/x": "/local/x",
    "/local/./x": "/local/x",
    "/local//x": "/local/x",
    "/local/x/../y": "/local/y",
    "/local/" + "/" * 300 + "x": "/local/x",
    "/local" + "/" * 300 + "x": "/local/x",
    "/local/x?a=b&c=%41": "/local/x",
    "/local/" + "%41" * 255: "/local/" + "A" * 255,
    "/broadcast/%41": "/broadcast/A",
}

# path -> status of an upgrade request, for paths that must not upgrade
# (a plain GET of some of them is the status page: "/local/.." is "/")
REFUSED = {
    "/local/%2e%2e/x": 404,             # /x
    "/local/..%2fchat": 404,            # /chat
    "/local/%2e%2e%2fchat": 404,
    "/local/%2e": 404,                  # the name "." cannot be reached
    "/local/%2e%2e": 404,
    "/local/.": 404,
    "/local/..": 404,
    "/local/x/..": 404,                 # /local/
    "/local/x/": 404,
    "/local/a%2fb": 404,                # a/b
    "/local/%C3%A9": 404,               # not [A-Za-z0-9._-]
    "/local/x%20": 404,
    "/local/x%3Fy": 404,                # a decoded '?' is part of the name
    "/local/x%23y": 404,
    "/local/x#frag": 404,
    "/local/x;y": 404,                  # (a plain GET of it is 400, as if it were /local/x)
    "/local/\\x": 404,
    "/local/%00": 404,
    "/broadcast/%252e%252e/local/x": 404,   # decoded once only: "%2e%2e" is the name
    "/" * 300: 404,
    "/local/" + "%41" * 256: 404,       # 256 bytes
    "/LOCAL/x": 404,
}

# Malformed escapes: the README says nothing; a 4xx, at once.
MALFORMED = ["/local/%zz", "/local/a%", "/local/a%2", "/local/%u0041", "/local/%%41"]

# A NUL decoded into the name: an invalid name, so 404 like "/local/%00".
NUL_INSIDE = ["/local/a%00b", "/local/x%00"]

# A NUL escape in the query string, which the README says is ignored.
NUL_IN_QUERY = {"/local/x?c=%00": "/local/x", "/broadcast/x?%00": "/broadcast/x"}


class Paths(HardeningCase):

    def reach(self, path, channel):
        """A raw client on path reaches the clients of channel."""
        listener = self.nws.client(self.gw, channel)
        raw = self.raw(path)
        raw.send(frame(OP_TEXT, ("via " + path).encode()))
        self.assertReceives(listener, [text("via " + path)],
                            what="%s must reach %s" % (path[:60], channel[:60]))
        raw.close()
        listener.close()

    def test_escapes_and_dot_segments_reach_the_normalised_channel(self):
        for path, channel in REACHES.items():
            with self.attempt(path=path[:60]):
                self.reach(path, channel)
                self.assertUndisturbed(path[:40])

    def test_paths_that_normalise_to_no_valid_channel_are_404(self):
        before = metrics(self.port)["nws_http_errors_total"]
        for path, want in REFUSED.items():
            with self.attempt(path=path[:60]):
                st, head, data, took, ended = raw_http(self.port, upgrade_request(path, self.port),
                                                       timeout=3)
                self.assertEqual(st, want, "%s: %s %s %r" % (path[:60], st, ended, head[:60]))
                self.assertUndisturbed(path[:40])
        after = metrics(self.port)["nws_http_errors_total"]
        self.assertEqual(after - before, len(REFUSED),
                         "nws_http_errors_total counts each refusal")

    def test_malformed_escapes_get_a_4xx_at_once(self):
        for path in MALFORMED:
            with self.attempt(path=path):
                st, head, data, took, ended = raw_http(self.port, upgrade_request(path, self.port),
                                                       timeout=3)
                self.assertTrue(st is not None and 400 <= st < 500,
                                "%s: %s %s %r" % (path, st, ended, head[:60]))
                self.assertUndisturbed(path)

    def test_a_nul_escape_is_an_invalid_name(self):
        # "/local/%00" is a 404 (invalid name); so must a NUL be anywhere
        # in the name: an answer, not a dropped connection.
        for path in NUL_INSIDE:
            with self.attempt(path=path):
                st, head, data, took, ended = raw_http(self.port, upgrade_request(path, self.port),
                                                       timeout=3)
                self.assertEqual(st, 404, "%s: %s (%s) %r" % (path, st, ended, head[:60]))
                self.assertUndisturbed(path)

    def test_a_nul_escape_in_the_query_is_ignored_with_the_query(self):
        for path, channel in NUL_IN_QUERY.items():
            with self.attempt(path=path):
                self.reach(path, channel)
                self.assertUndisturbed(path)

    def test_a_nul_escape_never_upgrades_or_disturbs(self):
        for path in NUL_INSIDE + list(NUL_IN_QUERY):
            with self.attempt(path=path):
                st, head, data, took, ended = raw_http(self.port, upgrade_request(path, self.port),
                                                       timeout=3)
                if path in NUL_IN_QUERY:
                    self.assertIn(st, (101, None), path)
                else:
                    self.assertNotEqual(st, 101, path)
                self.assertTrue(st is not None or ended in ("eof", "reset"),
                                "%s: %s after %.1fs" % (path, ended, took))
                self.assertUndisturbed(path)


# --------------------------------------------------------------------------
#  A non-loopback peer, in a private network namespace

# Ways into /local/x from outside: all are /local/x once normalised.
INTO_LOCAL = [p for p, c in REACHES.items() if c == "/local/x"] + [
    "/local/x",
    "/broadcast/./../local/x",
    "/broadcast/%2E%2E/%6C%6F%63%61%6C/x",
    "/broadcast/x/%2e%2e/%2e%2e/local/x",
]

ADMIN = ["/%73tatus", "/./status", "/broadcast/../status", "/broadcast/../metrics",
         "/broadcast/..%2fmetrics", "/", "/console", "/broadcast/../console"]


class NonLoopback(unittest.TestCase):
    """Runs NetnsChild (below) in this file under `unshare -n`."""

    def test_no_way_into_local_channels_from_another_address(self):
        netns_run(self, __file__, "NetnsChild")


class NetnsChild(HardeningCase):
    """Only inside the namespace made by NonLoopback."""

    BIND = "0.0.0.0"
    CHANNEL = "/local/x"            # the bystanders sit where the attacks aim

    def setUp(self):
        netns_enter(self)
        super().setUp()

    def test_every_path_into_a_local_channel_is_403(self):
        before = metrics(self.port)["nws_http_errors_total"]
        for path in INTO_LOCAL:
            with self.attempt(path=path[:60]):
                st, head, data, took, ended = raw_http(
                    self.port, upgrade_request(path, self.port), host=OTHER, timeout=3)
                self.assertEqual(st, 403, "%s from %s: %s %s %r"
                                 % (path[:60], OTHER, st, ended, head[:60]))
                # Had it upgraded, this would be heard on /local/x.
                try:
                    raw = RawWs(self.port, path, host=OTHER)
                    raw.send(frame(OP_TEXT, b"from outside"))
                    raw.close()
                except HandshakeRefused:
                    pass
                self.assertUndisturbed(path[:40])
        after = metrics(self.port)["nws_http_errors_total"]
        self.assertEqual(after - before, 2 * len(INTO_LOCAL), "nws_http_errors_total counts "
                         "each refusal")

    def test_admin_pages_are_not_reached_by_escapes_either(self):
        for path in ADMIN:
            with self.attempt(path=path):
                st, head, data, took, ended = raw_http(
                    self.port, ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode(),
                    host=OTHER, timeout=3)
                self.assertIn(st, (403, 404), "%s from %s: %s %r" % (path, OTHER, st, head[:60]))
                self.assertUndisturbed(path)

    def test_broadcast_is_open_to_other_addresses(self):
        # The positive control: the same peer reaches broadcast channels,
        # escapes and all.
        listener = self.nws.client(self.gw, "/broadcast/open")
        for path in ("/broadcast/open", "/broadcast/%6fpen", "/local/../broadcast/open"):
            with self.attempt(path=path):
                raw = RawWs(self.port, path, host=OTHER)
                self.raws.append(raw)
                raw.send(frame(OP_TEXT, ("from outside via " + path).encode()))
                self.assertReceives(listener, [text("from outside via " + path)])
                raw.close()


def load_tests(loader, tests, pattern):
    return netns_suite(loader, [Paths, NonLoopback], [NetnsChild])


if __name__ == "__main__":
    main()
