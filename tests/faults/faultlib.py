"""faultlib - steady numbered traffic, and the checks of the delivery promise (README),
for the fault tests.

Builds on tests/e2e/nwstest.py (processes, ready lines, cleanup); this
module adds what a fault test needs on top:

* Peer: one WebSocket client with a reader thread that checks every message
  as it arrives, and (for senders) a sender thread that sends numbered
  messages every ~2 ms. When its connection ends, the end is recorded (close
  code, or "dropped" without a close frame) and judged by the test's
  policy, and the peer reconnects (a new "segment") and goes on.
* Traffic: a set of peers, with waits on conditions (every sender sent N
  more; every live receiver got something newer than a mark) and the final
  drain (every receiver gets the very last message of every sender).

Message payload: "<sender label>|<segment>|<n>|<padding>", where segment is
the sender's connection number (1, 2, ... when it had to reconnect) and n
counts from 1 on each connection. A receiver checks, per sender and per
connection of its own:

* within one sender segment, n is strictly consecutive: no gap, no
  duplicate, no reordering;
* segments of one sender never go backwards;
* a receiver gets every message a sender started to send after the
  receiver's handshake was complete (README "How delivery works": a
  client that sees its connection open receives every message sent after
  that, from any gateway); so the first message it gets from a sender
  connection is either #1 or one whose predecessor was sent before.

A sender's segment may end early (its own connection was closed or
dropped: what it sent into a dying connection is lost with it, and it was
told), so a receiver may see segment s end at any n and s+1 begin.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "e2e")))

import websocket  # noqa: E402

import nwstest  # noqa: E402,F401
from nwstest import note, poll_until, status_json  # noqa: E402,F401

INTERVAL = 0.002                    # seconds between two messages of a sender
PAD = "." * 64                      # makes messages ~80 bytes
RECV_TICK = 0.25                    # reader wake-up to notice a stop request
RECONNECT_FOR = 15.0                # seconds a peer keeps trying to reconnect


def payload(label, seg, n, pad=PAD):
    return "%s|%d|%d|%s" % (label, seg, n, pad)


def parse(data):
    label, seg, n, _ = data.split("|", 3)
    return label, int(seg), int(n)


# --------------------------------------------------------------------------
#  Processes

def proc_state(pid):
    """The state letter of /proc/PID/stat (R, S, T, Z...), None if gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2:].split()[0].decode()


def wait_state(pid, states, timeout=5.0, what="process"):
    return poll_until(lambda: proc_state(pid) in states and proc_state(pid), timeout,
                      "%s %d in state %s" % (what, pid, "/".join(states)), interval=0.005)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def counters(port):
    return status_json(port).get("counters", {})


class Child:
    """A helper program (Python) run as a separate process, e.g. a client to
    freeze with SIGSTOP. Recorded in the harness's registry (so a crashed
    run's leftovers are reaped) and dies with the test process."""

    def __init__(self, argv, log_path):
        log = open(log_path, "ab")
        try:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                preexec_fn=nwstest._die_with_parent, close_fds=True)
        finally:
            log.close()
        self.pid = self.popen.pid
        self.log_path = log_path
        nwstest.registry().add_proc(self.pid)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.popen.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def line(self, index, timeout):
        """stdout line number index (0-based), waiting up to timeout."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.lines) > index, timeout):
                raise AssertionError("pid %d printed no line %d within %.0fs (lines: %r)"
                                     % (self.pid, index + 1, timeout, self.lines))
            return self.lines[index]

    def kill(self):
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGCONT)
            self.popen.kill()
        self.popen.wait(5)
        nwstest.registry().remove_proc(self.pid)
        self.reader.join(5)
        if not self.reader.is_alive():
            self.popen.stdout.close()


# --------------------------------------------------------------------------
#  Peers

def quiet_close_reply(ws):
    """websocket-client answers a close frame before returning it, and if
    that answer fails (the server already closed the socket, as a stopping
    gateway may) it raises instead of returning the close frame it got:
    make the answer best-effort, so the close code is always seen."""
    send_close = ws.send_close

    def best_effort(*args, **kw):
        try:
            send_close(*args, **kw)
        except (OSError, websocket.WebSocketException):
            pass
    ws.send_close = best_effort


class Conn:
    """A WebSocket connection (websocket-client) to 127.0.0.1 whose socket
    is closed whatever fails (websocket-client leaves refused sockets to
    the garbage collector)."""

    def __init__(self, url, timeout=5.0):
        port = int(url.split("/")[2].rsplit(":", 1)[1])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(("127.0.0.1", port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # UTF-8 is checked by decoding (websocket-client's own check is
            # a pure-Python loop over every byte: far too slow for floods).
            self.ws = websocket.WebSocket(enable_multithread=True, skip_utf8_validation=True)
            quiet_close_reply(self.ws)
            self.ws.connect(url, timeout=timeout, socket=sock)
        except BaseException:
            sock.close()
            raise

    def close(self):
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass
        self.ws.shutdown()


class Segment:
    """One connection of a peer: what arrived on it and how it ended."""

    def __init__(self, index, started, opened):
        self.index = index          # 1, 2, ... (reconnections)
        self.started = started      # monotonic time before its handshake
        self.opened = opened        # monotonic time once it was open
        self.end = None             # None while open, else a tuple (below)
        self.ended = None           # monotonic time of the end
        self.received = 0           # data messages received
        self.last = {}              # sender label -> (segment, n) last received
        self.tails = {}             # (sender label, segment) -> last n received
        self.sent = 0               # messages sent on it (senders)
        self.send_times = []        # monotonic time before sending #1, #2...

    # end: ("close", code, reason) | ("dropped", why) | ("stopped",)

    def describe(self):
        return "connection %d: %d received, %d sent, %s" % (
            self.index, self.received, self.sent, "open" if self.end is None else self.end)


class Peer:
    """One WebSocket client of a channel, on a gateway port."""

    def __init__(self, traffic, label, port, path, gateway, sends):
        self.traffic = traffic
        self.label = label
        self.port = port            # a restarted gateway keeps its port
        self.path = path
        self.gateway = gateway      # a name for reports ("A", "B")
        self.sends = sends          # False, True (own thread) or "manual"
        self.pad = PAD
        self.segments = []
        self.client = None
        self.cond = threading.Condition()
        self.violations = []
        self.stopping = False
        self.send_stop = threading.Event()
        self.reader = None
        self.sender = None

    def __repr__(self):
        return "<%s on %s%s>" % (self.label, self.gateway, self.path)

    @property
    def url(self):
        return "ws://127.0.0.1:%d%s" % (self.port, self.path)

    def current(self):
        return self.segments[-1] if self.segments else None

    def violation(self, text):
        seg = self.current()
        self.violations.append("%s (gateway %s, %s, connection %s): %s"
                               % (self.label, self.gateway, self.path,
                                  seg.index if seg else "-", text))

    # -- connecting ----------------------------------------------------

    def connect(self, timeout=RECONNECT_FOR):
        """Opens a new connection (segment), retrying until timeout (the
        gateway may be restarting)."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while True:
            started = time.monotonic()
            try:
                client = Conn(self.url)
                break
            except Exception as e:  # refused, reset, 503 while it restarts...
                if time.monotonic() >= deadline or self.stopping:
                    raise AssertionError("%s: cannot connect to %s within %.0fs: %r"
                                         % (self.label, self.url, timeout, e))
                pause.wait(0.02)
        seg = Segment(len(self.segments) + 1, started, time.monotonic())
        with self.cond:
            self.client = client
            self.segments.append(seg)
            self.cond.notify_all()
        return seg

    def start(self):
        self.reader = threading.Thread(target=self._read_loop, name=self.label + "-r",
                                       daemon=True)
        self.reader.start()
        if self.sends is True:
            self.sender = threading.Thread(target=self._send_loop, name=self.label + "-s",
                                           daemon=True)
            self.sender.start()

    # -- receiving -----------------------------------------------------

    def _read_loop(self):
        while True:
            seg = self.current()
            end = self._read_segment(seg, self.client)
            try:
                self.client.close()
            except Exception:
                pass
            with self.cond:
                seg.end = end
                seg.ended = time.monotonic()
                self.cond.notify_all()
            if end[0] == "stopped":
                return
            if not self.traffic.allowed(self, seg, end):
                self.violation("connection ended unexpectedly: %r after %d messages"
                               % (end, seg.received))
            note("%s: connection %d ended: %r after %d messages", self.label, seg.index,
                 end, seg.received)
            if not self.traffic.reconnect(self, seg, end):
                return
            try:
                self.connect()
            except AssertionError as e:
                if not self.stopping:
                    self.violation(str(e))
                return

    def _read_segment(self, seg, client):
        ws = client.ws
        ws.settimeout(RECV_TICK)
        while True:
            try:
                opcode, frame = ws.recv_data_frame(False)
            except websocket.WebSocketTimeoutException:
                if self.stopping:
                    return ("stopped",)
                continue
            except websocket.WebSocketPayloadException as e:
                self.violation("a text frame that is not UTF-8: %s" % e)
                return ("dropped", "bad UTF-8")
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError) as e:
                if self.stopping:
                    return ("stopped",)
                return ("dropped", repr(e))
            except Exception as e:  # a protocol error of the server
                self.violation("reading failed: %r" % e)
                return ("dropped", repr(e))
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code, reason = nwstest._close_payload(frame.data)
                return ("close", code, reason)
            if opcode != websocket.ABNF.OPCODE_TEXT:
                self.violation("unexpected opcode %r" % opcode)
                continue
            try:
                data = frame.data.decode("utf-8")
            except UnicodeDecodeError as e:
                self.violation("a text frame that is not UTF-8: %s" % e)
                continue
            self._check(seg, data)

    def _check(self, seg, data):
        try:
            label, s, n = parse(data)
        except ValueError:
            self.violation("a message that is none of ours: %r" % data[:80])
            return
        seg.received += 1
        if label == self.label:
            self.violation("got its own message back (#%d of connection %d)" % (n, s))
            return
        prev = seg.last.get(label)
        seg.last[label] = (s, n)
        seg.tails[(label, s)] = n
        sender = self.traffic.by_label.get(label)
        if prev is None or s > prev[0]:
            # The first message of a sender connection on this connection:
            # whatever that sender sent after this client was open must be
            # here, from its first such message on.
            if n > 1 and sender is not None and len(sender.segments) >= s:
                times = sender.segments[s - 1].send_times
                if len(times) >= n - 1 and times[n - 2] > seg.opened:
                    first = next(i for i in range(1, n) if times[i - 1] > seg.opened)
                    self.violation("first message from %s connection %d is #%d: #%d..#%d, "
                                   "sent after this client was open (from %.3fs after), "
                                   "never came (a silent loss of %d)"
                                   % (label, s, n, first, n - 1,
                                      times[first - 1] - seg.opened, n - first))
            return
        if s < prev[0]:
            self.violation("from %s: connection %d #%d after connection %d #%d (reordered)"
                           % (label, s, n, prev[0], prev[1]))
            return
        if n == prev[1] + 1:
            return
        if n <= prev[1]:
            self.violation("from %s connection %d: #%d after #%d (duplicate or reordered)"
                           % (label, s, n, prev[1]))
        else:
            self.violation("from %s connection %d: #%d after #%d: a silent gap of %d"
                           % (label, s, n, prev[1], n - prev[1] - 1))

    # -- sending -------------------------------------------------------

    def send_next(self):
        """Sends the next numbered message on the current connection.
        Returns False if the connection is gone (the reader reconnects)."""
        with self.cond:             # the connection and its segment together
            seg, client = self.current(), self.client
        if seg.end is not None:
            return False
        n = seg.sent + 1
        if len(seg.send_times) < n:
            seg.send_times.append(time.monotonic())
        try:
            client.ws.send(payload(self.label, seg.index, n, self.pad))
        except Exception:
            return False
        seg.sent = n
        return True

    def _send_loop(self):
        pause = threading.Event()
        while not self.send_stop.is_set():
            seg = self.current()
            if self.send_next():
                pause.wait(self.traffic.interval)
                continue
            # Gone: wait for the reader to open the next connection.
            with self.cond:
                self.cond.wait_for(lambda: self.current() is not seg or self.stopping
                                   or self.send_stop.is_set(), 1.0)
            if self.stopping:
                return

    def position(self):
        """(segment, messages sent on it) of a sender."""
        seg = self.current()
        return (seg.index, seg.sent)


# --------------------------------------------------------------------------
#  Traffic

class Traffic:
    """Peers on channels, their threads, and the waits and checks."""

    def __init__(self, interval=INTERVAL):
        self.interval = interval
        self.peers = []
        self.by_label = {}
        self.policy = lambda peer, seg, end: False          # is this end allowed?
        self.reconnect = lambda peer, seg, end: True        # reconnect after it?
        self.started = False
        self.stopped = False

    def add(self, port, path, label, gateway, sends=False):
        port = port if isinstance(port, int) else port.port
        assert label not in self.by_label and "|" not in label
        peer = Peer(self, label, port, path, gateway, sends)
        self.peers.append(peer)
        self.by_label[label] = peer
        return peer

    def add_channels(self, gws, channels, receivers=2):
        """For each (path, homes) of channels: a sender on each gateway
        named in homes, and receivers on every gateway of gws (a dict of
        name -> gateway)."""
        for i, (path, homes) in enumerate(channels):
            for home in homes:
                self.add(gws[home], path, "s%d%s" % (i, home), home, sends=True)
            for name, gw in gws.items():
                for k in range(receivers):
                    self.add(gw, path, "r%d%s%d" % (i, name, k), name)

    def allowed(self, peer, seg, end):
        return bool(self.policy(peer, seg, end))

    @property
    def senders(self):
        return [p for p in self.peers if p.sends]

    def senders_of(self, peer):
        return [s for s in self.peers if s.sends and s.path == peer.path and s is not peer]

    def start(self):
        """Opens every connection (receivers first), then starts the
        threads: a sender's first message is sent after every receiver
        is open, so every receiver must get all of them."""
        for p in sorted(self.peers, key=lambda p: bool(p.sends)):
            p.connect(timeout=10)
        for p in self.peers:
            p.start()
        self.started = True

    def join(self, port, path, label, gateway, sends=False):
        """Adds a peer while the traffic runs: connects it, starts it."""
        peer = self.add(port, path, label, gateway, sends)
        peer.connect(timeout=10)
        peer.start()
        return peer

    # -- waits ---------------------------------------------------------

    def mark(self):
        return {s.label: s.position() for s in self.senders}

    def wait_sent(self, count, timeout=15.0, senders=None):
        """Waits until every sender with its own thread (or each of
        senders) sent count more messages (on any of its connections)."""
        def total(s):
            return sum(seg.sent for seg in s.segments)
        base = {s.label: total(s) for s in (senders or self.senders) if s.sends is True}
        poll_until(lambda: all(total(self.by_label[k]) >= v + count for k, v in base.items()),
                   timeout, "every sender to send %d more messages" % count)

    def lagging(self, mark, pairs=None):
        """(receiver, sender) pairs not yet past mark: the receiver has no
        open connection, or got nothing newer than mark from that sender."""
        out = []
        for p in self.peers:
            seg = p.current()
            for s in self.senders_of(p):
                if pairs is not None and not pairs(p, s):
                    continue
                if seg is None or seg.end is not None:
                    out.append((p.label, s.label, "no open connection"))
                elif seg.last.get(s.label, (0, 0)) <= mark[s.label]:
                    out.append((p.label, s.label, "last %r, mark %r"
                                % (seg.last.get(s.label), mark[s.label])))
        return out

    def wait_flowing(self, mark, timeout, what="traffic to flow", pairs=None):
        """Waits until every receiver (with an open connection) got, from
        every sender of its channel, a message sent after mark. Returns the
        seconds it took."""
        t0 = time.monotonic()
        try:
            poll_until(lambda: not self.lagging(mark, pairs), timeout, what)
        except AssertionError as e:
            lag = self.lagging(mark, pairs)
            raise AssertionError("%s; %d pairs lagging, e.g. %r\n%s"
                                 % (e, len(lag), lag[:8], self.report()))
        return time.monotonic() - t0

    # -- the end -------------------------------------------------------

    def stop_senders(self):
        """Stops the sender threads; returns {label: (segment, n)} of every
        sender's last message."""
        for s in self.senders:
            s.send_stop.set()
        for s in self.senders:
            if s.sender:
                s.sender.join(10)
                assert not s.sender.is_alive(), "%s: sender thread stuck" % s.label
        return self.mark()

    def drain(self, final, timeout=10.0):
        """Waits until every open receiver got the last message of every
        sender it must get it from (it got something of that sender
        connection, or was open before it started). A missing tail is a
        silent loss. For a sender whose connection was closed or dropped,
        what it sent last may have died with its connection: the tail to
        expect is then the last message any receiver got from it."""
        targets = {}
        for s in self.senders:
            fs, fn = final[s.label]
            if s.current().end is not None:
                fn = max([seg.last[s.label][1] for p in self.peers for seg in p.segments
                          if seg.last.get(s.label, (0, 0))[0] == fs] or [0])
            targets[s.label] = (fs, fn)

        def missing():
            out = []
            for p in self.peers:
                seg = p.current()
                if seg is None or seg.end is not None:
                    continue
                for s in self.senders_of(p):
                    fs, fn = targets[s.label]
                    if fn == 0:
                        continue
                    last = seg.last.get(s.label)
                    must = (last is not None and last[0] == fs) or \
                        seg.opened < s.segments[fs - 1].started
                    if must and last != (fs, fn):
                        out.append((p.label, s.label, last, (fs, fn)))
            return out
        try:
            poll_until(lambda: not missing(), timeout, "every receiver to get every last message")
        except AssertionError:
            for p, s, last, want in missing():
                self.by_label[p].violation("the tail from %s never came: last %r, sender's "
                                           "last %r" % (s, last, want))

    def finish(self, sent):
        """The end of a run: once every sender has sent sent more, stops
        the senders, waits until their last messages are in, stops."""
        self.wait_sent(sent)
        self.drain(self.stop_senders())
        self.stop()

    def stop(self):
        """Stops every thread and closes every connection (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        for p in self.peers:
            p.send_stop.set()
            p.stopping = True
            with p.cond:
                p.cond.notify_all()
        for p in self.peers:
            for t in (p.sender, p.reader):
                if t is not None:
                    t.join(10)
                    if t.is_alive():
                        p.violation("thread %s stuck" % t.name)
        for p in self.peers:
            if p.client is not None:
                p.client.close()

    # -- reports -------------------------------------------------------

    def check_tails(self):
        """Once everything stopped: a receiver connection that was never
        closed (so never told of a loss) and got part of a sender
        connection's messages must have got its last one -- the last that
        any receiver got, which proves the sender's gateway accepted (and
        published) it; unless the sender's gateway was killed, whose
        local deliveries prove nothing about what reached the hub. This catches what drain() cannot: the tail of a
        sender connection that ended (the sender was closed, or left)
        lost on the way to another gateway."""
        best = {}
        for p in self.peers:
            for seg in p.segments:
                for key, n in seg.tails.items():
                    sender = self.by_label.get(key[0])
                    if sender is not None and sender.gateway == p.gateway and \
                            sender.segments[key[1] - 1].end is not None and \
                            sender.segments[key[1] - 1].end[0] == "dropped":
                        # Its gateway died: what it delivered locally may
                        # not have left for the hub yet (it dies with it).
                        continue
                    best[key] = max(best.get(key, 0), n)
        for p in self.peers:
            for seg in p.segments:
                if seg.end is not None and seg.end[0] != "stopped":
                    continue
                for key, n in sorted(seg.tails.items()):
                    if n < best.get(key, 0):
                        p.violations.append(
                            "%s (gateway %s, %s, connection %d, never closed): from %s "
                            "connection %d the last message it got is #%d, others got up to "
                            "#%d: a silent loss of %d"
                            % (p.label, p.gateway, p.path, seg.index, key[0], key[1], n,
                               best[key], best[key] - n))

    def violations(self):
        return [v for p in self.peers for v in p.violations]

    def ends(self, peer_filter=None):
        """Every recorded end of a connection: (peer, segment, end)."""
        return [(p, seg, seg.end) for p in self.peers if peer_filter is None or peer_filter(p)
                for seg in p.segments if seg.end is not None and seg.end[0] != "stopped"]

    def report(self):
        lines = []
        for p in self.peers:
            lines.append("  %s on %s %s: %s" % (p.label, p.gateway, p.path,
                                                "; ".join(seg.describe() for seg in p.segments)))
        return "\n".join(lines)

    def assert_clean(self, testcase):
        self.stop()
        self.check_tails()
        v = self.violations()
        if v:
            testcase.fail("%d violations of the delivery promise:\n  %s\npeers:\n%s"
                          % (len(v), "\n  ".join(v[:40]), self.report()))
