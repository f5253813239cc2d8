"""taptest - helpers for the tap tests: nws-hub with extra endpoints,
nws-tap and the standalone zmq_peer.py script as real processes.

Builds on tests/e2e/nwstest.py (imported, not copied): its Nws world
(temporary runtime dir, processes stopped and reaped, logs on failure),
its WebSocket clients and poll_until. Programs come from $NWS_HUB,
$NWS_GATEWAY and $NWS_TAP, else from the build/ folder of this checkout.
Only the standard library, python3-websocket and python3-zmq are used.
"""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import zmq  # noqa: E402

import nwstest  # noqa: E402
from nwstest import NwsTestCase, Proc, poll_until  # noqa: E402,F401

TAP = os.environ.get("NWS_TAP") or os.path.normpath(
    os.path.join(nwstest.BUILD, "tools", "nws-tap"))
PYTHON = "/usr/bin/python3"
ZMQ_PEER = os.path.join(HERE, "zmq_peer.py")
WAIT = 10.0                         # seconds for anything expected to happen

KIND_TEXT = 1
KIND_BINARY = 2
FLAG_FROM_PROXY = 0x01
FLAG_CONTROL = 0x02


def address_is_local(host, family=socket.AF_INET):
    """True if this machine has the address host (a socket can bind it)."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
        return True
    except OSError:
        return False


def ipv6_loopback():
    return address_is_local("::1", socket.AF_INET6)


def poll_equal(get, want, timeout, what):
    """Calls get() until it returns want (poll_until's deadline); the
    failure shows the last value got."""
    last = [None]

    def check():
        last[0] = get()
        return last[0] == want
    try:
        poll_until(check, timeout, what)
    except AssertionError:
        raise AssertionError("timed out after %.1fs waiting for %s: want %r, last got %r"
                             % (timeout, what, want, last[0])) from None


def parse_ready(line):
    """'ready in=A out=B in=C' -> {'in': [A, C], 'out': [B]}."""
    words = line.split()
    assert words[0] == "ready", line
    found = {}
    for word in words[1:]:
        key, _, value = word.partition("=")
        found.setdefault(key, []).append(value)
    return found


class Program:
    """A started program (not one that prints a ready line): stdout lines
    and stderr lines are collected by threads; always stopped by stop()."""

    def __init__(self, name, argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE):
        self.name = name
        self.argv = argv
        self.popen = subprocess.Popen(
            argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
            preexec_fn=nwstest._die_with_parent, close_fds=True)
        self.pid = self.popen.pid
        nwstest.registry().add_proc(self.pid)
        self.out = queue.Queue()        # stdout lines (bytes, without b"\n"); None at EOF
        self.err = []                   # stderr lines (str)
        self._threads = [threading.Thread(target=self._read_err, daemon=True)]
        if stdout == subprocess.PIPE:
            self._threads.append(threading.Thread(target=self._read_out, daemon=True))
        for t in self._threads:
            t.start()

    def _read_out(self):
        for raw in self.popen.stdout:
            self.out.put(raw[:-1] if raw.endswith(b"\n") else raw)
        self.out.put(None)

    def _read_err(self):
        for raw in self.popen.stderr:
            self.err.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def line(self, timeout=WAIT):
        """The next stdout line (bytes); AssertionError on timeout or EOF."""
        try:
            line = self.out.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("%s printed no line within %.0fs; stderr: %r"
                                 % (self.name, timeout, self.err[-5:]))
        if line is None:
            self.out.put(None)
            raise AssertionError("%s closed stdout (exit %r); stderr: %r"
                                 % (self.name, self.popen.poll(), self.err[-5:]))
        return line

    def lines(self, n, timeout=WAIT):
        return [self.line(timeout) for _ in range(n)]

    def no_more_output(self):
        """True if nothing more is queued on stdout right now."""
        return self.out.empty()

    def wait_stderr(self, text, timeout=WAIT):
        """Waits until a stderr line contains text; fails early if the
        program exits without printing it."""
        def check():
            if any(text in line for line in self.err):
                return True
            if self.popen.poll() is not None:
                self._threads[0].join(nwstest.STOP_TIMEOUT)
                if any(text in line for line in self.err):
                    return True
                raise AssertionError("%s exited (status %s) before printing %r; stderr: %r"
                                     % (self.name, self.popen.returncode, text, self.err))
            return False
        return poll_until(check, timeout, "%s to print %r on stderr" % (self.name, text))

    def wait_exit(self, timeout=WAIT):
        """Waits for the exit status; AssertionError if it still runs."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s still runs after %.0fs; stderr: %r"
                                 % (self.name, timeout, self.err[-5:]))
        for t in self._threads:
            t.join(timeout)
        nwstest.registry().remove_proc(self.pid)
        return code

    def stop(self):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        try:
            self.popen.wait(timeout=nwstest.STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        nwstest.registry().remove_proc(self.pid)
        for f in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass


class TapTestCase(NwsTestCase):
    """A fresh Nws world per test, plus a zmq context and helpers."""

    def setUp(self):
        super().setUp()
        if not os.access(TAP, os.X_OK):
            if os.environ.get("NWS_TAP"):
                raise AssertionError("$NWS_TAP=%s is not an executable" % TAP)
            self.skipTest("%s is not built (or set $NWS_TAP)" % TAP)
        self.ctx = zmq.Context()
        self.sockets = []
        self.programs = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for p in self.programs:
            p.stop()
        for s in self.sockets:
            s.close(linger=0)
        self.ctx.term()

    # -- processes --------------------------------------------------------

    def start_hub(self, *extra, grace_ms=0):
        """Starts nws-hub; returns its ready line parsed (parse_ready)."""
        argv = [nwstest.HUB, "--runtime-dir", self.nws.runtime_dir,
                "--grace-ms", str(grace_ms)] + list(extra)
        hub = Proc("hub", argv, self.nws._log("hub"))
        self.nws.procs.append(hub)
        line = hub.wait_ready("ready ")
        self.nws.hub = hub
        return parse_ready(line)

    def program(self, name, argv, **kw):
        p = Program(name, argv, **kw)
        self.programs.append(p)
        return p

    def tap(self, *args, **kw):
        """nws-tap with --runtime-dir of this world, e.g. tap("pub", "local/x", "hi")."""
        argv = [TAP, args[0], "--runtime-dir", self.nws.runtime_dir] + list(args[1:])
        return self.program("nws-tap " + args[0], argv, **kw)

    def run_tap(self, *args, stdin=None, timeout=WAIT):
        """Runs nws-tap to the end: (exit status, stdout bytes, stderr str)."""
        argv = [TAP, args[0], "--runtime-dir", self.nws.runtime_dir] + list(args[1:])
        r = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, preexec_fn=nwstest._die_with_parent)
        return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")

    def sub(self, *args):
        """nws-tap sub --ready ARGS..., returned once its subscriptions are
        confirmed (it printed 'ready' on stderr)."""
        p = self.tap("sub", "--ready", *args)
        p.wait_stderr("ready")
        return p

    def zmq_peer(self, *args, **kw):
        """tests/tap/zmq_peer.py (python3-zmq only, no project code)."""
        return self.program("zmq_peer " + args[0], [PYTHON, ZMQ_PEER] + list(args), **kw)

    # -- the hub from outside -------------------------------------------------

    def endpoint(self, name):
        return "ipc://%s/%s" % (self.nws.runtime_dir, name)

    def hub_json(self):
        with open(os.path.join(self.nws.runtime_dir, "hub.json")) as f:
            return json.load(f)

    def injector(self, endpoint=None):
        """An XPUB on the hub's publisher endpoint, returned once the hub's
        subscription has arrived (a PUB would drop what it sends before)."""
        s = self.ctx.socket(zmq.XPUB)
        self.sockets.append(s)
        s.connect(endpoint or self.endpoint("hub-in"))
        self.assertTrue(s.poll(int(WAIT * 1000), zmq.POLLIN), "the hub never subscribed")
        self.assertEqual(s.recv()[:1], b"\x01")
        return s
