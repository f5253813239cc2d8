#!/usr/bin/python3
"""link - what a proxy link costs, open against private (a network key).

A tool, not a test: its table goes with issue 15's closing note.

    /usr/bin/python3 tests/bench/link.py [--quick] [--rounds N] [--seconds S]

Two complete proxies on this machine, A and B, each nws-hub + nws-gateway +
nws-discovery in a runtime directory of its own, gateways on free loopback
ports, discoveries with `--no-avahi --peer 127.0.0.1:<the other gateway's
port>`. nws-bench's sender joins /broadcast/<name> on A's gateway and its
receiver the same channel on B's, so every message takes the whole path:

    sender -> A's gateway -> link -> B's nws-discovery -> B's hub
           -> B's gateway -> receiver

(A's gateway also publishes each message to A's hub, which hands it back
as the echo A's gateway drops; A's discovery holds the link the other way,
which carries nothing here.) Open mode is the
default; private mode gives both gateways and both discoveries `--key FILE`
(a fresh key, mode 0600), which makes the link TLS 1.3 with the key's PSK.
When the programs have no --key, the private column says so and the open
one is still measured.

Each mode gets fresh proxies in every round, warmed up by 5,000 untimed
messages, then runs the three workloads; the modes take turns for --rounds
rounds, open first in odd rounds and private first in even ones (open
private, private open, open private), so that neither always follows the
other:

    paced    1 -> 1 at --rate messages/s (1,000), 64 B, for --paced-seconds:
             one-way latency p50 and p99 (sender and receiver share the
             clock), CPU per message at a low rate
    burst64  1 -> 1 as fast as the window (1,000 in flight) allows, 64 B
             text: messages/s and CPU per message
    burst4k  the same with 4 KiB binary messages: MB/s and CPU per message

Bursts are sized from a trial run in open mode to last about --seconds. CPU
is utime + stime of all six processes (every thread) over the measured
part, read by nws-bench from /proc/PID/stat at its clock's start and stop,
in µs per delivered message; a second table splits it by process and
gives the link's two ends, where TLS works (A's gateway writes the link,
B's discovery reads it). Every run must
deliver every message once and in order (nws-bench checks loss,
duplicates, reordering and foreign messages); a run that does not is
reported and makes the exit status 1.

Prints progress on stderr and, on stdout, the machine and two markdown
tables: each figure as median (min-max) over the rounds per mode with
private / open paired round by round, median (min-max); and CPU per
message by process. After each mode's runs, both gateways' /status must
say that mode and count no refused link. Every process it
starts is stopped by its pid, also on Ctrl-C; logs and each run's full
nws-bench output stay in the --logs directory.
"""

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
from compare import Proc, ROOT, _output, human, raise_fd_limit, say, size_messages  # noqa: E402

ROLES = ["A hub", "A gateway", "A discovery", "B hub", "B gateway", "B discovery"]
LINK_ENDS = ("A gateway", "B discovery")
MODES = ("open", "private")
WARMUP = ["--size", "64", "--messages", "5000"]     # untimed, on every fresh pair
BENCH_TIMEOUT = 60                  # seconds for one nws-bench run, all phases


def die(text):
    sys.stderr.write("link: %s\n" % text)
    sys.exit(2)


compare.die = die                   # Proc's failures speak for this tool


# --------------------------------------------------------------------------
#  Setup

def key_support(bins):
    """True when nws-gateway and nws-discovery both take --key FILE."""
    return all(re.search(r"^\s*--key FILE", _output([bins[k], "--help"]), re.M)
               for k in ("gateway", "discovery"))


def write_key(workdir):
    """A fresh network key: 32 random bytes, one line of base64, mode 0600."""
    path = os.path.join(workdir, "key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    return path


def machine():
    commit = _output(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT)
    dirty = _output(["git", "status", "--porcelain", "--", "gateway", "hub", "discovery", "proto"], cwd=ROOT)
    if dirty not in ("", "?"):
        commit += " + uncommitted changes"
    return ("%d cores (nproc), %s, Linux %s; nws %s, libwebsockets %s, ZeroMQ %s, %s"
            % (os.cpu_count(), compare.cpu_model(), os.uname().release, commit,
               _output(["pkg-config", "--modversion", "libwebsockets"]).rstrip("-"),
               _output(["pkg-config", "--modversion", "libzmq"]),
               _output(["openssl", "version"]).split(" (")[0]))


# --------------------------------------------------------------------------
#  Two linked proxies

class Pair:
    """Proxies A and B, linked by static peers over loopback; with key, in
    private mode. pids are in ROLES order."""

    def __init__(self, bins, logs, workdir, mode, key, serial):
        self.mode = mode
        self.dir = tempfile.mkdtemp(prefix="%s-%d-" % (mode, serial), dir=workdir)
        key_opts = ["--key", key] if key else []
        procs = {}
        ports = {}
        try:
            for side in "AB":
                rdir = os.path.join(self.dir, side)
                os.mkdir(rdir, 0o700)
                tag = "%s-%s" % (mode, side)
                procs[side + " hub"] = Proc(tag + "-hub", [bins["hub"], "--runtime-dir", rdir], logs)
                gw = Proc(tag + "-gateway", [bins["gateway"], "--port", "0", "--bind", "127.0.0.1",
                                             "--runtime-dir", rdir] + key_opts, logs)
                procs[side + " gateway"] = gw
                ports[side] = int(re.search(r"port=(\d+)", gw.ready).group(1))
            # Discovery once both ports are known: each links to the other.
            for side, other in (("A", "B"), ("B", "A")):
                rdir = os.path.join(self.dir, side)
                procs[side + " discovery"] = Proc(
                    "%s-%s-discovery" % (mode, side),
                    [bins["discovery"], "--runtime-dir", rdir, "--port", str(ports[side]), "--no-avahi",
                     "--peer", "127.0.0.1:%d" % ports[other]] + key_opts, logs)
        except BaseException:
            for proc in reversed(list(procs.values())):
                proc.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        self.procs = [procs[r] for r in ROLES]
        self.pids = [p.pid for p in self.procs]
        self.port_a, self.port_b = ports["A"], ports["B"]

    def alive(self):
        return all(p.popen.poll() is None for p in self.procs)

    def check(self):
        """Problems in the gateways' /status: a mode other than ours, or
        links refused (with a key, a plain link gets 403, so a run that
        crossed the link and no refusal mean the link was TLS)."""
        problems = []
        for side, port in (("A", self.port_a), ("B", self.port_b)):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/status")
                status = json.loads(conn.getresponse().read().decode("utf-8", "replace"))
            except (OSError, ValueError) as e:
                problems.append("%s's /status: %s" % (side, e))
                continue
            finally:
                conn.close()
            # A gateway that predates --key says nothing: open.
            broadcast = status.get("gateway", {}).get("broadcast", "open")
            if broadcast != self.mode:
                problems.append("%s's gateway says broadcast %s" % (side, broadcast))
            refused = {k: v for k, v in status.get("counters", {}).items()
                       if k in ("refused_link_nokey", "refused_tls", "refused_private") and v}
            if refused:
                problems.append("%s's gateway refused: %s" % (side, refused))
        return problems

    def stop(self):
        for proc in reversed(self.procs):
            proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
#  Runs

class Runner:
    def __init__(self, bins, logs):
        self.bins = bins
        self.bench_log = open(os.path.join(logs, "bench.log"), "a")
        self.serial = 0             # a channel no earlier run used
        self.failures = []          # (mode, workload, status)

    def bench(self, pair, argv):
        """nws-bench from A's gateway (sender) to B's (receiver) across the
        link; returns its RESULT as a dict, with cpu_s {role: seconds}."""
        self.serial += 1
        cmd = [self.bins["bench"], "--broadcast", "--port", str(pair.port_b),
               "--sender-port", str(pair.port_a), "--receivers", "1",
               "--channel", "link-%d-%d" % (os.getpid(), self.serial),
               "--server-pid", ",".join(str(p) for p in pair.pids),
               "--timeout", str(BENCH_TIMEOUT)] + argv
        self.bench_log.write("\n=== %s (%s)\n" % (" ".join(cmd), pair.mode))
        self.bench_log.flush()
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=BENCH_TIMEOUT + 30)
            out = proc.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            out = ""
        self.bench_log.write(out)
        self.bench_log.flush()
        result = compare.parse_result(out)
        # Each server process's line: "pid N (comm): S.SS s CPU, ...".
        role_of = dict(zip(pair.pids, ROLES))
        result["cpu_s"] = {role_of[int(pid)]: float(cpu) for pid, cpu in
                           re.findall(r"pid (\d+) \([^)]*\): ([\d.]+) s CPU", out)
                           if int(pid) in role_of}
        return result


class Workload:
    def __init__(self, key, label, argv, trial=0):
        self.key = key              # short name
        self.label = label          # for the tables
        self.argv = argv            # nws-bench arguments (--messages added when sized)
        self.trial = trial          # messages of the trial run that sizes it, 0 = not sized


def per_message_us(result, roles=ROLES):
    """CPU µs per delivered message of the processes in roles (all six by
    default)."""
    delivered = result.get("sent", 0) * result.get("receivers", 1)
    cpu = result.get("cpu_s", {})
    if not delivered or len(cpu) != len(ROLES):
        return None
    return sum(cpu[r] for r in roles) * 1e6 / delivered


class Figure:
    def __init__(self, workload, label, get, fmt, higher):
        self.workload = workload    # Workload key
        self.label = label          # first column
        self.get = get              # result -> value or None
        self.fmt = fmt              # compare.human's format, or "us1" (µs with a decimal)
        self.higher = higher        # a higher figure is better


def result_value(key):
    return lambda r: r.get(key) if isinstance(r.get(key), float) else None


def fmt(value, kind):
    if value is None:
        return "n/a"
    if kind == "us1":
        return "%.1f µs" % value
    if kind == "int":
        return "%.0f" % value
    return human(value, kind)


def spread(values, kind):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med, kind)
    return "%s (%s–%s)" % (fmt(med, kind), fmt(min(values), kind), fmt(max(values), kind))


def ratio_cell(priv, open_):
    values = [p / o for p, o in zip(priv, open_) if p is not None and o]
    if not values:
        return "n/a"
    med = statistics.median(values)
    if len(values) == 1:
        return "**%.2f×**" % med
    return "**%.2f×** (%.2f–%.2f)" % (med, min(values), max(values))


# --------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description="a proxy link's cost, open against private (--key)")
    parser.add_argument("--quick", action="store_true", help="one round of short runs (about 20 s)")
    parser.add_argument("--rounds", type=int, help="open/private rounds (default 3, quick 1)")
    parser.add_argument("--seconds", type=float, help="length of a burst run (default 2, quick 0.5)")
    parser.add_argument("--paced-seconds", type=float, help="length of the paced run (default 5, quick 1)")
    parser.add_argument("--rate", type=int, default=1000, help="paced messages/s (default 1000)")
    parser.add_argument("--open-only", action="store_true", help="no private column")
    parser.add_argument("--build-dir", help="where to build (default $NWS_BUILD_DIR or ./build)")
    parser.add_argument("--logs", help="directory for logs (default a new one under /tmp)")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (0.5 if args.quick else 2.0)
    paced_seconds = args.paced_seconds or (1.0 if args.quick else 5.0)
    paced_messages = max(100, int(args.rate * paced_seconds))

    logs = args.logs or tempfile.mkdtemp(prefix="nws-link-")
    os.makedirs(logs, exist_ok=True)
    raise_fd_limit()
    bins = compare.build_programs(args, ("hub", "gateway", "discovery", "bench"))
    private = not args.open_only and key_support(bins)
    if not private and not args.open_only:
        say("private: not available (nws-gateway or nws-discovery has no --key)")
    workdir = tempfile.mkdtemp(prefix="nws-link-run-")
    os.chmod(workdir, 0o700)
    key = write_key(workdir) if private else None
    modes = MODES if private else MODES[:1]
    runner = Runner(bins, logs)

    workloads = [
        Workload("paced", "1 → 1 at %s msg/s, 64 B" % format(args.rate, ","),
                 ["--size", "64", "--rate", str(args.rate), "--messages", str(paced_messages)]),
        Workload("burst64", "1 → 1 burst, 64 B", ["--size", "64"], trial=20000),
        Workload("burst4k", "1 → 1 burst, 4 KiB binary", ["--size", "4096", "--binary"], trial=5000),
    ]
    figures = [
        Figure("paced", "one-way latency p50", result_value("p50_us"), "us", False),
        Figure("paced", "one-way latency p99", result_value("p99_us"), "us", False),
        Figure("paced", "CPU per message, six processes", per_message_us, "us1", False),
        Figure("burst64", "messages/s", result_value("deliveries_per_s"), "rate", True),
        Figure("burst64", "CPU per message, six processes", per_message_us, "us1", False),
        Figure("burst4k", "MB/s", result_value("mb_per_s"), "mb", True),
        Figure("burst4k", "CPU per message, six processes", per_message_us, "us1", False),
    ]
    results = {m: {w.key: [] for w in workloads} for m in modes}
    sizes = {}

    def stop_all(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop_all)
    try:
        # Trial runs in open mode size the bursts, for both modes alike.
        say("logs in %s; trial runs to size the bursts" % logs)
        pair = Pair(bins, logs, workdir, "trial", None, 0)
        try:
            for w in workloads:
                if w.trial:
                    trial = runner.bench(pair, w.argv + ["--messages", str(w.trial)])
                    if trial["status"] != "ok":
                        die("trial run %s failed: %s (see %s)" % (w.key, trial["status"], logs))
                    sizes[w.key] = size_messages(trial, seconds, floor=2000)
        finally:
            pair.stop()
        for r in range(rounds):
            # Open first in odd rounds, private first in even ones, so
            # that neither always follows the other.
            for mode in modes if r % 2 == 0 else modes[::-1]:
                pair = Pair(bins, logs, workdir, mode, key if mode == "private" else None, r + 1)
                try:
                    warm = runner.bench(pair, WARMUP)
                    if warm["status"] != "ok":
                        runner.failures.append((mode, "warm-up", warm["status"]))
                    for w in workloads:
                        argv = w.argv + (["--messages", str(sizes[w.key])] if w.trial else [])
                        res = runner.bench(pair, argv)
                        if res["status"] != "ok":
                            runner.failures.append((mode, w.key, res["status"]))
                        if not pair.alive():
                            die("a process of the %s pair died (logs in %s)" % (mode, logs))
                        results[mode][w.key].append(res)
                        say("round %d %-7s %-8s %s: p50 %s, p99 %s, %s msg/s, %s CPU/msg"
                            % (r + 1, mode, w.key, res["status"], fmt(res.get("p50_us"), "us"),
                               fmt(res.get("p99_us"), "us"), fmt(res.get("deliveries_per_s"), "rate"),
                               fmt(per_message_us(res), "us1")))
                    runner.failures += [(mode, "status", p) for p in pair.check()]
                finally:
                    pair.stop()
    except KeyboardInterrupt:
        say("interrupted")
        Proc.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        return 130
    finally:
        Proc.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    def values(mode, fig):
        return [fig.get(res) if res.get("status") == "ok" else None for res in results[mode][fig.workload]]

    print("Machine: %s" % machine())
    print("Path: sender → A's gateway → link (%s) → B's nws-discovery → B's hub → B's gateway → receiver; "
          "%d round%s, open and private taking turns (open first in odd rounds, private in even ones), "
          "fresh proxies each time, warmed up by 5,000 untimed messages; bursts of %s messages "
          "(64 B) and %s (4 KiB), window 1,000; paced %s messages. Figures: median (min–max) over the "
          "rounds; private / open paired by round." % (
              "ws://, and TLS 1.3 PSK with --key" if private else "ws://", rounds, "s" if rounds > 1 else "",
              format(sizes.get("burst64", 0), ","), format(sizes.get("burst4k", 0), ","),
              format(paced_messages, ",")))
    print()
    print("| workload | figure | open | private | private / open |")
    print("| --- | --- | --- | --- | --- |")
    labels = {w.key: w.label for w in workloads}
    for fig in figures:
        o = values("open", fig)
        p = values("private", fig) if private else []
        print("| %s | %s | %s | %s | %s |" % (
            labels[fig.workload], fig.label, spread(o, fig.fmt),
            spread(p, fig.fmt) if private else "not available",
            ratio_cell(p, o) if private else "—"))
    runs = {m: [res for w in workloads for res in results[m][w.key]] for m in modes}
    for m in modes:
        bad = sum(int(res.get("lost", 0) + res.get("dup", 0) + res.get("reordered", 0) + res.get("foreign", 0))
                  for res in runs[m])
        ok = sum(1 for res in runs[m] if res.get("status") == "ok")
        others = [res["other_cpu_pct"] for res in runs[m] if isinstance(res.get("other_cpu_pct"), float)]
        print("%s%s: %d of %d runs ok, %d messages lost, duplicated, reordered or foreign; "
              "the rest of the machine used %s of one core meanwhile"
              % ("\n" if m == modes[0] else "", m, ok, len(runs[m]), bad, spread(others, "pct")))
    if not private:
        print("private: not available")

    print()
    print("CPU per delivered message by process, µs, median over the rounds%s:"
          % (" (open → private)" if private else ""))
    print()
    print("| process | %s |" % " | ".join(labels[w.key] for w in workloads))
    print("| --- |" + " --- |" * len(workloads))
    # The link's two ends do the TLS: A's gateway writes, B's discovery reads.
    rows = [(r, (r,)) for r in ROLES] + [("the link's ends (A gateway + B discovery)", LINK_ENDS),
                                         ("all six", ROLES)]
    for label, roles in rows:
        cells = []
        for w in workloads:
            med = [statistics.median(v) if v else None for v in
                   ([x for x in (per_message_us(res, roles) for res in results[m][w.key]
                                 if res.get("status") == "ok") if x is not None] for m in modes)]
            cells.append(" → ".join(fmt(v, "us1") for v in med))
        print("| %s | %s |" % (label, " | ".join(cells)))

    if runner.failures:
        print()
        for mode, w, status in runner.failures:
            print("FAILED: %s %s: %s" % (mode, w, status))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
