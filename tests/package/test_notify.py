"""Readiness for systemd (Type=notify): nws-hub, nws-gateway and
nws-discovery each send READY=1 (with a STATUS= line) to $NOTIFY_SOCKET
once they print their ready line, and STOPPING=1 when SIGTERM stops them
(status 0). A program without $NOTIFY_SOCKET is every other test.

    NWS_HUB=... NWS_GATEWAY=... NWS_DISCOVERY=... /usr/bin/python3 tests/package/test_notify.py
"""

import os
import signal
import socket
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import nwstest  # noqa: E402

WAIT = 10.0


class Notify(nwstest.NwsTestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.nws.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.sock.close)
        self.sock.bind(self.path)
        self.sock.settimeout(WAIT)

    def start(self, name, argv):
        env = dict(os.environ, NOTIFY_SOCKET=self.path)
        proc = nwstest.Proc(name, argv, self.nws._log(name), env=env)
        self.nws.procs.append(proc)
        return proc

    def notice(self, what):
        """The next datagram on the socket, as {key: value}."""
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            self.fail("no notification (%s) within %.0f s" % (what, WAIT))
        return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)

    def check(self, proc, status_word):
        """proc says READY=1 once it printed its ready line, STOPPING=1 when
        stopped."""
        proc.wait_ready("ready")
        got = self.notice("READY=1 of " + proc.name)
        self.assertEqual(got.get("READY"), "1", "%s sent %r" % (proc.name, got))
        self.assertIn(status_word, got.get("STATUS", ""), "%s: STATUS=" % proc.name)
        self.assertEqual(proc.stop(signal.SIGTERM), 0, proc.log_tail())
        got = self.notice("STOPPING=1 of " + proc.name)
        self.assertEqual(got.get("STOPPING"), "1", "%s sent %r" % (proc.name, got))

    def test_hub(self):
        hub = self.start("hub", [nwstest.HUB, "--runtime-dir", self.nws.runtime_dir,
                                 "--grace-ms", "0"])
        self.check(hub, "publishers on ipc://")

    def test_gateway(self):
        self.nws.start_hub()
        gateway = self.start("gateway", [nwstest.GATEWAY, "--runtime-dir", self.nws.runtime_dir,
                                         "--port", "0", "--bind", "127.0.0.1"])
        self.check(gateway, "listening on [127.0.0.1]:")

    def test_discovery(self):
        program = os.environ.get("NWS_DISCOVERY")
        if not program:
            self.fail("$NWS_DISCOVERY is not set")
        self.nws.start_hub()
        discovery = self.start("discovery", [program, "--runtime-dir", self.nws.runtime_dir,
                                             "--no-avahi", "--port", "9"])
        self.check(discovery, "advertising port 9")


if __name__ == "__main__":
    nwstest.main()
