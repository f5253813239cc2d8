"""nws-hub's extra endpoints and its hub.json.

A tcp endpoint must be on a loopback address unless --allow-remote is
given; a malformed or unsupported endpoint is a usage error (exit 2)
before anything is bound. hub.json is there once the hub is ready, tells
the truth, is rewritten at most about 5 times a second and only after a
change, is embedded in the gateway's /status, and is removed on exit.
"""

import ctypes
import os
import select
import shutil
import struct
import subprocess
import sys
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from taptest import (TapTestCase, WAIT, address_is_local, ipv6_loopback,  # noqa: E402
                     parse_ready, poll_equal, poll_until)
import nwstest  # noqa: E402  (on sys.path through taptest)
from nwstest import main, status_json  # noqa: E402

IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80


class Renames:
    """Counts files renamed into a directory (inotify IN_MOVED_TO), e.g.
    each hub.json update. IN_MOVED_FROM is watched too: the kernel merges
    an event into an identical unread one before it, and a rename's FROM
    (hub.json.tmp) between two TOs keeps them apart."""

    def __init__(self, directory):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self.libc.inotify_add_watch(self.fd, directory.encode(),
                                       IN_MOVED_FROM | IN_MOVED_TO) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch")

    def count(self, name, seconds):
        """Renames to name seen within the next seconds (and any queued)."""
        n = 0
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0 and not select.select([self.fd], [], [], 0)[0]:
                return n
            if select.select([self.fd], [], [], max(left, 0))[0]:
                data = os.read(self.fd, 65536)
                while data:
                    _, mask, _, size = struct.unpack("iIII", data[:16])
                    if mask & IN_MOVED_TO and data[16:16 + size].rstrip(b"\0") == name.encode():
                        n += 1
                    data = data[16 + size:]

    def close(self):
        os.close(self.fd)


class Refusals(TapTestCase):

    def run_hub(self, *args):
        """Runs nws-hub on a runtime dir that does not exist yet; returns
        (status, stderr, stdout, whether the dir was made)."""
        runtime = os.path.join(self.nws.dir, "fresh")
        r = subprocess.run([nwstest.HUB, "--runtime-dir", runtime, "--grace-ms", "0"] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=WAIT, preexec_fn=nwstest._die_with_parent)
        made = os.path.exists(runtime)
        shutil.rmtree(runtime, ignore_errors=True)
        return r.returncode, r.stderr.decode("utf-8", "replace"), r.stdout, made

    def test_non_loopback_tcp_needs_allow_remote(self):
        for option, endpoint in [("--out", "tcp://0.0.0.0:0"), ("--in", "tcp://10.1.2.3:5570"),
                                 ("--out", "tcp://*:5571"), ("--in", "tcp://eth0:5570"),
                                 ("--out", "tcp://[::]:0"), ("--out", "tcp://example.com:1"),
                                 ("--in", "tcp://128.0.0.1:1"), ("--out", "tcp://[::2]:1")]:
            code, err, out, made = self.run_hub("--out", "tcp://127.0.0.1:*", option, endpoint)
            self.assertEqual(code, 2, "%s %s: %s" % (option, endpoint, err))
            self.assertIn("%s %s" % (option, endpoint), err)
            self.assertIn("--allow-remote", err)
            self.assertEqual(out, b"", "no ready line")
            self.assertFalse(made, "nothing is made before the endpoints are checked")

    def test_malformed_endpoints(self):
        for endpoint in ["inproc://x", "ws://127.0.0.1:1", "pgm://eth0;239.1.1.1:5555",
                         "127.0.0.1:5570", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://:5",
                         "tcp://127.0.0.1:99999", "tcp://127.0.0.1:x", "tcp://::1:5",
                         "tcp://[::1]", "tcp://[::1:5", "tcp://127.0.0.1:1;127.0.0.1:2", "ipc://",
                         "ipc://" + "p" * 120]:
            for option in ("--in", "--out"):
                code, err, _, _ = self.run_hub("--allow-remote", option, endpoint)
                self.assertEqual(code, 2, "%s %r: exit %d, %s" % (option, endpoint, code, err))
                self.assertIn(option, err)

    def test_allow_remote_lets_other_addresses_through(self):
        # 192.0.2.1 (TEST-NET-1) is not on this host: the check passes and
        # the bind fails, so nothing is ever exposed.
        if address_is_local("192.0.2.1"):
            self.skipTest("192.0.2.1 is an address of this host")
        code, err, _, _ = self.run_hub("--allow-remote", "--out", "tcp://192.0.2.1:*")
        self.assertEqual(code, 1, err)
        self.assertIn("cannot bind tcp://192.0.2.1:*", err)

    def test_allow_remote_binds_any_address_in_a_private_netns(self):
        # Inside a network namespace of our own (only lo, down) 0.0.0.0
        # reaches nobody but us.
        if os.geteuid() != 0 or not shutil.which("unshare"):
            self.skipTest("needs root and unshare -n")
        probe = subprocess.run(["unshare", "-n", "true"], stderr=subprocess.PIPE)
        if probe.returncode != 0:
            self.skipTest("unshare -n fails here: %s" % probe.stderr.decode().strip())
        argv = ["unshare", "-n", nwstest.HUB, "--runtime-dir", self.nws.runtime_dir,
                "--grace-ms", "0", "--allow-remote", "--out", "tcp://0.0.0.0:*"]
        hub = nwstest.Proc("hub", argv, self.nws._log("hub"))
        self.nws.procs.append(hub)
        ready = parse_ready(hub.wait_ready("ready "))
        self.assertRegex(ready["out"][1], r"^tcp://0\.0\.0\.0:[1-9][0-9]*$")


class Loopback(TapTestCase):

    def test_loopback_forms(self):
        extra = ["--out", "tcp://127.0.0.2:*", "--out", "tcp://localhost:0",
                 "--in", "tcp://127.0.0.1:0", "--out", "ipc://%s/extra-out" % self.nws.dir]
        if ipv6_loopback():
            extra += ["--in", "tcp://[::1]:*"]
        ready = self.start_hub(*extra)
        self.assertEqual(ready["out"][0], self.endpoint("hub-out"))
        self.assertRegex(ready["out"][1], r"^tcp://127\.0\.0\.2:[1-9][0-9]*$")
        self.assertRegex(ready["out"][2], r"^tcp://127\.0\.0\.1:[1-9][0-9]*$")
        self.assertEqual(ready["out"][3], "ipc://%s/extra-out" % self.nws.dir)
        self.assertEqual(ready["in"][0], self.endpoint("hub-in"))
        self.assertRegex(ready["in"][1], r"^tcp://127\.0\.0\.1:[1-9][0-9]*$")
        if ipv6_loopback():
            self.assertRegex(ready["in"][2], r"^tcp://\[::1\]:[1-9][0-9]*$")
        self.assertEqual(self.hub_json()["endpoints"], {"in": ready["in"], "out": ready["out"]})


class HubJson(TapTestCase):

    def test_contents_and_lifecycle(self):
        path = os.path.join(self.nws.runtime_dir, "hub.json")
        ready = self.start_hub("--out", "tcp://127.0.0.1:*")
        state = self.hub_json()
        self.assertEqual(sorted(state), sorted(["pid", "forwarded", "external", "dropped",
                                                "dropped_by_reason", "channels", "interest",
                                                "endpoints"]))
        self.assertEqual(state["pid"], self.nws.hub.pid)
        self.assertEqual((state["forwarded"], state["external"], state["dropped"],
                          state["channels"], state["interest"]), (0, 0, 0, 0, 0))
        self.assertEqual(sorted(state["dropped_by_reason"]),
                         sorted(["frame_count", "topic", "envelope_version", "envelope",
                                 "too_big", "not_utf8", "other"]))
        self.assertEqual(state["endpoints"], {"in": ready["in"], "out": ready["out"]})
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)

        gw = self.nws.start_gateway()
        a = self.nws.client(gw, "/broadcast/j")
        poll_equal(lambda: (self.hub_json()["channels"], self.hub_json()["interest"]), (1, 1),
                   WAIT, "a channel, with interest, in hub.json")
        self.assertEqual(status_json(gw.port)["hub"], self.hub_json(), "/status embeds hub.json")
        a.close()
        poll_equal(lambda: (self.hub_json()["channels"], self.hub_json()["interest"]), (0, 0),
                   WAIT, "no channel in hub.json")

        # A clean exit removes it; the gateway then shows null.
        self.assertEqual(self.nws.hub.stop(), 0)
        self.assertFalse(os.path.exists(path), "hub.json removed on exit")
        self.assertIsNone(status_json(gw.port)["hub"])

        # A killed hub leaves a stale file; the next hub replaces it at once.
        self.start_hub()
        self.nws.hub.kill()
        self.assertTrue(os.path.exists(path))
        stale = self.hub_json()["pid"]
        self.start_hub()
        self.assertNotEqual(self.hub_json()["pid"], stale)
        self.assertEqual(self.hub_json()["pid"], self.nws.hub.pid)

    def test_rewritten_at_most_5_times_a_second_and_only_after_a_change(self):
        # The traffic comes from an outside publisher on a channel nobody
        # reads: a WebSocket sender's gateway sends marks for a few seconds
        # after its last message, which would make "idle" a matter of timing.
        self.start_hub()
        gw = self.nws.start_gateway()
        self.nws.client(gw, "/local/rate")
        feed = self.injector()
        feed.setsockopt(zmq.XPUB_NODROP, 1)     # block at the high-water mark
        renames = Renames(self.nws.runtime_dir)
        self.addCleanup(renames.close)
        poll_equal(lambda: self.hub_json()["channels"], 1, WAIT, "the channel in hub.json")
        renames.count("hub.json", 0.3)      # let what is pending pass
        before = self.hub_json()["forwarded"]

        # One second of continuous traffic: about 5 rewrites, not thousands.
        sent = 0
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            feed.send_multipart([b"local/unread/", b"m"])
            sent += 1
        during = renames.count("hub.json", 0.25)
        nwstest.note("hub.json rewritten %d times for %d messages in 1s", during, sent)
        self.assertGreaterEqual(sent, 50, "traffic")
        self.assertTrue(2 <= during <= 8, "%d rewrites for %d messages in 1s" % (during, sent))
        poll_until(lambda: self.hub_json()["forwarded"] >= before + sent, WAIT,
                   "hub.json to count the %d messages" % sent)

        # Nothing changes: nothing is written.
        renames.count("hub.json", 0.25)
        self.assertEqual(renames.count("hub.json", 0.6), 0, "no rewrite while idle")

        # One change: written once. (The rename is queued for us by the time
        # the new count can be read.)
        before = self.hub_json()["forwarded"]
        feed.send_multipart([b"local/unread/", b"one more"])
        poll_until(lambda: self.hub_json()["forwarded"] > before, WAIT, "the next message")
        self.assertEqual(renames.count("hub.json", 0.3), 1)

if __name__ == "__main__":
    main()
