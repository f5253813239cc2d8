"""package.systemd: the package under a real systemd. This machine's own
OS, seen through an overlay (its changes in a tmpfs, nothing written
below), boots in a container (systemd-nspawn, a private network) to
basic.target; there the .deb is installed with dpkg, and:

* postinst starts the services: all three active, Type=notify's STATUS=
  shown, the runtime directory /run/nws (nws:nws 0750, sockets 0770);
* they work inside their sandbox: two WebSocket clients of a broadcast
  channel, a tap as root and as a member of the group nws (and not as
  another user), the gateway's /status with the hub's counters, the
  channel advertised through avahi-daemon over D-Bus;
* a restart of the hub leaves the gateway running; a gateway killed is
  restarted (Restart=on-failure); a port set in /etc/default/nws is used
  by the gateway and advertised by nws-discovery, and a network key set
  there (NWS_KEY) makes both private, with the key in no log; an upgrade
  (the same .deb again) restarts them;
* dpkg -r stops them all, dpkg --purge leaves no unit link behind.

Skipped (77) unless root, with systemd-nspawn (package systemd-container)
and overlayfs, or when the container does not boot (no cgroups, say).
Everything is unmounted and removed at the end.

    NWS_DEB_PATH_FILE=<file naming the .deb> /usr/bin/python3 tests/package/test_systemd.py
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkgtest  # noqa: E402
from pkgtest import run  # noqa: E402

SKIP = 77
BOOT_WAIT = 90                      # seconds for the container to reach basic.target
NSPAWN_STATE = "/run/systemd/nspawn"    # must be a tmpfs: nspawn removes things there

# Runs inside the container, as root: WebSocket clients, taps, /status, avahi.
SMOKE = r'''
import json, subprocess, sys, time, urllib.request, websocket
port = int(sys.argv[1])
a = websocket.create_connection("ws://localhost:%d/broadcast/chat" % port, timeout=5)
b = websocket.create_connection("ws://[::1]:%d/broadcast/chat" % port, timeout=5)
tap = subprocess.Popen(["nws-tap", "sub", "--ready", "-v", "-n", "1", "broadcast/chat"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
assert tap.stderr.readline() == b"ready\n"
a.send("hello")
assert b.recv() == "hello"
assert tap.communicate(timeout=5)[0] == b"broadcast/chat hello\n"
for user, ok in (("nwsmember", 0), ("nwsother", 1)):
    r = subprocess.run(["runuser", "-u", user, "--", "nws-tap", "pub", "--connect-timeout",
                        "2000", "--runtime-dir", "/run/nws", "broadcast/chat", "from " + user],
                       capture_output=True, timeout=10)
    assert r.returncode == ok, (user, r)
assert a.recv() == "from nwsmember" and b.recv() == "from nwsmember"
for _ in range(50):
    status = json.load(urllib.request.urlopen("http://localhost:%d/status" % port))
    adverts = status.get("discovery", {}).get("adverts", [])
    if status.get("hub", {}).get("forwarded") and any(
            x.get("channel") == "chat" and x.get("state") == "established" for x in adverts):
        break
    time.sleep(0.2)
else:
    raise AssertionError("status: %r" % status)
browse = subprocess.run(["avahi-browse", "-tpr", "_ws._tcp"], capture_output=True, text=True,
                        timeout=15).stdout
assert "\\.chat\\._bws;" in browse and ";%d;" % port in browse, browse   # avahi escapes dots
print("smoke ok")
'''


class Container:
    """This OS in an overlay, booted with systemd-nspawn."""

    def __init__(self):
        self.top = tempfile.mkdtemp(prefix="nws-pkg-nspawn-")
        self.mounts = []
        self.made_state = None
        self.nspawn = None
        self.leader = None
        self.log = os.path.join(self.top, "nspawn.log")

    def mount(self, *argv):
        run(["mount"] + list(argv))
        self.mounts.append(argv[-1])

    def prepare(self, deb):
        self.mount("-t", "tmpfs", "tmpfs", self.top + "/")
        for d in ("upper", "work", "root"):
            os.mkdir(os.path.join(self.top, d))
        self.root = os.path.join(self.top, "root")
        self.mount("-t", "overlay", "overlay", "-o", "lowerdir=/,upperdir=%s/upper,workdir=%s/work"
                   % (self.top, self.top), self.root)
        if not os.path.ismount(NSPAWN_STATE):
            missing = NSPAWN_STATE
            while not os.path.exists(os.path.dirname(missing)):
                missing = os.path.dirname(missing)
            self.made_state = missing if not os.path.exists(missing) else None
            os.makedirs(NSPAWN_STATE, exist_ok=True)
            self.mount("-t", "tmpfs", "tmpfs", NSPAWN_STATE)
        # A machine of its own: its id, services allowed to start, the
        # users of the tap check, the package.
        with open(os.path.join(self.root, "etc/machine-id"), "w") as f:
            f.write(uuid.uuid4().hex + "\n")
        for path in ("usr/sbin/policy-rc.d", "etc/default/nws"):
            if os.path.lexists(os.path.join(self.root, path)):
                os.unlink(os.path.join(self.root, path))
        for user in ("nwsmember", "nwsother"):
            run(["chroot", self.root, "useradd", "-M", user])
        shutil.copy(deb, os.path.join(self.root, "root/nws.deb"))
        with open(os.path.join(self.root, "root/smoke.py"), "w") as f:
            f.write(SMOKE)

    def boot(self):
        argv = ["systemd-nspawn", "-q", "-D", self.root, "--private-network", "--register=no",
                "--link-journal=no", "-M", "nwspkgtest"]
        if not os.path.isdir("/run/systemd/system"):
            argv.append("--keep-unit")      # no systemd here to make a scope
        argv += ["-b", "--", "--unit=basic.target"]
        with open(self.log, "wb") as log:
            self.nspawn = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + BOOT_WAIT
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                return False
            children = run(["pgrep", "-P", str(self.nspawn.pid)], ok=None)[1].split()
            if children:
                self.leader = children[0]
                status, out, _ = self.exec(["systemctl", "is-active", "basic.target"], ok=None)
                if out.strip() == "active":
                    return True
            time.sleep(0.5)
        return False

    def exec(self, argv, ok=(0,), timeout=120):
        """Runs argv in the container (all its namespaces)."""
        return run(["nsenter", "-t", self.leader, "-a"] + argv, ok=ok, timeout=timeout)

    def log_tail(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")[-3000:]
        except OSError:
            return ""

    def close(self):
        if self.nspawn and self.nspawn.poll() is None:
            self.nspawn.send_signal(signal.SIGTERM)     # nspawn: power the container off
            try:
                self.nspawn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()
        for point in reversed(self.mounts):
            run(["umount", "-R", point], ok=None)
        if self.made_state:
            shutil.rmtree(self.made_state, ignore_errors=True)
        shutil.rmtree(self.top, ignore_errors=True)


# Upgrade requests to the port in argv[1]: the status line's code for
# (origin, channel) pairs, one per line.
ORIGIN_PROBE = r"""
import socket, sys
port = int(sys.argv[1])
for origin, path in (("https://evil.example", "/local/home.lights"),
                     ("https://app.example", "/local/home.lights"),
                     ("null", "/local/home.lights"), ("https://evil.example", "/local/chat")):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
               "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\nOrigin: %s\r\n\r\n" % (path, origin)).encode())
    print(s.recv(64).split()[1].decode())
    s.close()
"""


class UnderSystemd(unittest.TestCase):

    def setUp(self):
        self.c = Container()
        self.addCleanup(self.c.close)
        self.c.prepare(pkgtest.deb_path())
        if not self.c.boot():
            raise unittest.SkipTest("the container did not boot:\n" + self.c.log_tail())

    def active(self):
        return self.c.exec(["systemctl", "is-active"] + pkgtest.SERVICES, ok=None)[1].split()

    def show(self, unit, prop):
        return self.c.exec(["systemctl", "show", "-p", prop, "--value", unit])[1].strip()

    def wait_active(self, what):
        deadline = time.monotonic() + 30
        while self.active() != ["active"] * 3:
            if time.monotonic() > deadline:
                self.fail("%s: services %s\n%s" % (what, self.active(), self.c.exec(
                    ["journalctl", "--no-pager", "-n", "60", "-u", "nws-*"], ok=None)[1]))
            time.sleep(0.3)

    def test_lifecycle(self):
        c = self.c
        c.exec(["dpkg", "-i", "/root/nws.deb"])
        self.wait_active("after install")
        self.assertIn("listening on [::]:9009", self.show("nws-gateway", "StatusText"))
        self.assertIn("publishers on ipc:///run/nws/hub-in", self.show("nws-hub", "StatusText"))
        listing = c.exec(["ls", "-la", "/run/nws"])[1]
        self.assertRegex(listing, r"(?m)^drwxr-x--- +\d+ nws +nws .* \.$")
        self.assertRegex(listing, r"(?m)^srwxrwx--- +\d+ nws +nws .* hub-out$")
        c.exec(["adduser", "--quiet", "nwsmember", "nws"])
        self.assertIn("smoke ok", c.exec(["/usr/bin/python3", "/root/smoke.py", "9009"])[1])

        # The hub restarts alone; a killed gateway comes back.
        gateway = self.show("nws-gateway", "MainPID")
        c.exec(["systemctl", "restart", "nws-hub"])
        self.assertEqual(self.show("nws-gateway", "MainPID"), gateway)
        c.exec(["kill", "-9", gateway])
        deadline = time.monotonic() + 15
        while self.show("nws-gateway", "NRestarts") != "1" or self.active() != ["active"] * 3:
            self.assertLess(time.monotonic(), deadline, "the killed gateway did not restart")
            time.sleep(0.3)

        # The config file's port, then an upgrade keeps it.
        c.exec(["sh", "-c", "echo NWS_PORT=9010 >> /etc/default/nws"])
        c.exec(["systemctl", "restart", "nws.target"])
        self.wait_active("after a restart of nws.target")
        self.assertIn("[::]:9010", self.show("nws-gateway", "StatusText"))
        self.assertIn("port 9010", self.show("nws-discovery", "StatusText"))
        hub = self.show("nws-hub", "MainPID")
        c.exec(["dpkg", "-i", "/root/nws.deb"])
        self.wait_active("after an upgrade")
        self.assertNotEqual(self.show("nws-hub", "MainPID"), hub, "the upgrade restarted nothing")
        self.assertIn("smoke ok", c.exec(["/usr/bin/python3", "/root/smoke.py", "9010"])[1])

        # A network key named in the config file: both go private, as the
        # file's own instructions make it, and the key is in no log.
        c.exec(["sh", "-c", "install -d -m 0755 /etc/nws && "
                "(umask 077; head -c 32 /dev/urandom | base64 > /etc/nws/key) && "
                "chown nws:nws /etc/nws/key && echo NWS_KEY=/etc/nws/key >> /etc/default/nws"])
        c.exec(["systemctl", "restart", "nws.target"])
        self.wait_active("with a network key")
        status = c.exec(["/usr/bin/python3", "-c", "import urllib.request; print(urllib.request."
                         "urlopen('http://127.0.0.1:9010/status').read().decode())"])[1]
        self.assertIn('"broadcast":"private"', status)
        self.assertIn("broadcast is private",
                      c.exec(["journalctl", "--no-pager", "-u", "nws-discovery"])[1])
        key = c.exec(["cat", "/etc/nws/key"])[1].strip()
        self.assertEqual(len(key), 44)
        self.assertNotIn(key, c.exec(["journalctl", "--no-pager"])[1])

        # --allow-origin rules in the config file, spelled as the README
        # says: a page of another origin is refused, the allowed one joins.
        c.exec(["sh", "-c", "echo 'NWS_GATEWAY_OPTIONS=\"--allow-origin "
                "local/home.*=https://app.example,null\"' >> /etc/default/nws"])
        c.exec(["systemctl", "restart", "nws-gateway"])
        self.wait_active("with --allow-origin")
        statuses = c.exec(["/usr/bin/python3", "-c", ORIGIN_PROBE, "9010"])[1].split()
        self.assertEqual(statuses, ["403", "101", "101", "101"])

        # Removal stops them; purge forgets them.
        c.exec(["dpkg", "-r", "nws"])
        self.assertEqual(self.active(), ["inactive"] * 3)
        c.exec(["dpkg", "--purge", "nws"])
        left = c.exec(["sh", "-c", "ls -d /etc/default/nws /etc/systemd/system/nws* "
                       "/etc/systemd/system/*.wants/nws* /var/lib/systemd/deb-systemd-*/nws* "
                       "/var/lib/systemd/deb-systemd-*/*/nws* 2>/dev/null; true"])[1]
        self.assertEqual(left, "")


def main():
    if os.geteuid() != 0:
        print("skipped: needs root")
        sys.exit(SKIP)
    if not shutil.which("systemd-nspawn"):
        print("skipped: no systemd-nspawn (apt-get install systemd-container)")
        sys.exit(SKIP)
    with open("/proc/filesystems") as f:
        if not re.search(r"\boverlay$", f.read(), re.M):
            print("skipped: no overlayfs")
            sys.exit(SKIP)
    result = unittest.main(verbosity=2, exit=False).result
    if result.skipped and not (result.failures or result.errors):
        sys.exit(SKIP)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
