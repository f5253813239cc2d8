#!/usr/bin/python3
"""Proves the multi-host harness (hosts.py): three namespaced "hosts" with
their own D-Bus and avahi-daemon see each other's DNS-SD adverts, a withdrawn
advert disappears, a host cut off the LAN stops seeing new adverts and sees
them again once reconnected, an avahi-daemon can be restarted, and nothing is
left behind (also after a run that crashed).  Needs root.  Timings go to
stderr as lines starting with "multihost:"."""

import os
import signal
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hosts  # noqa: E402
from hosts import Hosts, cleanup_stale, netns_list, wait_for  # noqa: E402

STYPE = "_ws._tcp"


def note(fmt, *args):
    print("multihost: " + fmt % args, file=sys.stderr, flush=True)


def named(name):
    return lambda ev: ev["name"] == name


def resolved(name):
    return lambda ev: ev["name"] == name and ev["event"] == "="


def removed(name):
    return lambda ev: ev["name"] == name and ev["event"] == "-"


class HarnessTest(unittest.TestCase):
    hs = None

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (network namespaces)")
        cls.hs = Hosts(3)
        cls.hs.__enter__()
        note("setup of 3 hosts: %.2fs (network %.2fs)",
             cls.hs.timings["setup"], cls.hs.timings["net"])
        cls.h0, cls.h1, cls.h2 = cls.hs
        cls.b1 = cls.h1.browser(STYPE)
        cls.b2 = cls.h2.browser(STYPE)

    @classmethod
    def tearDownClass(cls):
        if cls.hs is None:
            return
        hs = cls.hs
        procs = [p for h in hs for p, _ in h._procs] + [h.anchor for h in hs]
        hs.__exit__(None, None, None)
        note("teardown: %.2fs", hs.timings["teardown"])
        # nothing left behind
        left = [ns for ns in netns_list() if ns.startswith(hs.prefix + "-")]
        assert not left, "namespaces left: %s" % left
        alive = [p.pid for p in procs if hosts.proc_starttime(p.pid) is not None]
        assert not alive, "processes left: %s" % alive
        assert not os.path.exists(hs.dir), hs.dir
        assert not os.path.exists("/tmp/%s.pids" % hs.prefix)

    # ---------------------------------------------------------------- tests

    def test_0_topology(self):
        for k, h in enumerate(self.hs):
            self.assertEqual(h.addr, "10.77.0.%d" % (10 + k))
            link = h.ip("-o", "link", "show", h.ifname).stdout
            self.assertIn("MULTICAST", link)
            self.assertIn("UP", link)
            route = h.ip("route", "get", "224.0.0.251").stdout
            self.assertIn("dev " + h.ifname, route)
            # own /run: its own bus socket, invisible to the other hosts
            names = h.dbus_names()
            self.assertIn("org.freedesktop.Avahi", names)
            self.assertEqual(h.avahi_state(), 2)
            r = h.run(["cat", "/proc/self/mountinfo"])
            self.assertRegex(r.stdout, r" /run .* - tmpfs ")
        ids = {(st.st_dev, st.st_ino) for st in
               (os.stat(h.path(hosts.SYSTEM_BUS_SOCKET)) for h in self.hs)}
        self.assertEqual(len(ids), 3)
        # the root namespace's interfaces are untouched by the harness
        root = subprocess.run(["ip", "-o", "link"], stdout=subprocess.PIPE,
                              text=True).stdout
        self.assertNotIn(" mh0", root)
        self.assertNotIn(" br0", root)
        # TCP between hosts works (what nws-discovery's links will need)
        srv = self.h1.popen(["python3", "-c",
                             "import socket;s=socket.socket();"
                             "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
                             "s.bind(('0.0.0.0',9009));s.listen();print('ok',flush=True);"
                             "c,_=s.accept();c.sendall(b'hello from h1')"],
                            stdout=subprocess.PIPE, text=True)
        self.assertEqual(srv.stdout.readline().strip(), "ok")
        r = self.h0.run(["python3", "-c",
                         "import socket;s=socket.create_connection(('%s',9009),5);"
                         "print(s.recv(100).decode())" % self.h1.addr], timeout=10)
        self.assertEqual(r.stdout.strip(), "hello from h1", r.stderr)
        srv.wait(5)
        srv.stdout.close()

    def test_1_publish_seen_and_withdrawn(self):
        name = "123.chat._bws"
        m1, m2 = self.b1.mark(), self.b2.mark()
        t0 = time.monotonic()
        pub = self.h0.publish(name, STYPE, 9009, "path=/broadcast/chat")
        ev = self.b1.wait(resolved(name), 15, m1, "advert in h1")
        note("advert published in h0 resolved in h1 after %.2fs", ev["t"] - t0)
        ev2 = self.b2.wait(resolved(name), 15, m2, "advert in h2")
        note("advert published in h0 resolved in h2 after %.2fs", ev2["t"] - t0)
        # as one-shot `avahi-browse -r -t -p` sees it, in h1 and h2
        for h in (self.h1, self.h2):
            t1 = time.monotonic()
            found = wait_for(lambda: [d for d in h.browse(STYPE) if d["name"] == name],
                             15, what="%s in %s" % (name, h.name))
            note("avahi-browse -r -t -p in %s: %.2fs", h.name, time.monotonic() - t1)
            for d in found:
                self.assertEqual(d["iface"], h.ifname)
                self.assertEqual(d["address"], self.h0.addr)
                self.assertEqual(d["port"], 9009)
                self.assertEqual(d["txt"], ["path=/broadcast/chat"])
                self.assertEqual(d["host"], self.h0.hostname + ".local")
        # withdrawn when the publisher goes away
        m1 = self.b1.mark()
        t0 = time.monotonic()
        self.h0.kill(pub)
        ev = self.b1.wait(removed(name), 15, m1, "withdrawal in h1")
        note("publisher killed in h0: removed in h1 after %.2fs", ev["t"] - t0)
        wait_for(lambda: not [d for d in self.h1.browse(STYPE, resolve=False)
                              if d["name"] == name],
                 15, what="%s gone from h1" % name)
        note("gone from avahi-browse -t in h1 after %.2fs", time.monotonic() - t0)

    def test_2_link_down_up(self):
        before = "1.before._bws"
        pub0 = self.h0.publish(before, STYPE, 9009, "path=/broadcast/before")
        self.b2.wait(resolved(before), 15, 0, "first advert in h2")
        t0 = time.monotonic()
        m2 = self.b2.mark()
        self.h2.link_down()
        self.addCleanup(self.h2.link_up)       # also if an assertion fails
        # h2's avahi drops the interface and what it had learnt on it
        self.b2.wait(removed(before), 10, m2, "h2 forgets adverts after link down")
        note("link down: h2 forgot old adverts after %.2fs", time.monotonic() - t0)
        name = "456.after._bws"
        m1, m2 = self.b1.mark(), self.b2.mark()
        pub = self.h0.publish(name, STYPE, 9009, "path=/broadcast/after")
        self.b1.wait(resolved(name), 15, m1, "new advert in h1")
        # h1 has it: h0 announced it.  h2, cut off, must not see it
        seen = [d["name"] for d in self.h2.browse(STYPE, resolve=False)]
        self.assertNotIn(name, seen)
        self.assertFalse([e for e in self.b2.events[m2:] if e["name"] == name])
        m2 = self.b2.mark()
        t0 = time.monotonic()
        self.h2.link_up()
        ev = self.b2.wait(resolved(name), 20, m2, "new advert in h2 after link up")
        note("link up: running browser in h2 resolved the new advert after %.2fs",
             ev["t"] - t0)
        found = wait_for(lambda: [d for d in self.h2.browse(STYPE) if d["name"] == name],
                         20, what="new advert via avahi-browse -t in h2")
        self.assertEqual(found[0]["address"], self.h0.addr)
        self.assertEqual(found[0]["txt"], ["path=/broadcast/after"])
        self.h0.kill(pub)
        self.h0.kill(pub0)

    def test_3_silent_partition(self):
        # switch side down: h2 keeps its interface but hears nothing
        self.h2.link_down(side="switch")
        self.addCleanup(self.h2.link_up, side="switch")
        name = "789.silent._bws"
        m1 = self.b1.mark()
        pub = self.h0.publish(name, STYPE, 9009, "path=/broadcast/silent")
        self.b1.wait(resolved(name), 15, m1, "advert in h1")
        seen = [d["name"] for d in self.h2.browse(STYPE, resolve=False)]
        self.assertNotIn(name, seen)
        m2 = self.b2.mark()
        t0 = time.monotonic()
        self.h2.link_up(side="switch")
        # nothing re-announces by itself; a fresh query finds it
        wait_for(lambda: [d for d in self.h2.browse(STYPE) if d["name"] == name],
                 20, what="advert in h2 after the partition healed")
        note("partition healed: avahi-browse -t in h2 found the advert after %.2fs",
             time.monotonic() - t0)
        self.h0.kill(pub)

    def test_4_avahi_restart(self):
        name = "42.restart._bws"
        for sig in (signal.SIGTERM, signal.SIGKILL):
            t0 = time.monotonic()
            self.h0.stop_avahi(sig)
            self.assertIsNone(self.h0.avahi_state())
            self.h0.start_avahi()
            note("avahi-daemon in h0 restarted (after %s) in %.2fs",
                 signal.Signals(sig).name, time.monotonic() - t0)
            m1 = self.b1.mark()
            pub = self.h0.publish(name, STYPE, 9009, "path=/broadcast/restart")
            self.b1.wait(resolved(name), 15, m1, "advert after restart in h1")
            m1 = self.b1.mark()
            self.h0.kill(pub)
            self.b1.wait(removed(name), 15, m1, "withdrawal after restart in h1")

    def test_5_cleanup_stale(self):
        # a run that dies without cleaning up (kill -9) is reaped next time
        prefix = "%s%dx" % (hosts.BASE_PREFIX, os.getpid())
        code = ("import sys,time; sys.path.insert(0,%r); import hosts; "
                "h=hosts.Hosts(1, prefix=%r).__enter__(); "
                "print(h[0].anchor_pid, h[0].avahi.pid, flush=True); time.sleep(300)"
                % (os.path.dirname(os.path.abspath(__file__)), prefix))
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                 text=True, start_new_session=True)
        try:
            line = child.stdout.readline()
            self.assertTrue(line, "crashing child did not start")
            pids = [int(x) for x in line.split()]
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            child.stdout.close()
        self.assertIn(prefix + "-h0", netns_list())
        self.assertTrue(all(hosts.proc_starttime(p) for p in pids))
        t0 = time.monotonic()
        cleaned = cleanup_stale()
        note("cleanup_stale after a kill -9: %.2fs", time.monotonic() - t0)
        self.assertIn(prefix, cleaned)
        self.assertNotIn(self.hs.prefix, cleaned)            # live owner kept
        self.assertFalse([ns for ns in netns_list() if ns.startswith(prefix + "-")])
        wait_for(lambda: not any(hosts.proc_starttime(p) for p in pids), 5,
                 what="stale processes gone")
        self.assertFalse(os.path.exists("/tmp/%s.pids" % prefix))
        self.assertFalse([f for f in os.listdir("/tmp") if f.startswith(prefix + "-")])
        # ours still works
        self.assertEqual(self.h1.avahi_state(), 2)


SKIP = 77       # ctest SKIP_RETURN_CODE


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("multihost: skipped: needs root (network namespaces)", file=sys.stderr)
        sys.exit(SKIP)
    missing = [p for p in ("ip", "nsenter", "unshare", "dbus-daemon", "dbus-send",
                           "avahi-daemon", "avahi-browse", "avahi-publish")
               if not hosts.shutil.which(p, path=os.environ.get("PATH", "") +
                                         ":/usr/sbin:/sbin")]
    if missing:
        print("multihost: skipped: missing %s" % " ".join(missing), file=sys.stderr)
        sys.exit(SKIP)
    unittest.main(verbosity=2)
