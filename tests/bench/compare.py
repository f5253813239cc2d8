#!/usr/bin/python3
"""compare - nws side by side with the Node.js `ws` peer (tests/bench/peer).

A tool, not a test: its table goes in the README's performance section.

    /usr/bin/python3 tests/bench/compare.py [--quick] [--rounds N] [--only W,...]

Builds nws-hub, nws-gateway and nws-bench (or takes them from $NWS_HUB,
$NWS_GATEWAY, $NWS_BENCH), installs the peer with `npm ci` (and Node with
apt-get when `node` is missing), starts nws (a hub and a gateway in a
temporary runtime directory) and the peer on free loopback ports, and runs
each workload against both, A B A B for --rounds rounds. Machines here are
shared and noisy, so it quotes per-round ratios nws / peer as median
(min-max), never one absolute time. Throughput runs are sized per server
to last about --seconds each, from a first untimed run that also warms up
Node's JIT. Idle-memory runs get fresh servers, so that nothing freed by an
earlier workload hides the cost of a connection.

Prints progress on stderr and, on stdout, the machine, a markdown table
(paste it into the README) and a second one with costs. Exits 1 if any run
lost, duplicated or reordered a message or failed, else 0. Every process it
starts is stopped by its pid, also on Ctrl-C; each run's full output and
the servers' logs stay in the --logs directory.

Only loopback traffic; the standard library only.
"""

import argparse
import ctypes
import os
import re
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PEER_DIR = os.path.join(HERE, "peer")
READY_TIMEOUT = 15.0                # seconds for a server to print `ready`
STOP_TIMEOUT = 5.0                  # seconds for a server to exit on SIGTERM
FD_WANT = 65536                     # open files for us and every child

T0 = time.monotonic()


def say(text):
    sys.stderr.write("[%5.0fs] %s\n" % (time.monotonic() - T0, text))
    sys.stderr.flush()


def die(text):
    sys.stderr.write("compare: %s\n" % text)
    sys.exit(2)


# --------------------------------------------------------------------------
#  Processes

def _child_setup():
    # Between fork and exec: die with us (1 = PR_SET_PDEATHSIG), own group.
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)


class Proc:
    """A started server: waits for its one `ready ...` line on stdout,
    stderr goes to a log file. Stopped by pid: SIGTERM, then SIGKILL."""

    running = []                    # every Proc not stopped yet

    def __init__(self, name, argv, logs, cwd=None):
        self.name = name
        self.log_path = os.path.join(logs, name + ".log")
        with open(self.log_path, "ab") as log:
            log.write(("\n=== %s\n" % " ".join(argv)).encode())
            log.flush()
            self.popen = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=log,
                                          preexec_fn=_child_setup, close_fds=True)
        self.pid = self.popen.pid
        Proc.running.append(self)
        self.ready = self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        line = b""
        fd = self.popen.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.stop()
                die("%s printed no ready line in %.0f s (log: %s)" % (self.name, READY_TIMEOUT, self.log_path))
            chunk = os.read(fd, 1)
            if not chunk:
                self.stop()
                die("%s exited before it was ready (log: %s)" % (self.name, self.log_path))
            line += chunk
        text = line.decode("utf-8", "replace").strip()
        if not text.startswith("ready"):
            self.stop()
            die("%s said %r instead of ready" % (self.name, text))
        return text

    def stop(self):
        if self not in Proc.running:
            return
        Proc.running.remove(self)
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait()
        self.popen.stdout.close()

    @staticmethod
    def stop_all():
        for proc in reversed(list(Proc.running)):
            proc.stop()


class Nws:
    """A hub and one or more gateways sharing one port (SO_REUSEPORT)."""

    def __init__(self, bins, logs, gateways=1):
        self.dir = tempfile.mkdtemp(prefix="nws-bench-")
        os.chmod(self.dir, 0o700)
        self.procs = [Proc("nws-hub", [bins["hub"], "--runtime-dir", self.dir], logs)]
        port = 0
        for i in range(gateways):
            gw = Proc("nws-gateway-%d" % (i + 1),
                      [bins["gateway"], "--port", str(port), "--bind", "127.0.0.1",
                       "--runtime-dir", self.dir], logs)
            self.procs.append(gw)
            port = int(re.search(r"port=(\d+)", gw.ready).group(1))
        self.port = port
        self.pids = [p.pid for p in self.procs]

    def alive(self):
        return all(p.popen.poll() is None for p in self.procs)

    def stop(self):
        for proc in reversed(self.procs):
            proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Peer:
    """The Node.js ws server."""

    def __init__(self, bins, logs):
        self.proc = Proc("peer", [bins["node"], os.path.join(PEER_DIR, "server.js"), "--port", "0"],
                         logs, cwd=PEER_DIR)
        self.port = int(re.search(r"port=(\d+)", self.proc.ready).group(1))
        self.pids = [self.proc.pid]

    def alive(self):
        return self.proc.popen.poll() is None

    def stop(self):
        self.proc.stop()


# --------------------------------------------------------------------------
#  Setup: binaries, Node and the peer's packages, limits, machine

def build(args):
    bins = {k: os.environ.get(v) for k, v in
            (("hub", "NWS_HUB"), ("gateway", "NWS_GATEWAY"), ("bench", "NWS_BENCH"))}
    targets = {"hub": ("hub", "nws-hub"), "gateway": ("gateway", "nws-gateway"),
               "bench": ("tests/bench", "nws-bench")}
    missing = [k for k, v in bins.items() if not v]
    if missing:
        build_dir = args.build_dir or os.environ.get("NWS_BUILD_DIR") or os.path.join(ROOT, "build")
        if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
            say("configuring %s" % build_dir)
            rc = subprocess.call(["cmake", "-S", ROOT, "-B", build_dir,
                                  "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], stdout=subprocess.DEVNULL)
            if rc:
                die("cmake failed (bash tools/nws.sh test installs the build dependencies)")
        say("building %s in %s" % (", ".join(targets[k][1] for k in missing), build_dir))
        cmd = ["cmake", "--build", build_dir, "-j", str(os.cpu_count() or 2), "--target"]
        cmd += [targets[k][1] for k in missing]
        if subprocess.call(cmd, stdout=subprocess.DEVNULL):
            die("build failed: %s" % " ".join(cmd))
        for k in missing:
            bins[k] = os.path.join(build_dir, targets[k][0], targets[k][1])
    for k, path in bins.items():
        if not os.access(path, os.X_OK):
            die("no %s at %s" % (k, path))
    return bins


def setup_node(bins):
    node = shutil.which("node")
    if not node:
        if os.geteuid() != 0:
            die("node is missing: apt-get install nodejs npm")
        say("installing nodejs and npm with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.call(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        if subprocess.call(["apt-get", "install", "-y", "-q", "nodejs", "npm"], env=env,
                           stdout=subprocess.DEVNULL):
            die("apt-get install nodejs npm failed")
        node = shutil.which("node")
    bins["node"] = node
    lock = os.path.join(PEER_DIR, "package-lock.json")
    stamp = os.path.join(PEER_DIR, "node_modules", ".package-lock.json")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(lock):
        say("installing the peer's packages (npm ci)")
        if subprocess.call(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=PEER_DIR, stdout=subprocess.DEVNULL):
            die("npm ci failed in %s" % PEER_DIR)


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = FD_WANT if hard == resource.RLIM_INFINITY else min(FD_WANT, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _output(argv, cwd=None):
    try:
        return subprocess.check_output(argv, cwd=cwd, stderr=subprocess.DEVNULL).decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine(bins):
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    ws = "?"
    try:
        with open(os.path.join(PEER_DIR, "node_modules", "ws", "package.json")) as f:
            ws = re.search(r'"version":\s*"([^"]+)"', f.read()).group(1)
    except OSError:
        pass
    commit = _output(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT)
    if _output(["git", "status", "--porcelain", "--", "gateway", "hub", "proto"], cwd=ROOT) not in ("", "?"):
        commit += " + uncommitted changes"
    return ("%d cores (nproc), %s, %.0f GiB, Linux %s; nws %s, libwebsockets %s, ZeroMQ %s; "
            "Node %s, ws %s" % (os.cpu_count(), model, mem_kib / 2**20, os.uname().release, commit,
                                _output(["pkg-config", "--modversion", "libwebsockets"]).rstrip("-"),
                                _output(["pkg-config", "--modversion", "libzmq"]),
                                _output([bins["node"], "--version"]), ws))


# --------------------------------------------------------------------------
#  Runs

class Runner:
    def __init__(self, bins, logs):
        self.bins = bins
        self.logs = logs
        self.bench_log = open(os.path.join(logs, "bench.log"), "a")
        self.failures = []          # (workload, server, status)

    def hold(self, server, connections):
        """Starts an nws-bench that holds `connections` idle connections on
        their own channel; returns its Popen once they are all open."""
        cmd = [self.bins["bench"], "--port", str(server.port), "--mode", "idle", "--channel",
               "idlers", "--connections", str(connections), "--hold-ms", "3600000"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        line = b""
        fd = proc.stdout.fileno()
        while not line.startswith(b"holding"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 1)
            if not chunk:
                break
            line = b"" if chunk == b"\n" else line + chunk
        if not line.startswith(b"holding"):
            self.release(proc)
            return None
        return proc

    def release(self, proc):
        """Stops a holder from hold() by its pid and logs its report."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode("utf-8", "replace")
        self.bench_log.write("\n=== idle holder\n" + out)
        self.bench_log.flush()

    def bench(self, server, argv, timeout=120):
        """Runs nws-bench against server; returns its RESULT as a dict."""
        cmd = [self.bins["bench"], "--port", str(server.port),
               "--server-pid", ",".join(str(p) for p in server.pids)] + argv
        self.bench_log.write("\n=== %s\n" % " ".join(cmd))
        self.bench_log.flush()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        out = proc.stdout.decode("utf-8", "replace")
        self.bench_log.write(out)
        self.bench_log.flush()
        result = {}
        for line in out.splitlines():
            if line.startswith("RESULT "):
                for item in line.split()[1:]:
                    key, _, value = item.partition("=")
                    try:
                        result[key] = float(value)
                    except ValueError:
                        result[key] = value
        if not result:
            result = {"status": "no-result"}
        return result


class Workload:
    """One line of the table: bench arguments, the figure compared and how."""

    def __init__(self, key, label, unit, metric, argv, higher=True, sized=False,
                 fresh=False, target=None, scale=1.0, fmt="rate", idlers=0):
        self.key = key              # name for --only
        self.label = label          # first column
        self.unit = unit            # what the figure is
        self.metric = metric        # RESULT key
        self.argv = argv            # nws-bench arguments (messages added when sized)
        self.higher = higher        # a higher figure is better
        self.sized = sized          # --messages chosen per server for --seconds
        self.fresh = fresh          # new servers for every run
        self.target = target        # (text, check(ratio, nws_median) -> bool)
        self.scale = scale          # figure = metric * scale
        self.fmt = fmt              # how figures print
        self.idlers = idlers        # idle connections held open meanwhile, on another channel


def size_messages(result, argv, seconds, floor=1000, ceiling=2_000_000):
    """Messages per channel for a run of about `seconds`, from a trial run."""
    channels = int(result.get("channels", 1))
    receivers = int(result.get("receivers", 1))
    per_channel = result.get("deliveries_per_s", 0) / max(1, channels * receivers)
    return int(min(ceiling, max(floor, per_channel * seconds)))


def human(value, fmt):
    if value is None:
        return "n/a"
    if fmt == "rate":
        for div, suffix in ((1e6, " M"), (1e3, " k")):
            if value >= div:
                return "%.3g%s" % (value / div, suffix)
        return "%.0f" % value
    if fmt == "us":
        if value < 1000:
            return "%.0f µs" % value
        return "%.2f ms" % (value / 1e3) if value < 1e6 else "%.2f s" % (value / 1e6)
    if fmt == "ns":
        return "{:,.0f} ns".format(value)
    if fmt == "pct":
        return "%.0f %%" % value
    if fmt == "kib":
        return "%.2f KiB" % value
    if fmt == "mb":
        return "%.0f MB/s" % value
    return "%.3g" % value


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


WARMUP = ["--receivers", "10", "--messages", "20000"]


class Target:
    """A server to measure: started on demand by factory, warmed up once
    (Node's JIT), restarted if it died, stopped at the end."""

    def __init__(self, name, factory, runner):
        self.name = name
        self.factory = factory
        self.runner = runner
        self.server = None

    def get(self):
        if self.server and not self.server.alive():
            say("%s died: restarting it (see its log)" % self.name)
            self.runner.failures.append(("-", self.name, "server died"))
            self.server.stop()
            self.server = None
        if not self.server:
            self.server = self.factory()
            self.runner.bench(self.server, WARMUP)
        return self.server

    def stop(self):
        if self.server:
            self.server.stop()
            self.server = None


def run_pair(runner, workload, targets, rounds, seconds, quick):
    """Runs workload against each Target, A B A B. Returns {name: [result, ...]}."""
    results = {t.name: [] for t in targets}
    messages = {}
    if workload.sized:
        for t in targets:
            name = t.name
            holder = runner.hold(t.get(), workload.idlers) if workload.idlers else None
            try:
                trial = runner.bench(t.get(), workload.argv + ["--messages", str(500 if quick else 2000)])
            finally:
                if holder:
                    runner.release(holder)
            messages[name] = size_messages(trial, workload.argv, seconds)
            say("%s: trial on %s: %s deliveries/s -> %d messages per channel"
                % (workload.key, name, human(trial.get("deliveries_per_s"), "rate"), messages[name]))
    for r in range(rounds):
        for t in targets:
            name = t.name
            server = t.factory() if workload.fresh else t.get()
            holder = None
            try:
                argv = list(workload.argv)
                if workload.sized:
                    argv += ["--messages", str(messages[name])]
                if workload.idlers:
                    holder = runner.hold(server, workload.idlers)
                if workload.idlers and not holder:
                    result = {"status": "idlers-refused"}
                else:
                    result = runner.bench(server, argv)
            finally:
                if holder:
                    runner.release(holder)
                if workload.fresh:
                    server.stop()
            results[name].append(result)
            figure = result.get(workload.metric)
            status = result.get("status")
            if status != "ok":
                runner.failures.append((workload.key, name, status))
            say("%s round %d/%d %s: %s %s (server CPU %s, bench %s, others %s)%s" % (
                workload.key, r + 1, rounds, name,
                human(figure * workload.scale if isinstance(figure, float) else None, workload.fmt),
                workload.unit if workload.fmt == "rate" else "",
                human(result.get("server_cpu_pct"), "pct"), human(result.get("cpu_pct"), "pct"),
                human(result.get("other_cpu_pct"), "pct"),
                "" if status == "ok" else "  ** status=%s **" % status))
    return results


def figures(workload, results):
    return [r.get(workload.metric) * workload.scale
            if r.get("status") == "ok" and isinstance(r.get(workload.metric), float) else None
            for r in results]


def ratios(a, b):
    return [x / y if x is not None and y else None for x, y in zip(a, b)]


def cpu_ratios(workload, slow, fast):
    """Per round: server CPU per delivery (or connection) of `slow` / `fast`."""
    key = "server_ns_per_conn" if "--mode" in workload.argv else "server_ns_per_delivery"

    def per(results):
        return [r.get(key) if r.get("status") == "ok" and r.get(key) else None for r in results]
    return ratios(per(slow), per(fast))


def fmt_ratio(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    med = statistics.median(values)
    return "**%.2f×** (%.2f–%.2f)" % (med, min(values), max(values))


def main():
    parser = argparse.ArgumentParser(description="nws side by side with the Node.js ws peer")
    parser.add_argument("--quick", action="store_true",
                        help="one round of shorter runs (under a minute)")
    parser.add_argument("--rounds", type=int, help="A B rounds per workload (default 3, quick 1)")
    parser.add_argument("--seconds", type=float, help="length of a throughput run (default 3, quick 1)")
    parser.add_argument("--only", help="comma-separated workloads: " +
                        "fanout100,channels,fanout4k,crowd,paced,idle,connect,gateways")
    parser.add_argument("--build-dir", help="where to build (default $NWS_BUILD_DIR or ./build)")
    parser.add_argument("--logs", help="directory for logs (default a new one under /tmp)")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (1.0 if args.quick else 3.0)
    idle_conns = 5000
    paced_messages = 2000 if args.quick else 6000

    logs = args.logs or tempfile.mkdtemp(prefix="nws-compare-")
    os.makedirs(logs, exist_ok=True)
    fd_limit = raise_fd_limit()
    bins = build(args)
    setup_node(bins)
    runner = Runner(bins, logs)

    def ratio_at_least(n):
        return lambda ratio, nws: ratio is not None and ratio >= n

    workloads = [
        Workload("fanout100", "1 → 100 receivers, 64 B", "deliveries/s", "deliveries_per_s",
                 ["--receivers", "100", "--size", "64"], sized=True,
                 target=("≥ 4×", ratio_at_least(4))),
        Workload("channels", "10 channels × (1 → 10), 64 B", "deliveries/s", "deliveries_per_s",
                 ["--channels", "10", "--receivers", "10", "--size", "64"], sized=True,
                 target=("≥ 4×, fairness ≤ 1.10", ratio_at_least(4))),
        Workload("fanout4k", "1 → 10, 4 KiB binary", "MB/s", "mb_per_s",
                 ["--receivers", "10", "--size", "4096", "--binary"], sized=True, fmt="mb",
                 target=("≥ 3×", ratio_at_least(3))),
        Workload("crowd", "1 → 10, 64 B, with 5,000 idle clients on another channel", "deliveries/s",
                 "deliveries_per_s", ["--receivers", "10", "--size", "64"], sized=True, idlers=5000),
        Workload("paced", "1 → 10 at 2,000 msg/s, p99 latency", "p99", "p99_us",
                 ["--receivers", "10", "--size", "64", "--rate", "2000",
                  "--messages", str(paced_messages)], higher=False, fmt="us",
                 target=("≤ 1× (nws no slower)", lambda ratio, nws: ratio is not None and ratio <= 1)),
        Workload("idle", "%s idle connections, RSS each" % format(idle_conns, ","), "KiB", "rss_kib_per_conn",
                 ["--mode", "idle", "--connections", str(idle_conns), "--hold-ms", "1000"],
                 higher=False, fresh=True, fmt="kib",
                 target=("nws ≤ 4 KiB", lambda ratio, nws: nws is not None and nws <= 4)),
        Workload("connect", "connection setup, 100 in flight", "connections/s", "conn_per_s",
                 ["--mode", "connect", "--connections", str(idle_conns), "--concurrency", "100"],
                 target=("≥ 2×", ratio_at_least(2))),
    ]
    gateways = Workload("gateways", "1 → 100, 64 B: 2 gateways / 1", "deliveries/s", "deliveries_per_s",
                        ["--receivers", "100", "--size", "64"], sized=True,
                        target=("> 1× when cores allow", ratio_at_least(1)))
    chosen = set(args.only.split(",")) if args.only else None
    if chosen:
        unknown = chosen - {w.key for w in workloads + [gateways]}
        if unknown:
            die("unknown workload(s): %s" % ", ".join(sorted(unknown)))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    desc = machine(bins)
    say("machine: %s" % desc)
    say("logs in %s; open-files limit %d" % (logs, fd_limit))
    rows, costs = [], []
    targets = [Target("nws", lambda: Nws(bins, logs), runner),
               Target("peer", lambda: Peer(bins, logs), runner)]
    targets2 = [Target("1 gateway", lambda: Nws(bins, logs, 1), runner),
                Target("2 gateways", lambda: Nws(bins, logs, 2), runner)]
    try:
        for w in workloads:
            if chosen and w.key not in chosen:
                continue
            res = run_pair(runner, w, targets, rounds, seconds, args.quick)
            a, b = figures(w, res["nws"]), figures(w, res["peer"])
            rs = ratios(a, b)
            target = w.target or ("none (not in issue 6)", None)
            ok = target[1](median(rs), median(a)) if target[1] else None
            extra = ""
            if w.key == "channels":
                fa = median([r.get("fairness") for r in res["nws"] if r.get("status") == "ok"])
                fb = median([r.get("fairness") for r in res["peer"] if r.get("status") == "ok"])
                ok = ok and fa is not None and fa <= 1.10
                extra = "; fairness %s vs %s" % (human(fa, "num"), human(fb, "num"))
            rows.append((w.label, w.unit, human(median(a), w.fmt), human(median(b), w.fmt),
                         fmt_ratio(rs), fmt_ratio(cpu_ratios(w, res["peer"], res["nws"])),
                         target[0] + extra, "—" if ok is None else "yes" if ok else "**no**"))
            costs.append((w, res))
        if not chosen or "gateways" in chosen:
            for t in targets:
                t.stop()
            w = gateways
            res = run_pair(runner, w, targets2, rounds, seconds, args.quick)
            one, two = figures(w, res["1 gateway"]), figures(w, res["2 gateways"])
            rs = ratios(two, one)
            ok = w.target[1](median(rs), None)
            rows.append((w.label, w.unit, "2 gateways: " + human(median(two), w.fmt),
                         "(nws, 1 gateway: %s)" % human(median(one), w.fmt), fmt_ratio(rs),
                         fmt_ratio(cpu_ratios(w, res["1 gateway"], res["2 gateways"])), w.target[0],
                         "yes" if ok else "**no**"))
            costs.append((w, {"nws": res["2 gateways"], "peer": res["1 gateway"]}))
    except KeyboardInterrupt:
        say("interrupted")
        Proc.stop_all()
        return 130
    finally:
        for t in targets + targets2:
            t.stop()
        Proc.stop_all()

    print()
    print("Machine: %s. Each ratio is nws / peer per round, median (min–max) of %d round%s, "
          "A B alternating; figures are medians. \"CPU efficiency\" is the peer's server CPU per "
          "delivery (or connection) over nws's: less sensitive to a busy machine than rates."
          % (desc, rounds, "" if rounds == 1 else "s"))
    print()
    print("| workload | figure | nws | Node `ws` peer | ratio | CPU efficiency | target | met |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| %s |" % " | ".join(row))
    print()
    print("Costs (medians; CPU in % of one core while the clock ran; \"bench\" is nws-bench itself, "
          "\"others\" the rest of the machine):")
    print()
    print("| workload | server | server CPU | server CPU per delivery or connection "
          "| latency p50 / p99 | bench CPU | others |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for w, res in costs:
        for name, results in res.items():
            if w.key == "gateways":
                name = "nws, 2 gateways" if name == "nws" else "nws, 1 gateway"
            ok = [r for r in results if r.get("status") == "ok"]

            def med(key):
                return median([r.get(key) for r in ok if isinstance(r.get(key), float)])
            setup = "--mode" in w.argv
            per = med("server_ns_per_conn") if setup else med("server_ns_per_delivery")
            if setup:
                lat = "%s / %s (handshake)" % (human(med("hs_p50_us"), "us"), human(med("hs_p99_us"), "us"))
            else:
                lat = "%s / %s" % (human(med("p50_us"), "us"), human(med("p99_us"), "us"))
            print("| %s | %s | %s | %s | %s | %s | %s |" % (
                w.label, name, human(med("server_cpu_pct"), "pct"),
                human(per, "ns"), lat,
                human(med("cpu_pct"), "pct"), human(med("other_cpu_pct"), "pct")))
    errors = {}
    for w, res in costs:
        for results in res.values():
            for r in results:
                for key in ("lost", "dup", "reordered", "undelivered", "foreign", "refused", "dropped"):
                    errors[key] = errors.get(key, 0) + int(r.get(key, 0) or 0)
    others = median([r.get("other_cpu_pct") for _, res in costs for results in res.values()
                     for r in results if isinstance(r.get("other_cpu_pct"), float)])
    print()
    print("Integrity over every run: %s." % ", ".join("%d %s" % (v, k) for k, v in sorted(errors.items())))
    if others is not None and others > 25:
        print()
        print("Note: other processes used %.0f %% of one core (median) while the clock ran: the "
              "machine was busy, so these figures are noisier than usual." % others)
    if runner.failures:
        print()
        print("FAILED runs: %s" % "; ".join("%s on %s: %s" % f for f in runner.failures))
    say("done in %.0f s; logs in %s" % (time.monotonic() - T0, logs))
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())
