"""End to end: the gateway's HTTP surface.

Statuses on channel paths (404 invalid name, also for upgrade requests,
405 wrong method, 400 no upgrade), unknown paths, `/` (HTML) and `/status`
(JSON), clean exit on SIGTERM/SIGINT, and -- inside a private network
namespace made for the test -- that /local/* answers only loopback peers
while /broadcast/* is open.
"""

import os
import signal
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websocket  # noqa: E402

from nwstest import (UPGRADE_HEADERS, Closed, NwsTestCase, binary, main, note,  # noqa: E402
                     poll_until, status_json, text)

INVALID_CHANNEL_PATHS = [
    "/local/a%20b",
    "/local/",
    "/broadcast/",
    "/local/a/b",
    "/local/chat/",
    "/local/" + "a" * 256,
    "/broadcast/" + "b" * 256,
    "/local/bad!name",
    "/broadcast/bad%2Fname",
    "/local/caf%C3%A9",
]

UNKNOWN_PATHS = ["/nope", "/local", "/broadcast", "/localx/chat", "/Local/chat",
                 "/status/extra"]


class HttpSurface(NwsTestCase):

    def setUp(self):
        super().setUp()
        self.nws.start_hub()
        self.gw = self.nws.start_gateway()
        self.port = self.gw.port

    def test_invalid_channel_name_is_404_before_any_upgrade(self):
        for path in INVALID_CHANNEL_PATHS:
            with self.subTest(path=path[:40]):
                self.assertHttp(self.port, path, 404)
                self.assertHttp(self.port, path, 404, headers=UPGRADE_HEADERS)
                with self.assertRaises(websocket.WebSocketBadStatusException) as cm:
                    self.nws.client(self.gw, path)
                self.assertEqual(cm.exception.status_code, 404)

    def test_valid_names_at_the_edges_upgrade(self):
        for path in ["/local/" + "a" * 255, "/broadcast/" + "Z" * 255,
                     "/local/A-z_0.9", "/local/-", "/broadcast/_", "/local/...", "/local/.a"]:
            with self.subTest(path=path[:40]):
                a = self.nws.client(self.gw, path)
                b = self.nws.client(self.gw, path)
                a.send_text("hi " + path)
                self.assertReceives(b, [text("hi " + path)])
                a.close()
                b.close()

    def test_wrong_method_is_405(self):
        for method, path in [("POST", "/local/chat"), ("PUT", "/local/chat"),
                             ("DELETE", "/broadcast/chat"), ("POST", "/broadcast/chat")]:
            with self.subTest(method=method, path=path):
                self.assertHttp(self.port, path, 405, method=method)

    def test_get_without_upgrade_is_400(self):
        for path in ["/local/chat", "/broadcast/chat"]:
            with self.subTest(path=path):
                self.assertHttp(self.port, path, 400)

    def test_unknown_path_is_404(self):
        for path in UNKNOWN_PATHS:
            with self.subTest(path=path):
                self.assertHttp(self.port, path, 404)

    def test_root_is_an_html_status_page(self):
        r = self.assertHttp(self.port, "/", 200)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/html"),
                        "Content-Type of /: %r" % r.headers.get("content-type"))
        self.assertIn(b"<", r.body)

    def test_status_json(self):
        chat = self.nws.open_clients(self.gw, "/local/chat", 3)
        self.nws.client(self.gw, "/broadcast/news")
        r = self.assertHttp(self.port, "/status", 200)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"),
                        "Content-Type of /status: %r" % r.headers.get("content-type"))
        s = r.json()
        self.assertIsInstance(s.get("gateway"), dict, s)
        self.assertEqual(s["gateway"].get("pid"), self.gw.pid, s["gateway"])
        self.assertEqual(s["gateway"].get("port"), self.port, s["gateway"])
        self.assertEqual(s.get("clients"), 4, s)
        self.assertIsInstance(s.get("counters"), dict, s)
        self.assertIsInstance(s.get("channels"), list, s)
        channels = sorted((c.get("scope"), c.get("name"), c.get("clients")) for c in s["channels"])
        self.assertEqual(channels, [("broadcast", "news", 1), ("local", "chat", 3)], s["channels"])

        for c in chat:
            c.close()

        def gone():
            s = status_json(self.port)
            names = [(c.get("scope"), c.get("name")) for c in s["channels"]]
            return s if s["clients"] == 1 and ("local", "chat") not in names else None

        poll_until(gone, 5, "/status to drop local/chat after its clients left")

    def test_sigterm_exits(self):
        self.nws.client(self.gw, "/local/bye")
        code = self.gw.stop(signal.SIGTERM)
        self.assertIsNotNone(code, "gateway did not exit within 5s of SIGTERM")
        self.assertEqual(code, 0, "gateway exit status after SIGTERM")

    def test_sigterm_closes_clients_with_1001(self):
        # nws_limits.h: NWS_CLOSE_SHUTDOWN 1001, "gateway going away".
        a = self.nws.client(self.gw, "/local/bye")
        self.gw.stop(signal.SIGTERM)
        try:
            got, reason, _ = a.recv_close(timeout=5)
        except Closed as e:
            got, reason = e.code, e.reason
        self.assertEqual(got, 1001, "close code sent to clients on shutdown (%r)" % reason)

    def test_sigint_exits(self):
        self.assertEqual(self.gw.stop(signal.SIGINT), 0, "gateway exit status after SIGINT")
        self.assertEqual(self.nws.hub.stop(signal.SIGINT), 0, "hub exit status after SIGINT")

    def test_hub_sigterm_exits(self):
        self.assertEqual(self.nws.hub.stop(signal.SIGTERM), 0, "hub exit status after SIGTERM")


# --------------------------------------------------------------------------
#  Loopback-only /local/*, in a private network namespace

NETNS_ENV = "NWS_E2E_IN_NETNS"
OTHER = "10.253.0.1"                # an address on lo, inside our namespace only


class LoopbackOnly(unittest.TestCase):
    """Runs NetnsChild (below) in this file under `unshare -n`."""

    def test_local_scope_answers_only_loopback_peers(self):
        if os.geteuid() != 0:
            self.skipTest("needs root for unshare -n (a private network namespace)")
        try:
            probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.skipTest("unshare -n is not available: %s" % e)
        if probe.returncode != 0:
            self.skipTest("unshare -n failed: %s" % probe.stderr.decode(errors="replace").strip())
        env = dict(os.environ, **{NETNS_ENV: "1"})
        child = subprocess.run(
            ["unshare", "-n", sys.executable, os.path.abspath(__file__), "-v", "NetnsChild"],
            env=env, capture_output=True, timeout=100)
        out = child.stdout.decode(errors="replace") + child.stderr.decode(errors="replace")
        self.assertEqual(child.returncode, 0, "tests inside the namespace failed:\n" + out)
        lines = out.strip().splitlines()
        self.assertEqual(lines[-1] if lines else "", "OK",
                         "every test inside the namespace must run and pass:\n" + out)
        note("inside the namespace:\n%s", out)


class NetnsChild(NwsTestCase):
    """Only inside the namespace made by LoopbackOnly."""

    def setUp(self):
        if os.environ.get(NETNS_ENV) != "1":
            self.skipTest("runs only inside the namespace made by LoopbackOnly")
        # Safety: we must be in a fresh namespace, where lo is the only
        # interface, before any address is added or dialled.
        names = [n for _, n in socket.if_nameindex()]
        if names != ["lo"]:
            raise AssertionError("not in a private network namespace (interfaces %r)" % names)
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        shown = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", "lo"],
                               capture_output=True, check=True).stdout.decode()
        if " %s/32 " % OTHER not in shown:
            subprocess.run(["ip", "addr", "add", OTHER + "/32", "dev", "lo"], check=True)
        super().setUp()
        self.nws.start_hub()
        self.dual = self.nws.start_gateway(bind=None)        # default ::, dual-stack
        self.v4 = self.nws.start_gateway(bind="0.0.0.0")

    def assertRefused(self, gw, path, host, status):
        with self.assertRaises(websocket.WebSocketBadStatusException,
                               msg="ws://%s%s on %s should be refused" % (host, path, gw.name)) as cm:
            self.nws.client(gw, path, host=host)
        self.assertEqual(cm.exception.status_code, status,
                         "ws://%s%s on %s (bind %s)" % (host, path, gw.name, gw.bind))

    def test_local_only_from_loopback(self):
        for gw in (self.dual, self.v4):
            with self.subTest(gateway=gw.name, bind=gw.bind):
                path = "/local/x-" + gw.name
                self.assertRefused(gw, path, OTHER, 403)
                self.assertHttp(gw.port, path, 403, host=OTHER, headers=UPGRADE_HEADERS)
                a = self.nws.client(gw, path, host="127.0.0.1")
                b = self.nws.client(gw, path, host="127.0.0.1")
                a.send_text("loopback ok")
                self.assertReceives(b, [text("loopback ok")])

    def test_local_from_ipv6_loopback_on_dual_stack(self):
        path = "/local/v6"
        a = self.nws.client(self.dual, path, host="::1")
        b = self.nws.client(self.dual, path, host="127.0.0.1")
        a.send_text("from ::1")
        self.assertReceives(b, [text("from ::1")])
        b.send_text("to ::1")
        self.assertReceives(a, [text("to ::1")])

    def test_broadcast_open_to_other_addresses(self):
        for gw in (self.dual, self.v4):
            with self.subTest(gateway=gw.name, bind=gw.bind):
                path = "/broadcast/x-" + gw.name
                remote = self.nws.client(gw, path, host=OTHER)
                local = self.nws.client(gw, path, host="127.0.0.1")
                remote.send_text("from lan")
                self.assertReceives(local, [text("from lan")])
                local.send_binary(b"\xff to lan")
                self.assertReceives(remote, [binary(b"\xff to lan")])

    def test_admin_pages_only_from_loopback(self):
        # README, "URLs": the admin pages answer only loopback peers.
        for gw in (self.dual, self.v4):
            for path in ("/", "/status"):
                with self.subTest(gateway=gw.name, path=path):
                    self.assertHttp(gw.port, path, 403, host=OTHER)
                    self.assertHttp(gw.port, path, 200, host="127.0.0.1")


def load_tests(loader, tests, pattern):
    """NetnsChild runs only when named, inside the namespace (see above)."""
    suite = unittest.TestSuite()
    for case in (HttpSurface, LoopbackOnly):
        suite.addTests(loader.loadTestsFromTestCase(case))
    if os.environ.get(NETNS_ENV) == "1":
        suite.addTests(loader.loadTestsFromTestCase(NetnsChild))
    return suite


if __name__ == "__main__":
    main()
