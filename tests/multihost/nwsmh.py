"""nwsmh - nws on the multi-host harness (hosts.py), shared by the
multi-host tests.

* NwsHost: runs nws-hub, nws-gateway and nws-discovery inside one host
  (default runtime dir /run/nws, private to the host), each waited for
  through its `ready` line, each logged to <host.dir>/<name>.log.
* Agent: tests/multihost/agent.py inside one host, driven over its stdin
  and stdout (JSON lines): WebSocket clients on 127.0.0.1:9009 there, the
  messages they receive, their closes, and GET /status.
* Helpers to wait for links, to check delivery (exactly once, in order).

Programs come from $NWS_HUB, $NWS_GATEWAY, $NWS_DISCOVERY (CMake sets
them), else from $NWS_BUILD_DIR or the build/ folder of this checkout.
Only the standard library; the agent also needs python3-websocket.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hosts  # noqa: E402
from hosts import HarnessError  # noqa: E402,F401

BUILD = os.environ.get("NWS_BUILD_DIR") or os.path.normpath(os.path.join(HERE, "..", "..", "build"))
HUB = os.environ.get("NWS_HUB") or os.path.join(BUILD, "hub", "nws-hub")
GATEWAY = os.environ.get("NWS_GATEWAY") or os.path.join(BUILD, "gateway", "nws-gateway")
DISCOVERY = os.environ.get("NWS_DISCOVERY") or os.path.join(BUILD, "discovery", "nws-discovery")
PYTHON = "/usr/bin/python3"
AGENT = os.path.join(HERE, "agent.py")
PORT = 9009
SKIP = 77                           # ctest SKIP_RETURN_CODE

READY_TIMEOUT = 15.0
INSTANCE_RE = re.compile(r"^[0-9]+\..*\._bws$")     # DNS-SD instance of an advert


def note(fmt, *args):
    """A line for the test's output (timings, figures)."""
    print("multihost: " + (fmt % args if args else fmt), file=sys.stderr, flush=True)


def skip_unless_possible():
    """Exit 77 (ctest: skipped) when the tests cannot run here."""
    if os.geteuid() != 0:
        note("skipped: needs root (network namespaces)")
        sys.exit(SKIP)
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = [p for p in ("ip", "nsenter", "unshare", "dbus-daemon", "dbus-send",
                           "avahi-daemon", "avahi-browse")
               if not hosts.shutil.which(p, path=path)]
    try:
        subprocess.run([PYTHON, "-c", "import websocket"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        missing.append("python3-websocket")
    if missing:
        note("skipped: missing %s", " ".join(missing))
        sys.exit(SKIP)
    for prog in (HUB, GATEWAY, DISCOVERY):
        if not os.access(prog, os.X_OK):
            # not a skip: the build should have made them
            note("missing program %s (build first, or set NWS_HUB/NWS_GATEWAY/NWS_DISCOVERY)",
                 prog)
            sys.exit(1)


def log_tail(path, n=4000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError as e:
        return "(%s)" % e


# ------------------------------------------------------------------- NwsHost

class NwsHost:
    """The nws processes of one host."""

    def __init__(self, host):
        self.host = host
        self.procs = {}             # name -> Popen
        self.ready = {}             # name -> the ready line
        self.args = {"gateway": [], "discovery": []}   # extra options, kept for restarts

    def _start(self, name, cmd):
        if name in self.procs and self.procs[name].poll() is None:
            raise HarnessError("%s already runs in %s" % (name, self.host.name))
        log = os.path.join(self.host.dir, name + ".log")
        offset = os.path.getsize(log) if os.path.exists(log) else 0
        p = self.host.popen(cmd, log=name)
        p.ready_offset = offset
        self.procs[name] = p
        return p

    def _wait_ready(self, name, timeout=READY_TIMEOUT):
        """Waits for the line starting with 'ready' that the program prints
        on stdout (into its log) once it is ready."""
        p = self.procs[name]
        deadline = time.monotonic() + timeout
        while True:
            with open(p.log_path, "rb") as f:
                f.seek(p.ready_offset)
                for raw in f:
                    line = raw.decode(errors="replace")
                    if line.startswith("ready") and raw.endswith(b"\n"):
                        self.ready[name] = line.strip()
                        return line.strip()
            if p.poll() is not None:
                raise HarnessError("%s in %s exited (%s) before ready:\n%s" % (
                    name, self.host.name, p.returncode, log_tail(p.log_path)))
            if time.monotonic() > deadline:
                raise HarnessError("%s in %s not ready after %.0fs:\n%s" % (
                    name, self.host.name, timeout, log_tail(p.log_path)))
            time.sleep(0.02)

    def start_hub(self, wait=True):
        self._start("hub", [HUB])
        return self._wait_ready("hub") if wait else None

    def start_gateway(self, wait=True):
        self._start("gateway", [GATEWAY, "--port", str(PORT)] + self.args["gateway"])
        return self._wait_ready("gateway") if wait else None

    def start_discovery(self, wait=True, verbose=True):
        self._start("discovery", [DISCOVERY, "--port", str(PORT)]
                    + (["--verbose"] if verbose else []) + self.args["discovery"])
        return self._wait_ready("discovery") if wait else None

    def wait_ready(self, name):
        return self._wait_ready(name)

    def stop(self, name, sig=signal.SIGTERM):
        """Stops one program (sig, then SIGKILL after 5 s); its exit code."""
        p = self.procs.pop(name)
        code = self.host.kill(p, sig)
        self.host._forget(p)
        return code

    def alive(self):
        """{name: exit code or None} for the programs started."""
        return {n: p.poll() for n, p in self.procs.items()}

    def logs(self):
        return {n: p.log_path for n, p in self.procs.items()}


def start_nws(hs, discovery=True, args=None):
    """nws-hub, nws-gateway (and nws-discovery) in every host, started in
    parallel across hosts; args[k] (if given) is host k's NwsHost.args.
    Returns the NwsHost list."""
    nws = [NwsHost(h) for h in hs]
    for n, a in zip(nws, args or []):
        n.args.update(a)
    for n in nws:
        n.start_hub(wait=False)
    for n in nws:
        n.wait_ready("hub")
    for n in nws:
        n.start_gateway(wait=False)
    for n in nws:
        n.wait_ready("gateway")
    if discovery:
        for n in nws:
            n.start_discovery(wait=False)
        for n in nws:
            n.wait_ready("discovery")
    return nws


# --------------------------------------------------------------------- Agent

class Agent:
    """agent.py in one host. Events are collected by a reader thread:
    msgs[cid] = [(text, t)], closes = [event], opens[cid] = event."""

    def __init__(self, host, name="agent"):
        self.host = host
        self.name = name
        self.log_path = os.path.join(host.dir, name + ".log")
        err = open(self.log_path, "ab")
        self.proc = host.popen([PYTHON, "-u", AGENT], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=err)
        err.close()
        self.cond = threading.Condition()
        self.msgs = {}
        self.opens = {}
        self.open_failed = {}
        self.closes = []
        self.sent = {}
        self.replies = {}
        self.errors = []
        self.accepted = []          # fake original: connections it accepted
        self.served = []            # fake original: serving/fanned replies
        self._req = 0
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()
        self.ping()

    def __repr__(self):
        return "<Agent %s>" % self.host.name

    def _reader(self):
        for raw in self.proc.stdout:
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            kind = ev.get("ev")
            with self.cond:
                if kind == "msg":
                    self.msgs.setdefault(ev["c"], []).append(
                        (ev["d"] if "d" in ev else bytes.fromhex(ev["b"]), ev["t"]))
                elif kind == "open":
                    self.opens[ev["c"]] = ev
                elif kind == "open_failed":
                    self.open_failed[ev["c"]] = ev
                elif kind == "closed":
                    self.closes.append(ev)
                elif kind == "sent":
                    self.sent[ev["job"]] = ev
                elif kind in ("status", "pong"):
                    self.replies[ev["req"]] = ev
                elif kind == "accepted":
                    self.accepted.append(ev)
                elif kind in ("serving", "fanned"):
                    self.served.append(ev)
                elif kind == "error":
                    self.errors.append(ev)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def cmd(self, **c):
        line = json.dumps(c) + "\n"
        try:
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
        except OSError as e:
            raise HarnessError("agent in %s: %s\n%s" % (self.host.name, e,
                                                         log_tail(self.log_path)))

    def wait(self, pred, timeout, what):
        """Waits (on the events, no polling) until pred() is true under the
        lock; returns its value or raises HarnessError at the deadline."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HarnessError("%s: timed out after %.1fs waiting for %s"
                                       % (self.host.name, timeout, what))
                if self.proc.poll() is not None and not self._thread.is_alive():
                    raise HarnessError("%s: agent exited (%s) waiting for %s:\n%s" % (
                        self.host.name, self.proc.returncode, what, log_tail(self.log_path)))
                self.cond.wait(min(left, 0.5))

    def _next_req(self):
        self._req += 1
        return "%s-%d" % (self.name, self._req)

    def ping(self, timeout=10):
        req = self._next_req()
        self.cmd(op="ping", req=req)
        self.wait(lambda: req in self.replies, timeout, "agent start")

    def open(self, cids, path, timeout=15, headers=None, addr=None):
        """Opens clients (ids) on path (of this host's gateway, or of the
        one at addr) and waits until all are open."""
        if isinstance(cids, str):
            cids = [cids]
        for c in cids:
            cmd = {"op": "open", "c": c, "path": path, "port": PORT}
            if headers:
                cmd["headers"] = headers
            if addr:
                cmd["addr"] = addr
            self.cmd(**cmd)

        def done():
            bad = [c for c in cids if c in self.open_failed]
            if bad:
                raise HarnessError("%s: open %s failed: %s" % (
                    self.host.name, path, self.open_failed[bad[0]]["err"]))
            return all(c in self.opens for c in cids)
        self.wait(done, timeout, "clients %s open on %s" % (cids, path))
        return [self.opens[c]["t"] for c in cids]

    def serve(self, port, timeout=10):
        """Plays the gateway of an original proxy on port (agent.py)."""
        self.cmd(op="serve", port=port)
        self.wait(lambda: any(e["ev"] == "serving" for e in self.served), timeout,
                  "the fake original serving")

    def fan(self, tag, count, first=1, timeout=10):
        """The fake original sends tag:first.. to every connection it
        accepted; returns their numbers."""
        n = len(self.served)
        self.cmd(op="fan", tag=tag, count=count, **{"from": first})
        ev = self.wait(lambda: next((e for e in self.served[n:] if e["ev"] == "fanned"), None),
                       timeout, "fan %s" % tag)
        return ev["to"]

    def send(self, cid, tag, count, first=1, interval=0, job=None, stamp=False):
        """Starts a sending job (returns its name): cid sends tag:first ...
        (count 0: until stopped; stamp: report when each was sent)."""
        job = job or "%s/%s" % (cid, tag)
        with self.cond:
            self.sent.pop(job, None)
        self.cmd(op="send", c=cid, tag=tag, count=count, interval=interval,
                 job=job, stamp=stamp, **{"from": first})
        return job

    def stop(self, job):
        self.cmd(op="stop", job=job)

    def wait_sent(self, job, timeout=30):
        ev = self.wait(lambda: self.sent.get(job), timeout, "job %s sent" % job)
        if ev.get("err"):
            raise HarnessError("%s: job %s failed: %s" % (self.host.name, job, ev["err"]))
        return ev

    def close(self, cid):
        self.cmd(op="close", c=cid)

    def wait_closed(self, cid, timeout=10):
        return self.wait(lambda: next((e for e in self.closes if e["c"] == cid), None),
                         timeout, "client %s closed" % cid)

    def status(self, timeout=10):
        req = self._next_req()
        self.cmd(op="status", req=req, port=PORT)
        ev = self.wait(lambda: self.replies.get(req), timeout, "GET /status")
        if "err" in ev:
            raise HarnessError("%s: GET /status: %s" % (self.host.name, ev["err"]))
        return ev["body"]

    # ---- what was received (call without holding the lock)
    def received(self, cid, tag):
        """[(n, t)] of the messages 'tag:n' client cid received, in order."""
        p = tag + ":"
        with self.cond:
            return [(int(d[len(p):]), t) for d, t in self.msgs.get(cid, ())
                    if isinstance(d, str) and d.startswith(p)]

    def numbers(self, cid, tag):
        """The numbers n of the messages 'tag:n' client cid received, in order."""
        p = tag + ":"
        with self.cond:
            return [int(d[len(p):]) for d, _ in self.msgs.get(cid, ())
                    if isinstance(d, str) and d.startswith(p)]

    def first_time(self, cid, tag, since=0.0):
        """Time (monotonic) of the first 'tag:*' message cid received at or
        after `since`, or None."""
        p = tag + ":"
        with self.cond:
            for d, t in self.msgs.get(cid, ()):
                if t >= since and isinstance(d, str) and d.startswith(p):
                    return t
        return None

    def count(self, cid, tag):
        return len(self.numbers(cid, tag))

    def quit(self, timeout=5):
        if self.proc.poll() is None:
            try:
                self.cmd(op="quit")
                self.proc.stdin.close()
            except (OSError, HarnessError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.host.kill(self.proc)
        self._thread.join(2)
        self.proc.stdout.close()


# ------------------------------------------------------------------- checks

def links_of(status, channel=None):
    d = status.get("discovery") or {}
    return [l for l in d.get("links", []) if channel is None or l["channel"] == channel]


def advert_of(status, channel):
    """This host's own advert instance for channel (established), or None."""
    d = status.get("discovery") or {}
    for ad in d.get("adverts", []):
        if ad["channel"] == channel and ad["state"] == "established":
            return ad["instance"]
    return None


def host_addrs(host):
    """Every address of a host, IPv6 without its %scope."""
    return {a.split("%")[0] for a in (getattr(host, "addrs", None) or [host.addr])}


def link_address(link):
    """The address a link (from /status) dials, without brackets, port or
    %scope: "[fe80::1%2]:9009" -> "fe80::1"."""
    peer = link["peer"]
    if peer.startswith("["):
        peer = peer[1:peer.index("]")]
    else:
        peer = peer.rsplit(":", 1)[0]
    return peer.split("%")[0]


def link_port(link):
    return int(link["peer"].rsplit(":", 1)[1])


def peer_is(link, host, port=PORT):
    """True if a link (from /status) dials one of host's addresses at port."""
    return link_address(link) in host_addrs(host) and link_port(link) == port


def link_problems(status, host, peers, channel, instances=None):
    """What is wrong with host's links for channel, given the hosts it
    should be linked to (peers): a list of strings, empty when every link
    is there, open, once, and there is no other (no self-link). With
    instances ({host addr: its advert instance}), the peer must have an
    established advert, and a link named after an advert instance must be
    named after the peer's current one (not a stale advert's)."""
    # A link may use any address of its peer (IPv4, IPv6, either card):
    # it is named here by the peer's main address.
    want = {"%s:%d" % (p.addr, PORT): p for p in peers}
    owner = {"%s:%d" % (a, PORT): "%s:%d" % (p.addr, PORT) for p in peers for a in host_addrs(p)}
    links = links_of(status, channel)
    probs = []
    seen = {}
    for l in links:
        peer = owner.get(link_address(l) + ":%d" % PORT, l["peer"])
        l = dict(l, peer=peer)
        seen[l["peer"]] = seen.get(l["peer"], 0) + 1
        if link_address(l) in host_addrs(host) or link_address(l).startswith("127."):
            probs.append("self-link %s" % l)
        elif l["peer"] not in want:
            probs.append("unexpected link %s" % l)
        elif l["state"] != "open":
            probs.append("link to %s is %s" % (l["peer"], l["state"]))
        elif instances is not None:
            inst = instances.get(want[l["peer"]].addr)
            if inst is None:
                probs.append("%s has no established advert of %s" % (want[l["peer"]].name,
                                                                    channel))
            elif INSTANCE_RE.match(l["key"]) and l["key"] != inst:
                # (nws names a link after the advert it follows)
                probs.append("link to %s is for advert %s, not its current one %s"
                             % (l["peer"], l["key"], inst))
    for peer, n in seen.items():
        if n > 1:
            probs.append("%d links to %s: %s" % (n, peer, [l for l in links
                                                            if l["peer"] == peer]))
    for peer in set(want) - set(seen):
        probs.append("no link to %s" % peer)
    return probs


def poll_problems(what, fn, timeout, interval=0.1):
    """Calls fn() until it returns an empty list of problems (returns the
    time it took); at the deadline raises HarnessError with the last ones."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        problems = fn()
        if not problems:
            return time.monotonic() - t0
        if time.monotonic() > deadline:
            raise HarnessError("%s: not so after %.0fs: %s" % (what, timeout,
                                                            "; ".join(problems)))
        time.sleep(interval)


def wait_links(agents, channel, hosts_with_channel, timeout=20):
    """Polls every host's /status until each host in hosts_with_channel has
    one open link for channel to each of the others, to its current advert,
    and no other link (and hosts without the channel have none). Returns
    the time it took."""
    members = set(hosts_with_channel)

    def problems():
        out = []
        sts = {a.host: a.status() for a in agents}
        instances = {h.addr: advert_of(st, channel) for h, st in sts.items()}
        for a in agents:
            st = sts[a.host]
            if a.host in members:
                peers = [h for h in members if h is not a.host]
                out += ["%s: %s" % (a.host.name, p)
                        for p in link_problems(st, a.host, peers, channel, instances)]
            elif links_of(st, channel):
                out.append("%s: links %s" % (a.host.name, links_of(st, channel)))
        return out

    return poll_problems("links for %s right" % channel, problems, timeout)


def check_sequence(nums, first, last):
    """None if nums is exactly first..last, else a description of how it
    differs (duplicates, order, missing)."""
    want = list(range(first, last + 1))
    if nums == want:
        return None
    dups = len(nums) - len(set(nums))
    disorder = sum(1 for a, b in zip(nums, nums[1:]) if b <= a)
    missing = sorted(set(want) - set(nums))
    extra = sorted(set(nums) - set(want))
    return ("got %d messages (want %d): %d duplicates, %d out of order, missing %s%s, "
            "unexpected %s" % (len(nums), len(want), dups, disorder, missing[:10],
                               "..." if len(missing) > 10 else "", extra[:10]))


def check_increasing(nums):
    """None if nums strictly increase (no duplicate, no reordering)."""
    bad = [(a, b) for a, b in zip(nums, nums[1:]) if b <= a]
    if not bad:
        return None
    return ("%d messages, %d of them duplicates; %d times a number not above the one "
            "before, e.g. %s" % (len(nums), len(nums) - len(set(nums)), len(bad), bad[:5]))


def order_problems(agents, own=None):
    """Problems with what every agent's clients received: per client and
    per sender tag ("tag:number" messages), numbers must strictly increase.
    own(k, client, tag), if given, is true for a client's own messages,
    which it must never get back."""
    problems = []
    for k, x in enumerate(agents):
        with x.cond:
            msgs = {c: [d for d, _ in lst] for c, lst in x.msgs.items()}
        for c, lst in msgs.items():
            seqs = {}
            for d in lst:
                tag, _, num = d.rpartition(":")
                seqs.setdefault(tag, []).append(int(num))
            for tag, nums in seqs.items():
                p = check_increasing(nums)
                if p:
                    problems.append("%s %s %s: %s" % (x.host.name, c, tag, p))
                if own and own(k, c, tag):
                    problems.append("%s %s got its own %s" % (x.host.name, c, tag))
    return problems


# --------------------------------------------------------------- test base


class MultiHostCase(unittest.TestCase):
    """N hosts with nws running and one agent each; every host has chat
    clients "chat0" and "chat1" on /broadcast/chat, linked before the first
    test. Tests run in name order and share this state. At the end: no nws
    process may have died, no client may have been closed unless a test
    closed it (listed in cls.closed_ok), and nothing may be left behind.
    When a test fails, the tails of every host's logs go to stderr
    (NWSMH_KEEP=1 keeps the whole directory)."""

    N = 3
    AVAHI = True
    FAMILY = "dual"                 # hosts.Hosts(family=...): what users have
    EXTRA_IFACES = None             # hosts.Hosts(extra_ifaces=...)
    CHAT = "chat"
    hs = None
    failed = False

    @classmethod
    def setUpClass(cls):
        cls.t_start = time.monotonic()
        cls.hs = hosts.Hosts(cls.N, avahi=cls.AVAHI, family=cls.FAMILY,
                             extra_ifaces=cls.EXTRA_IFACES,
                             keep_dir=os.environ.get("NWSMH_KEEP") == "1")
        cls.hs.__enter__()
        try:
            cls.hl = list(cls.hs)
            cls.set_up_hosts()
        except BaseException:
            cls._dump_logs("setup failed")
            cls._teardown()
            raise

    @classmethod
    def set_up_hosts(cls):
        """What runs on the hosts before the first test (a subclass may
        change it): nws and an agent on each, chat clients, their links."""
        cls.nws = start_nws(cls.hs)
        cls.agents = [Agent(h) for h in cls.hs]
        cls.closed_ok = set()           # (host index, client id)
        for a in cls.agents:
            a.open(["chat0", "chat1"], "/broadcast/" + cls.CHAT)
        dt = wait_links(cls.agents, cls.CHAT, cls.hl)
        note("%s: %d hosts up and /broadcast/%s linked %.2fs after start (links %.2fs)",
             cls.__name__, cls.N, cls.CHAT, time.monotonic() - cls.t_start, dt)

    @classmethod
    def tearDownClass(cls):
        if cls.hs is None:
            return
        problems = []
        for k, n in enumerate(cls.nws):
            for name, code in n.alive().items():
                if code is not None:
                    problems.append("%s %s exited with %s" % (cls.hl[k].name, name, code))
        for k, a in enumerate(cls.agents):
            with a.cond:
                for e in a.closes:
                    if (k, e["c"]) not in cls.closed_ok:
                        problems.append("%s: client %s closed: %s" % (a.host.name, e["c"], e))
                for e in a.errors:
                    problems.append("%s: agent error %s" % (a.host.name, e))
        if problems or cls.failed:
            cls._dump_logs("; ".join(problems) or "a test failed")
        procs, prefix, d = cls._teardown()
        left = [ns for ns in hosts.netns_list() if ns.startswith(prefix + "-")]
        alive = [p.pid for p in procs if hosts.proc_starttime(p.pid) is not None]
        if left:
            problems.append("namespaces left: %s" % left)
        if alive:
            problems.append("processes left: %s" % alive)
        if os.path.exists("/tmp/%s.pids" % prefix):
            problems.append("ledger left")
        if d and os.path.exists(d) and os.environ.get("NWSMH_KEEP") != "1":
            problems.append("dir left: %s" % d)
        note("%s: teardown done, %.1fs in all", cls.__name__, time.monotonic() - cls.t_start)
        if problems:
            raise AssertionError("after the tests: " + "; ".join(problems))

    @classmethod
    def _teardown(cls):
        hs, cls.hs = cls.hs, None
        if hs is None:
            return [], "", None
        for a in getattr(cls, "agents", []):
            try:
                a.quit()
            except Exception as e:                    # noqa: BLE001
                note("quitting agent in %s: %s", a.host.name, e)
        procs = [p for h in hs for p, _ in h._procs] + [h.anchor for h in hs if h.anchor]
        hs.__exit__(None, None, None)
        return procs, hs.prefix, hs.dir

    @classmethod
    def _dump_logs(cls, why):
        hs = cls.hs
        if hs is None or hs.dir is None:
            return
        note("%s; logs of every host follow (dir %s)", why, hs.dir)
        for h in hs:
            for fn in sorted(os.listdir(h.dir)):
                if fn.endswith(".log"):
                    path = os.path.join(h.dir, fn)
                    tail = log_tail(path, 6000)
                    if tail.strip():
                        print("----- %s/%s\n%s" % (h.name, fn, tail), file=sys.stderr)
        sys.stderr.flush()

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            type(self).failed = True
        return out

    # ---- helpers for the tests
    def expect_exact(self, receivers, tag, first, last, timeout=30):
        """Waits until every (agent, cid) in receivers has the messages
        tag:first..last, then asserts each got exactly those, once, in order."""
        for a, c in receivers:
            try:
                a.wait(lambda: a.count(c, tag) >= last - first + 1, timeout,
                       "%s at %s of %s" % (tag, c, a.host.name))
            except HarnessError:
                pass                         # reported below, with what came
        problems = []
        for a, c in receivers:
            p = check_sequence(a.numbers(c, tag), first, last)
            if p:
                problems.append("%s %s, %s: %s" % (a.host.name, c, tag, p))
        self.assertFalse(problems, "\n".join(problems))

    def expect_none(self, receivers, tag):
        got = ["%s %s: %d" % (a.host.name, c, a.count(c, tag)) for a, c in receivers
               if a.count(c, tag)]
        self.assertFalse(got, "messages %s arrived where they must not: %s" % (tag, got))

    def chat_clients(self, but=None):
        """(agent, cid) of every chat client, except `but`."""
        return [(a, c) for a in self.agents for c in ("chat0", "chat1") if (a, c) != but]
