"""hardtest - helpers for the bad-input tests of nws (issue 7).

Builds on tests/e2e/nwstest.py (imported, not copied: real nws-hub and
nws-gateway processes on free ports, waited for by their `ready` line,
always stopped). Adds what an attacker needs and a well-behaved client
does not have:

* `frame()`: one WebSocket frame crafted bit by bit (FIN, RSV, opcode,
  MASK, any length field, any payload);
* `RawWs`: a bare TCP socket that does its own handshake (or a broken
  one), sends those bytes as they are -- in one write or one byte per
  write -- and reports what the server did: a close frame with its code,
  a dropped connection, or nothing;
* `raw_http()`: a request written byte for byte, and the status line of
  the answer (or that there was none);
* `Bystanders`: two python3-websocket clients on the attacked channel that
  must keep talking to each other after every attack;
* `metrics()` (urllib, the Prometheus text of /metrics), `rss_kib()`;
* `netns_*`: running part of a test file inside a private network
  namespace (`unshare -n`) where 10.253.0.x are non-loopback addresses of
  this namespace only, as tests/e2e/test_http.py does.

Only the standard library and python3-websocket, as in tests/e2e.
"""

import contextlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.dont_write_bytecode = True      # no __pycache__ in the source tree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import nwstest  # noqa: E402
from nwstest import (CLOSE_TOO_BIG, Closed, NwsTestCase, binary, main,  # noqa: E402,F401
                     note, poll_until, run_threads, status_json, text)

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL = 1002
CLOSE_INVALID_PAYLOAD = 1007

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

MASK_KEY = b"\x37\xfa\x21\x3d"
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="     # RFC 6455 section 1.3's example

UPGRADE_LINES = [
    "Connection: Upgrade",
    "Upgrade: websocket",
    "Sec-WebSocket-Key: " + WS_KEY,
    "Sec-WebSocket-Version: 13",
]


# --------------------------------------------------------------------------
#  Crafting frames

def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None, length_form=None,
          key=MASK_KEY):
    """One WebSocket frame as bytes (RFC 6455 section 5.2).

    rsv: the three RSV bits as a number 0-7 (4 = RSV1, 2 = RSV2, 1 = RSV3).
    length: the payload length written in the header (default: the real
    one); with length_form 7, 16 or 64 the length field takes that form
    whatever the value (64 lets the most significant bit be set).
    mask: a client frame is masked with key (RFC 6455 5.3); mask=False
    sends it unmasked, which a server must refuse.
    """
    payload = bytes(payload)
    n = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)])
    bit = 0x80 if mask else 0
    form = length_form or (7 if n < 126 else 16 if n < 65536 else 64)
    if form == 7:
        head.append(bit | n)
    elif form == 16:
        head.append(bit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(bit | 127)
        head += struct.pack("!Q", n)
    if mask:
        head += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes(head) + payload


def close_frame(code=None, reason=b"", **kw):
    """A (masked) close frame with code and reason, or empty (code None)."""
    payload = b"" if code is None else struct.pack("!H", code) + reason
    return frame(OP_CLOSE, payload, **kw)


def hexdump(data, limit=48):
    shown = data[:limit].hex(" ")
    return shown + (" ...(%d bytes)" % len(data) if len(data) > limit else "")


# --------------------------------------------------------------------------
#  A raw client

class Outcome:
    """What the server did with a connection: kind is 'close' (a close
    frame arrived: code, reason), 'drop' (EOF or reset without a close
    frame) or 'open' (nothing within the time allowed). messages: data
    frames that arrived before; pings: ping frames that arrived before;
    after: seconds from the start of the wait to the outcome."""

    def __init__(self, kind, code=None, reason="", messages=(), pings=0, after=0.0,
                 tcp_closed=None):
        self.kind = kind
        self.code = code
        self.reason = reason
        self.messages = list(messages)
        self.pings = pings
        self.after = after
        self.tcp_closed = tcp_closed    # after a close frame: did the TCP connection end?
        self.tcp_after = 0.0            # ... how long after the close frames

    def __repr__(self):
        if self.kind == "close":
            what = "close frame %s %r" % (self.code, self.reason)
        elif self.kind == "drop":
            what = "connection dropped without a close frame"
        else:
            what = "nothing (connection still open)"
        extra = ""
        if self.messages:
            extra += ", %d data frames before" % len(self.messages)
        if self.pings:
            extra += ", %d pings before" % self.pings
        return "<%s after %.2fs%s>" % (what, self.after, extra)


class HandshakeRefused(AssertionError):
    pass


class RawWs:
    """A WebSocket connection on a bare TCP socket (TCP_NODELAY): it sends
    whatever bytes it is given and parses the server's frames itself."""

    def __init__(self, port, path, host="127.0.0.1", lines=None, timeout=5.0, handshake=True):
        self.port = port
        self.path = path
        self.buf = b""
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.status = None
        self.head = b""
        self.closed_at = None           # when the server's close frame arrived
        if handshake:
            try:
                self.handshake(lines)
            except BaseException:
                self.sock.close()
                raise

    def handshake(self, lines=None):
        request = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n\r\n" % (
            self.path, self.port, "\r\n".join(UPGRADE_LINES if lines is None else lines))
        self.sock.sendall(request.encode())
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if time.monotonic() > deadline:
                raise AssertionError("no handshake answer for %s within %.0fs" % (
                    self.path, self.timeout))
            data = self.sock.recv(4096)
            if not data:
                raise HandshakeRefused("%s: connection closed during the handshake (got %r)"
                                       % (self.path, self.buf[:200]))
            self.buf += data
        self.head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(self.head.split(b" ", 2)[1])
        if self.status != 101:
            raise HandshakeRefused("%s: handshake answered %r" % (self.path, self.head[:200]))

    def send(self, data, byte_by_byte=False):
        """Sends data; a reset or broken pipe (the server closed while we
        were writing) is not an error here: the outcome says what happened."""
        try:
            if byte_by_byte:
                for i in range(len(data)):
                    self.sock.sendall(data[i:i + 1])
            else:
                self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _read(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError()
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self, deadline):
        """(fin, opcode, payload) of the next server frame; EOFError at end
        of stream, socket.timeout at deadline. Server frames must not be
        masked (RFC 6455 5.1)."""
        b0, b1 = self._read(2, deadline)
        if b1 & 0x80:
            raise AssertionError("the server sent a masked frame (RFC 6455 5.1 forbids it)")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8, deadline))[0]
        return bool(b0 & 0x80), b0 & 0x0F, self._read(n, deadline)

    def outcome(self, timeout=5.0, answer_close=True, wait_tcp=True):
        """Waits up to timeout for the server to close or drop the
        connection. When a close frame arrives it is answered with a close
        frame of the same code (as a client should); with wait_tcp the
        server must then end the TCP connection within 8 s (tcp_closed,
        tcp_after): lws waits up to 5 s for an answer it can parse."""
        start = time.monotonic()
        deadline = start + timeout
        messages, pings = [], 0
        try:
            while True:
                fin, op, payload = self.read_frame(deadline)
                if op == OP_CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    reason = payload[2:].decode("utf-8", "replace")
                    self.closed_at = time.monotonic()
                    out = Outcome("close", code, reason, messages, pings, self.closed_at - start)
                    out.raw_payload = payload
                    if answer_close:
                        self.send(close_frame(code if code and code not in (1005, 1006) else None))
                    if wait_tcp:
                        out.tcp_closed = self.wait_eof(8.0)
                        out.tcp_after = time.monotonic() - self.closed_at
                    return out
                if op == OP_PING:
                    pings += 1
                elif op in (OP_TEXT, OP_BINARY, OP_CONT):
                    messages.append((op, payload))
        except (EOFError, ConnectionResetError):
            return Outcome("drop", None, "", messages, pings, time.monotonic() - start, True)
        except socket.timeout:
            return Outcome("open", None, "", messages, pings, time.monotonic() - start, False)

    def wait_eof(self, timeout):
        """True once the server has ended the TCP connection (within timeout)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                # At least one look (past what is already there), even when
                # the time is up already.
                self.sock.settimeout(max(0.05, deadline - time.monotonic()))
                if not self.sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def raw_http(port, request, host="127.0.0.1", timeout=5.0, byte_by_byte=False):
    """Sends request (bytes) on a fresh connection and reads until the
    server ends it or timeout. Returns (status or None, head bytes, all
    bytes, seconds, how it ended: 'upgraded' (a 101), 'answered' (a whole
    response; the connection may stay open), 'eof', 'reset', 'timeout' or
    'send-failed')."""
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.monotonic()
    data = b""
    ended = "eof"
    try:
        try:
            if byte_by_byte:
                for i in range(len(request)):
                    s.sendall(request[i:i + 1])
            else:
                s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            ended = "send-failed"
        try:
            while True:
                s.settimeout(max(0.01, start + timeout - time.monotonic()))
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if _response_complete(data):
                    ended = "upgraded" if data.startswith(b"HTTP/1.1 101") else "answered"
                    break
        except ConnectionResetError:
            ended = "reset"
        except socket.timeout:
            ended = "timeout"
    finally:
        s.close()
    status = None
    head = data.split(b"\r\n\r\n", 1)[0]
    if data.startswith(b"HTTP/"):
        try:
            status = int(data.split(b" ", 2)[1])
        except (IndexError, ValueError):
            pass
    return status, head, data, time.monotonic() - start, ended


def _response_complete(data):
    """A whole response is in data: a 101 head, or a head and as much body
    as its Content-Length says (the connection may stay open after it)."""
    if b"\r\n\r\n" not in data or not data.startswith(b"HTTP/"):
        return False
    head, body = data.split(b"\r\n\r\n", 1)
    if head.startswith(b"HTTP/1.1 101"):
        return True
    length = header_value(head, "content-length")
    return length is not None and length.isdigit() and len(body) >= int(length)


def upgrade_request(path, port, method="GET", version="HTTP/1.1", lines=None, host=True,
                    extra=()):
    """The bytes of an upgrade request; lines replaces UPGRADE_LINES."""
    head = ["%s %s %s" % (method, path, version)]
    if host:
        head.append("Host: 127.0.0.1:%d" % port)
    head += UPGRADE_LINES if lines is None else lines
    head += list(extra)
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")


def header_value(head, name):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower().encode():
            return v.strip().decode("latin-1")
    return None


# --------------------------------------------------------------------------
#  The clients who must not notice anything

class Bystanders:
    """Two well-behaved clients (python3-websocket) on the attacked
    channel. check() has each send to the other and requires that exactly
    that arrives first: nothing of an attack leaked to them, and they
    still talk both ways."""

    def __init__(self, nws, gw, path):
        self.nws = nws
        self.gw = gw
        self.path = path
        self.a = nws.client(gw, path)
        self.b = nws.client(gw, path)
        self.rounds = 0

    def check(self, case, what, newcomer=True):
        self.rounds += 1
        tag = "after %s #%d" % (what, self.rounds)
        self.a.send_text(tag)
        case.assertReceives(self.b, [text(tag)], what="bystander b on %s, %s" % (self.path, tag))
        blob = tag.encode() + b"\x00\xff"
        self.b.send_binary(blob)
        case.assertReceives(self.a, [binary(blob)], what="bystander a on %s, %s" % (self.path, tag))
        if not newcomer:
            return
        # A newcomer still gets in and is heard by both.
        c = nwstest.Client(self.nws.url(self.gw, self.path))
        try:
            c.send_text("newcomer " + tag)
            for who, name in ((self.a, "a"), (self.b, "b")):
                case.assertReceives(who, [text("newcomer " + tag)],
                                    what="bystander %s on %s, newcomer %s" % (name, self.path, tag))
        finally:
            c.close()


class PingAnswerer:
    """Keeps reading a nwstest.Client in a thread so that python3-websocket
    answers the server's pings (it does so inside recv); data messages are
    collected in .messages, a close or drop ends it (.ended)."""

    def __init__(self, client):
        self.client = client
        self.messages = []
        self.ended = None
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        ws = self.client.ws
        ws.settimeout(None)
        try:
            while True:
                opcode, fr = ws.recv_data_frame(False)
                with self.lock:
                    if opcode == 0x8:
                        self.ended = "close frame %r" % (fr.data[:2],)
                        self.arrived.notify_all()
                        return
                    self.messages.append(fr.data)
                    self.arrived.notify_all()
        except Exception as e:  # noqa: B902 - any end is reported
            with self.lock:
                self.ended = "%s: %s" % (type(e).__name__, e)
                self.arrived.notify_all()

    def wait_message(self, data, timeout=5.0):
        if isinstance(data, str):
            data = data.encode()
        deadline = time.monotonic() + timeout
        with self.lock:
            while data not in self.messages:
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    raise AssertionError("%r did not arrive within %.0fs (got %r, ended: %s)"
                                         % (data, timeout, self.messages[-3:], self.ended))
                self.arrived.wait(left)


# --------------------------------------------------------------------------
#  Counters and resources

def metrics(port, host="127.0.0.1"):
    """GET /metrics as {name: value} (Prometheus text, no labels)."""
    with urllib.request.urlopen("http://%s:%d/metrics" % (host, port), timeout=5) as r:
        if r.status != 200:
            raise AssertionError("GET /metrics: status %d" % r.status)
        body = r.read().decode("utf-8")
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def status(port):
    return status_json(port)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def log_text(proc):
    try:
        with open(proc.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------
#  The common test case

class HardeningCase(NwsTestCase):
    """A hub, one gateway (GATEWAY_ARGS) and two bystanders on CHANNEL."""

    GATEWAY_ARGS = ()
    GATEWAY_WRAP = ()               # a command that execs the gateway (prlimit ...)
    CHANNEL = "/local/target"
    BIND = "127.0.0.1"

    def setUp(self):
        super().setUp()
        self.nws.start_hub()
        self.gw = self.nws.start_gateway(bind=self.BIND, extra=self.GATEWAY_ARGS,
                                         wrap=self.GATEWAY_WRAP)
        self.port = self.gw.port
        self.by = Bystanders(self.nws, self.gw, self.CHANNEL)
        self.raws = []
        self.pending_ends = []
        self.addCleanup(self._close_raws)

    @contextlib.contextmanager
    def attempt(self, **params):
        """subTest(**params); when it fails, the bystanders are replaced so
        that what the failure left in their streams does not fail the
        attempts that follow."""
        with self.subTest(**params):
            try:
                yield
            except BaseException:
                for c in (self.by.a, self.by.b):
                    c.close()
                self.by = Bystanders(self.nws, self.gw, self.CHANNEL)
                raise

    def assertReceives(self, client, expected, timeout=None, what=""):
        try:
            super().assertReceives(client, expected, timeout, what)
        except UnicodeDecodeError as e:
            raise AssertionError("%s: received a text message that is not UTF-8 (%s); expected "
                                 "%r" % (what or client.url, e, expected))

    def _close_raws(self):
        for r in self.raws:
            r.close()

    def raw(self, path=None, **kw):
        r = RawWs(self.port, path or self.CHANNEL, **kw)
        self.raws.append(r)
        return r

    def assertUndisturbed(self, what, newcomer=True):
        """The gateway runs, the bystanders talk both ways and nothing of
        the attack reached them, and (newcomer) a newcomer can join and
        talk."""
        self.nws.check_alive()
        self.by.check(self, what, newcomer)

    def assertOutcome(self, out, kind, code=None, what="", sent=b""):
        got = (out.kind, out.code) if kind == "close" else (out.kind,)
        want = (kind, code) if kind == "close" else (kind,)
        self.assertEqual(got, want, "%s: sent %s; expected %s, got %r; gateway log tail:\n%s"
                         % (what, hexdump(sent), want, out, self.gw.log_tail(8)))
        if kind == "close" and out.tcp_closed is not None:
            if out.tcp_after > 1:
                note("%s: the TCP connection ended %.1fs after the close frames", what,
                     out.tcp_after)
            self.assertTrue(out.tcp_closed, "%s: after the close handshake the server must "
                            "end the TCP connection (%r)" % (what, out))

    def attack(self, what, data, kind, code=None, byte_by_byte=False, timeout=5.0,
               delivered=(), path=None, header_bytes=0, or_drop=False):
        """Sends data on a fresh connection (after a good handshake; in one
        write, one byte per write, or header_bytes one per write then the
        rest in one) and asserts the outcome (kind 'close' with code, 'drop' or 'open') and
        that the bystanders got exactly delivered (from a valid part of
        data) and nothing else. or_drop: a dropped connection is accepted
        too, where lws 4.1 may drop instead of sending its close frame
        (README, "Limits and close codes"). A connection closed with a
        close frame is kept open on our side until assertAttackersGone():
        the server must end each (waits overlap instead of adding up)."""
        raw = self.raw(path)
        if header_bytes:
            # The first header_bytes one per write, the rest in one.
            raw.send(data[:header_bytes], byte_by_byte=True)
            raw.send(data[header_bytes:])
        else:
            raw.send(data, byte_by_byte=byte_by_byte)
        out = raw.outcome(timeout, wait_tcp=False)
        if not (or_drop and out.kind == "drop"):
            self.assertOutcome(out, kind, code, what, data)
        if out.kind == "close":
            self.pending_ends.append((what, raw))
        else:
            raw.close()
        self.assertEqual(out.messages, [], "%s: the server sent data to the attacker" % what)
        for who in (self.by.a, self.by.b):
            self.assertReceives(who, list(delivered), what="%s: the valid part" % what)
        return out

    def assertAttackersGone(self, within=8.0):
        """Every connection attack() saw closed with a close frame (and
        answered) has been ended by the server, within `within` seconds of
        its close frame (lws waits up to 5 s for an answer it can parse)."""
        slow = []
        for what, raw in self.pending_ends:
            left = raw.closed_at + within - time.monotonic()
            if not raw.wait_eof(max(0.0, left)):
                slow.append(what)
            raw.close()
        self.pending_ends = []
        self.assertEqual(slow, [], "connections the server did not end within %.0fs of the close "
                         "frames" % within)


# --------------------------------------------------------------------------
#  Private network namespaces (as tests/e2e/test_http.py)

NETNS_ENV = "NWS_HARDENING_IN_NETNS"
OTHER = "10.253.0.1"                # addresses on lo, inside our namespace only
OTHER2 = "10.253.0.2"


def netns_available():
    """None if `unshare -n` works here, else why not."""
    if os.geteuid() != 0:
        return "needs root for unshare -n (a private network namespace)"
    try:
        probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "unshare -n is not available: %s" % e
    if probe.returncode != 0:
        return "unshare -n failed: %s" % probe.stderr.decode(errors="replace").strip()
    return None


def netns_run(case, test_file, child_class, timeout=120):
    """Runs child_class of test_file under `unshare -n`; case fails unless
    every test there ran and passed."""
    why = netns_available()
    if why:
        case.skipTest(why)
    env = dict(os.environ, **{NETNS_ENV: "1"})
    child = subprocess.run(
        ["unshare", "-n", sys.executable, os.path.abspath(test_file), "-v", child_class],
        env=env, capture_output=True, timeout=timeout)
    out = child.stdout.decode(errors="replace") + child.stderr.decode(errors="replace")
    case.assertEqual(child.returncode, 0, "tests inside the namespace failed:\n" + out)
    lines = out.strip().splitlines()
    case.assertEqual(lines[-1] if lines else "", "OK",
                     "every test inside the namespace must run and pass:\n" + out)
    note("inside the namespace:\n%s", out)


def netns_enter(case):
    """In setUp of a class that runs only inside the namespace: refuses to
    go on unless this is a fresh namespace (lo only), then adds OTHER and
    OTHER2 to lo."""
    if os.environ.get(NETNS_ENV) != "1":
        case.skipTest("runs only inside the namespace made by netns_run")
    names = [n for _, n in socket.if_nameindex()]
    if names != ["lo"]:
        raise AssertionError("not in a private network namespace (interfaces %r)" % names)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", "lo"],
                           capture_output=True, check=True).stdout.decode()
    for addr in (OTHER, OTHER2):
        if " %s/32 " % addr not in shown:
            subprocess.run(["ip", "addr", "add", addr + "/32", "dev", "lo"], check=True)


def netns_suite(loader, outer, inner):
    """load_tests body: inner classes run only when inside the namespace."""
    suite = unittest.TestSuite()
    for case in outer:
        suite.addTests(loader.loadTestsFromTestCase(case))
    if os.environ.get(NETNS_ENV) == "1":
        for case in inner:
            suite.addTests(loader.loadTestsFromTestCase(case))
    return suite
