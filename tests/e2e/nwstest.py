"""nwstest - end-to-end test harness for nws.

Starts nws-hub and nws-gateway as real processes over real sockets, waits
for the one `ready` line each prints on stdout (never sleeps for it), and
always stops them and removes their temporary directory, even when a test
fails. Programs come from $NWS_HUB and $NWS_GATEWAY, else from the
build/ folder of this checkout.

Crash safety: every process this harness starts is recorded, with its
kernel start time, in a file under /tmp/nws-e2e-pids/ named after the
harness process. On start, files left by harness processes that no longer
run are read and exactly the processes they list (same pid AND same start
time, so a reused pid is never hit) are killed, and their temporary
directories removed. Children also get PR_SET_PDEATHSIG, so they die with
the test process (note: with the *thread* that started them; start
processes from the main thread).

Only the standard library, python3-websocket (websocket-client 1.2.x) and
python3-zmq are used.
"""

import ctypes
import http.client
import json
import os
import queue
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import websocket

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "..", "..", "build")
HUB = os.environ.get("NWS_HUB") or os.path.normpath(os.path.join(BUILD, "hub", "nws-hub"))
GATEWAY = os.environ.get("NWS_GATEWAY") or os.path.normpath(
    os.path.join(BUILD, "gateway", "nws-gateway"))

PID_DIR = "/tmp/nws-e2e-pids"
TMP_PREFIX = "nws-e2e-"
READY_TIMEOUT = 10.0                # seconds for a process to print `ready`
STOP_TIMEOUT = 5.0                  # seconds for a process to exit on SIGTERM
RECV_TIMEOUT = 5.0                  # default seconds for one message to arrive

CLOSE_TOO_BIG = 1009
CLOSE_SLOW = 4001
CLOSE_GAP = 4002


# --------------------------------------------------------------------------
#  Process bookkeeping and reaping of leftovers from crashed runs

def _starttime(pid):
    """Kernel start time of pid (field 22 of /proc/pid/stat), or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[19])


class _Registry:
    """The pidfile of this harness process: '<kind> <pid> <starttime>' lines
    for processes, 'dir <path>' lines for temporary directories."""

    def __init__(self):
        self.lock = threading.Lock()
        self.procs = {}             # pid -> starttime
        self.dirs = set()           # temporary directories
        os.makedirs(PID_DIR, exist_ok=True)
        self.path = os.path.join(PID_DIR, "%d-%d.pids" % (os.getpid(), _starttime(os.getpid())))
        self.reaped = self._reap_leftovers()

    def _reap_leftovers(self):
        reaped = []
        for entry in os.listdir(PID_DIR):
            if not entry.endswith(".pids"):
                continue
            try:
                owner, owner_start = (int(x) for x in entry[:-5].split("-"))
            except ValueError:
                continue
            if owner == os.getpid() or _starttime(owner) == owner_start:
                continue            # that harness still runs (e.g. ctest -j)
            path = os.path.join(PID_DIR, entry)
            try:
                with open(path) as f:
                    lines = f.read().split("\n")
            except OSError:
                continue
            for line in lines:
                parts = line.split(" ", 1)
                if parts[0] == "proc":
                    pid, start = (int(x) for x in parts[1].split())
                    if _starttime(pid) == start:
                        try:
                            os.kill(pid, signal.SIGKILL)
                            reaped.append(pid)
                        except OSError:
                            pass
                elif parts[0] == "dir":
                    d = parts[1]
                    if os.path.basename(d).startswith(TMP_PREFIX):
                        shutil.rmtree(d, ignore_errors=True)
            try:
                os.unlink(path)
            except OSError:
                pass
        return reaped

    def _write(self):
        lines = ["proc %d %d" % kv for kv in self.procs.items()]
        lines += ["dir %s" % d for d in self.dirs]
        if not lines:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, self.path)

    def add_proc(self, pid):
        with self.lock:
            start = _starttime(pid)
            if start is not None:
                self.procs[pid] = start
                self._write()

    def remove_proc(self, pid):
        with self.lock:
            self.procs.pop(pid, None)
            self._write()

    def add_dir(self, d):
        with self.lock:
            self.dirs.add(d)
            self._write()

    def remove_dir(self, d):
        with self.lock:
            self.dirs.discard(d)
            self._write()


_registry = None


def registry():
    """The harness's registry; created (and leftovers reaped) on first use."""
    global _registry
    if _registry is None:
        _registry = _Registry()
    return _registry


def _die_with_parent():
    # Runs in the child between fork and exec: 1 = PR_SET_PDEATHSIG.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


class Proc:
    """One started program: its Popen, its stderr log and its ready line."""

    def __init__(self, name, argv, log_path, env=None):
        self.name = name            # e.g. "hub", "gateway-1"
        self.argv = argv
        self.log_path = log_path    # stderr goes here
        self.expected_exit = False  # set when the test stops it on purpose
        self.stdout_lines = []      # lines after the ready line
        self._ready = queue.Queue()
        log = open(log_path, "ab")
        try:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                env=env, preexec_fn=_die_with_parent, close_fds=True)
        finally:
            log.close()
        self.pid = self.popen.pid
        registry().add_proc(self.pid)
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    def _read_stdout(self):
        first = True
        for raw in self.popen.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if first:
                self._ready.put(line)
                first = False
            else:
                self.stdout_lines.append(line)
        if first:
            self._ready.put(None)

    def wait_ready(self, prefix="ready ", timeout=READY_TIMEOUT):
        """Waits for the first stdout line; returns it if it starts with prefix."""
        try:
            line = self._ready.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("%s printed no ready line within %.0fs\n%s"
                                 % (self.name, timeout, self.log_tail()))
        if line is None:
            code = self.popen.wait(timeout=STOP_TIMEOUT)
            raise AssertionError("%s exited (status %s) before it was ready\n%s"
                                 % (self.name, code, self.log_tail()))
        if not line.startswith(prefix):
            raise AssertionError("%s: first stdout line %r does not start with %r"
                                 % (self.name, line, prefix))
        self.ready_line = line
        return line

    def alive(self):
        return self.popen.poll() is None

    def send_signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def _reaped(self):
        """Bookkeeping once the process is gone."""
        registry().remove_proc(self.pid)
        self._reader.join(STOP_TIMEOUT)
        if not self._reader.is_alive():
            self.popen.stdout.close()

    def kill(self):
        """SIGKILL, on purpose; waits until it is gone."""
        self.expected_exit = True
        self.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=STOP_TIMEOUT)
        self._reaped()

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends sig and waits; returns the exit status, or None if it had to
        be SIGKILLed after timeout."""
        self.expected_exit = True
        if self.popen.poll() is not None:
            self._reaped()
            return self.popen.returncode
        self.popen.send_signal(sig)
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            code = None
        self._reaped()
        return code

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        tail = text.splitlines()[-lines:]
        return "--- %s (pid %d) stderr, last %d lines ---\n%s" % (
            self.name, self.pid, len(tail), "\n".join(tail))


class Gateway(Proc):
    """A started nws-gateway; .port is the port from its ready line."""

    def __init__(self, name, argv, log_path, bind, env=None):
        super().__init__(name, argv, log_path, env)
        self.bind = bind
        self.port = None

    def wait_ready(self, timeout=READY_TIMEOUT):
        line = super().wait_ready("ready ", timeout)
        for word in line.split()[1:]:
            if word.startswith("port="):
                self.port = int(word[5:])
        if not self.port:
            raise AssertionError("%s: ready line %r has no port=N" % (self.name, line))
        return line


# --------------------------------------------------------------------------
#  WebSocket clients

class Closed(AssertionError):
    """The server sent a close frame (or dropped the connection) while a
    message was expected."""

    def __init__(self, code, reason, url):
        self.code = code            # int, None if no close frame / no code
        self.reason = reason        # str
        super().__init__("%s was closed by the server: code %s %r" % (url, code, reason))


class Message:
    """A received WebSocket message: kind is 'text' (data is str) or
    'binary' (data is bytes)."""

    __slots__ = ("kind", "data")

    def __init__(self, kind, data):
        self.kind = kind
        self.data = data

    def __eq__(self, other):
        return (self.kind, self.data) == (other.kind, other.data)

    def __repr__(self):
        shown = self.data if len(self.data) <= 60 else self.data[:60]
        more = "" if len(self.data) <= 60 else "...(%d)" % len(self.data)
        return "%s(%r%s)" % (self.kind, shown, more)


def text(s):
    return Message("text", s)


def binary(b):
    return Message("binary", bytes(b))


class Client:
    """One WebSocket client connection (websocket-client underneath)."""

    def __init__(self, url, timeout=RECV_TIMEOUT, header=None, sockopt=()):
        self.url = url
        options = {"header": header} if header else {}
        self.ws = websocket.create_connection(
            url, timeout=timeout, sockopt=tuple(sockopt), enable_multithread=True, **options)
        self.timeout = timeout

    def send_text(self, s):
        self.ws.send(s, websocket.ABNF.OPCODE_TEXT)

    def send_binary(self, b):
        self.ws.send(bytes(b), websocket.ABNF.OPCODE_BINARY)

    def send(self, msg):
        if msg.kind == "text":
            self.send_text(msg.data)
        else:
            self.send_binary(msg.data)

    def _frame(self, timeout):
        """Next data or close frame as (opcode, data bytes)."""
        self.ws.settimeout(self.timeout if timeout is None else timeout)
        try:
            opcode, frame = self.ws.recv_data_frame(False)
        except websocket.WebSocketTimeoutException:
            raise AssertionError("%s: nothing received within %.1fs"
                                 % (self.url, self.timeout if timeout is None else timeout))
        except websocket.WebSocketPayloadException as e:
            raise AssertionError("%s: a text frame that is not valid UTF-8 (%s)" % (self.url, e))
        except (websocket.WebSocketConnectionClosedException, ConnectionError) as e:
            raise Closed(None, "connection dropped without close frame (%s)" % e, self.url)
        return opcode, frame.data

    def recv(self, timeout=None):
        """Next message; raises Closed on a close frame, AssertionError on
        timeout."""
        opcode, data = self._frame(timeout)
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return Message("text", data.decode("utf-8"))
        if opcode == websocket.ABNF.OPCODE_BINARY:
            return Message("binary", bytes(data))
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code, reason = _close_payload(data)
            raise Closed(code, reason, self.url)
        raise AssertionError("%s: unexpected opcode %r" % (self.url, opcode))

    def recv_n(self, n, timeout=None):
        return [self.recv(timeout) for _ in range(n)]

    def recv_close(self, timeout=None, limit=None):
        """Reads (and counts) data frames until a close frame; returns
        (code, reason, skipped). timeout applies to each frame."""
        skipped = 0
        while True:
            opcode, data = self._frame(timeout)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code, reason = _close_payload(data)
                return code, reason, skipped
            skipped += 1
            if limit is not None and skipped > limit:
                raise AssertionError("%s: more than %d messages and still no close frame"
                                     % (self.url, limit))

    def close(self):
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass
        try:
            self.ws.shutdown()
        except Exception:
            pass


def _close_payload(data):
    if len(data) >= 2:
        return struct.unpack("!H", data[:2])[0], data[2:].decode("utf-8", "replace")
    return None, ""


# --------------------------------------------------------------------------
#  HTTP

class Response:
    def __init__(self, status, headers, body):
        self.status = status        # int
        self.headers = headers      # dict, lower-case names
        self.body = body            # bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<HTTP %d %r>" % (self.status, self.body[:200])


UPGRADE_HEADERS = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


def http_request(port, path, method="GET", host="127.0.0.1", headers=None, body=None,
                 timeout=RECV_TIMEOUT):
    """One request on a fresh connection. A 101 answer is returned as is
    (its body is not read)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        data = b"" if resp.status == 101 or method == "HEAD" else resp.read()
        return Response(resp.status, hdrs, data)
    finally:
        conn.close()


def status_json(port, host="127.0.0.1"):
    r = http_request(port, "/status", host=host)
    if r.status != 200:
        raise AssertionError("GET /status on port %d: %r" % (port, r))
    return r.json()


def url_host(host):
    return "[%s]" % host if ":" in host else host


def note(fmt, *args):
    """A diagnostic line on stderr when $NWS_E2E_VERBOSE is set."""
    if os.environ.get("NWS_E2E_VERBOSE"):
        sys.stderr.write("nwstest: " + (fmt % args if args else fmt) + "\n")


# --------------------------------------------------------------------------
#  Waiting for a state

def poll_until(check, timeout, what, interval=0.02):
    """Calls check() until it returns a true value (returned) or timeout
    seconds pass (AssertionError naming what, with the last value). The
    pause between attempts only spaces the re-checks; the condition itself
    is what is waited for, bounded by the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    pause = threading.Event()
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                                 % (timeout, what, last))
        pause.wait(interval)


def run_threads(targets, timeout):
    """Runs each callable in its own thread; returns their results in
    order, re-raising the first exception. Fails if any is still running
    after timeout seconds."""
    results = [None] * len(targets)
    errors = [None] * len(targets)

    def wrap(i, fn):
        try:
            results[i] = fn()
        except BaseException as e:  # noqa: B902 - reported below
            errors[i] = e

    threads = [threading.Thread(target=wrap, args=(i, fn), daemon=True)
               for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = [i for i, t in enumerate(threads) if t.is_alive()]
    if stuck:
        raise AssertionError("threads %s still running after %.0fs" % (stuck, timeout))
    for e in errors:
        if e is not None:
            raise e
    return results


# --------------------------------------------------------------------------
#  One test's world: a runtime dir, a hub, gateways, clients

class Nws:
    def __init__(self, label="nws"):
        for var, prog in (("NWS_HUB", HUB), ("NWS_GATEWAY", GATEWAY)):
            if os.access(prog, os.X_OK):
                continue
            if os.environ.get(var):
                raise AssertionError("$%s=%s is not an executable" % (var, prog))
            raise unittest.SkipTest("%s is not built (or set $%s)" % (prog, var))
        reg = registry()
        self.dir = tempfile.mkdtemp(prefix=TMP_PREFIX)
        reg.add_dir(self.dir)
        self.runtime_dir = os.path.join(self.dir, "run")
        self.log_dir = os.path.join(self.dir, "log")
        os.makedirs(self.runtime_dir, mode=0o700)
        os.makedirs(self.log_dir)
        self.label = label
        self.procs = []
        self.clients = []
        self.hub = None
        self.log_tails = []         # filled by close(), for failure reports
        self._count = 0

    def _log(self, name):
        self._count += 1
        return os.path.join(self.log_dir, "%02d-%s.log" % (self._count, name))

    def start_hub(self, grace_ms=0, extra=()):
        """Starts nws-hub on this world's runtime dir (grace_ms None: its
        default) and waits until it is ready."""
        argv = [HUB, "--runtime-dir", self.runtime_dir]
        if grace_ms is not None:
            argv += ["--grace-ms", str(grace_ms)]
        argv += list(extra)
        hub = Proc("hub", argv, self._log("hub"))
        self.procs.append(hub)
        hub.wait_ready("ready ")
        self.hub = hub
        return hub

    def start_gateway(self, port=0, bind="127.0.0.1", max_message=None, send_queue=None,
                      extra=(), wrap=()):
        """Starts nws-gateway and waits for `ready port=N`. bind None leaves
        the default (::). wrap is a command that execs the gateway, e.g.
        prlimit with its options."""
        n = sum(1 for p in self.procs if isinstance(p, Gateway)) + 1
        argv = list(wrap) + [GATEWAY, "--port", str(port), "--runtime-dir", self.runtime_dir]
        if bind is not None:
            argv += ["--bind", bind]
        if max_message is not None:
            argv += ["--max-message", str(max_message)]
        if send_queue is not None:
            argv += ["--send-queue", str(send_queue)]
        argv += list(extra)
        gw = Gateway("gateway-%d" % n, argv, self._log("gateway-%d" % n), bind)
        self.procs.append(gw)
        gw.wait_ready()
        if port:
            assert gw.port == port, "%s asked for port %d, ready line says %d" % (
                gw.name, port, gw.port)
        return gw

    def url(self, gw, path, host="127.0.0.1"):
        port = gw if isinstance(gw, int) else gw.port
        return "ws://%s:%d%s" % (url_host(host), port, path)

    def client(self, gw, path, host="127.0.0.1", **kw):
        c = Client(self.url(gw, path, host), **kw)
        self.clients.append(c)
        return c

    def open_clients(self, gw, path, n, host="127.0.0.1", **kw):
        return [self.client(gw, path, host, **kw) for _ in range(n)]

    def check_alive(self):
        """AssertionError naming every process that exited without being
        asked to (a crash, an abort, an early exit)."""
        dead = [p for p in self.procs if not p.expected_exit and not p.alive()]
        if dead:
            raise AssertionError("process exited unexpectedly: " + "; ".join(
                "%s (pid %d) status %s\n%s" % (p.name, p.pid, p.popen.returncode, p.log_tail())
                for p in dead))

    def close(self):
        """Closes clients, checks no process died on its own, stops every
        process (SIGTERM, then SIGKILL) and removes the directory."""
        for c in self.clients:
            c.close()
        self.clients = []
        crashed = None
        try:
            self.check_alive()
        except AssertionError as e:
            crashed = e
        for p in reversed(self.procs):
            p.stop(signal.SIGTERM)
        self.log_tails = [p.log_tail() for p in self.procs]
        if os.environ.get("NWS_E2E_KEEP"):
            sys.stderr.write("nwstest: keeping %s\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        registry().remove_dir(self.dir)
        if crashed:
            raise crashed


class NwsTestCase(unittest.TestCase):
    """Each test gets self.nws (a fresh Nws world), closed after the test.
    When the test fails, the last stderr lines of its processes are shown."""

    def setUp(self):
        self.nws = Nws(self.id())
        self.addCleanup(self.nws.close)

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        nws = getattr(self, "nws", None)
        if nws is not None and len(result.failures) + len(result.errors) > before:
            sys.stderr.write("\n==== %s: process logs ====\n%s\n"
                             % (self.id(), "\n".join(nws.log_tails)))
        return out

    # -- assertions used by several test files --------------------------

    def assertReceives(self, client, expected, timeout=None, what=""):
        """client receives exactly the messages in expected, in order."""
        got = []
        for i, want in enumerate(expected):
            try:
                msg = client.recv(timeout)
            except AssertionError as e:
                raise AssertionError("%s: message %d of %d: expected %r, got %s (received so far: %r)"
                                     % (what or client.url, i + 1, len(expected), want, e,
                                        got[-5:]))
            if msg != want:
                raise AssertionError("%s: message %d of %d: expected %r, got %r (previous: %r)"
                                     % (what or client.url, i + 1, len(expected), want, msg,
                                        got[-3:]))
            got.append(msg)

    def assertClosedWith(self, client, code, timeout=None, limit=None):
        """client is closed by the server with code (data frames before the
        close frame are skipped); returns how many were skipped."""
        got, reason, skipped = client.recv_close(timeout, limit)
        self.assertEqual(got, code, "%s: close code (reason %r)" % (client.url, reason))
        return skipped

    def assertHttp(self, port, path, status, method="GET", host="127.0.0.1", headers=None):
        r = http_request(port, path, method=method, host=host, headers=headers)
        self.assertEqual(r.status, status, "%s %s on %s:%d: %r" % (method, path, host, port, r))
        return r


def main():
    unittest.main(verbosity=2)
