#!/usr/bin/python3
"""compare - nws side by side with Bun's and Node's WebSocket servers
(tests/bench/peer: bun_server.js, Bun's built-in pub/sub, and server.js,
npm `ws`).

A tool, not a test: its table goes in the README's performance section.

    /usr/bin/python3 tests/bench/compare.py [--quick] [--rounds N] [--only W,...]

Builds nws-hub, nws-gateway and nws-bench (or takes them from $NWS_HUB,
$NWS_GATEWAY, $NWS_BENCH), installs the peers with `npm ci` (Bun comes as
the npm package `bun`; Node with apt-get when `node` is missing), starts
nws (a hub and a gateway in a temporary runtime directory), Bun and Node on
free loopback ports, and runs each workload against the three taking turns,
A B C A B C for --rounds rounds. Machines here are shared and noisy, so it
quotes per-round ratios as median (min-max), never one absolute time; every
ratio reads "higher = better for nws" (nws / peer for rates, peer / nws for
latency, memory and CPU). Throughput runs are sized per server to last
about --seconds each, from a first untimed run that also warms up the
JavaScript JITs. Idle-memory runs get fresh servers, so that nothing freed
by an earlier workload hides the cost of a connection.

Prints progress on stderr and, on stdout, the machine, a markdown table
(paste it into the README) and a second one with costs. Exits 1 if any run
lost, duplicated or reordered a message or failed, else 0. Every process it
starts is stopped by its pid, also on Ctrl-C; each run's full output and
the servers' logs stay in the --logs directory.

Only loopback traffic; the standard library only.
"""

import argparse
import ctypes
import glob
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
                       "--runtime-dir", self.dir] + bins.get("gateway_opts", []), logs)
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
    """A peer server from peer/: `runtime` (Node or Bun) runs `script`; its
    one pid is the whole server (/proc/PID/stat counts every thread)."""

    def __init__(self, name, runtime, script, logs):
        self.proc = Proc(name, [runtime, os.path.join(PEER_DIR, script), "--port", "0"],
                         logs, cwd=PEER_DIR)
        self.port = int(re.search(r"port=(\d+)", self.proc.ready).group(1))
        self.pids = [self.proc.pid]

    def alive(self):
        return self.proc.popen.poll() is None

    def stop(self):
        self.proc.stop()


# --------------------------------------------------------------------------
#  Setup: binaries, Node and the peer's packages, limits, machine

PROGRAMS = {"hub": ("NWS_HUB", "hub", "nws-hub"),
            "gateway": ("NWS_GATEWAY", "gateway", "nws-gateway"),
            "discovery": ("NWS_DISCOVERY", "discovery", "nws-discovery"),
            "bench": ("NWS_BENCH", "tests/bench", "nws-bench")}


def build_programs(args, keys):
    """{key: path} of the PROGRAMS named by keys: each from its environment
    variable, or built in args.build_dir ($NWS_BUILD_DIR, ./build)."""
    targets = {k: PROGRAMS[k][1:] for k in keys}
    bins = {k: os.environ.get(PROGRAMS[k][0]) for k in keys}
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


def build(args):
    bins = build_programs(args, ("hub", "gateway", "bench"))
    # Raise this gateway's fixed caps so that one process holds the crowds
    # and the churn (a cap that follows the open-files limit stays).
    usage = _output([bins["gateway"], "--help"])
    bins["gateway_opts"] = [x for opt in ("--max-clients", "--max-channels")
                            if re.search(r"^\s*%s N .*\(default \d+\)" % opt, usage, re.M)
                            for x in (opt, "100000")]
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
    bins["bun"] = find_bun()


def find_bun():
    """The bun binary npm installed: the `bun` package's postinstall puts the
    platform package's binary (@oven/bun-linux-x64, or -baseline for CPUs
    without AVX2) in place of bin/bun.exe; without it, take the platform's."""
    modules = os.path.join(PEER_DIR, "node_modules")
    candidates = [os.path.join(modules, ".bin", "bun")]
    candidates += sorted(glob.glob(os.path.join(modules, "@oven", "bun-linux-*", "bin", "bun")))
    for path in candidates:
        if os.access(path, os.X_OK) and re.match(r"\d+\.\d+", _output([path, "--version"])):
            return path
    die("no working bun in %s (npm ci in tests/bench/peer installs it; a CPU without AVX2 "
        "needs @oven/bun-linux-x64-baseline)" % modules)


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


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def machine(bins):
    model = cpu_model()
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
            "Bun %s; Node %s, ws %s" % (os.cpu_count(), model, mem_kib / 2**20, os.uname().release,
                                        commit,
                                        _output(["pkg-config", "--modversion", "libwebsockets"]).rstrip("-"),
                                        _output(["pkg-config", "--modversion", "libzmq"]),
                                        _output([bins["bun"], "--version"]),
                                        _output([bins["node"], "--version"]), ws))


# --------------------------------------------------------------------------
#  Runs

class Runner:
    def __init__(self, bins, logs):
        self.bins = bins
        self.logs = logs
        self.bench_log = open(os.path.join(logs, "bench.log"), "a")
        self.failures = []          # (workload, server, status)
        self.serial = 0             # for channel names no earlier run used

    def hold(self, server, connections):
        """Starts an nws-bench that holds `connections` idle connections on
        their own channel; returns its Popen once they are all open."""
        cmd = [self.bins["bench"], "--port", str(server.port), "--mode", "idle", "--channel",
               "idlers", "--connections", str(connections), "--hold-ms", "3600000",
               "--timeout", "86400"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + HOLD_TIMEOUT
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

    def bench(self, server, argv, timeout=180):
        """Runs nws-bench against server; returns its RESULT as a dict."""
        cmd = [self.bins["bench"], "--port", str(server.port),
               "--server-pid", ",".join(str(p) for p in server.pids)] + argv
        self.bench_log.write("\n=== %s\n" % " ".join(cmd))
        self.bench_log.flush()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        out = proc.stdout.decode("utf-8", "replace")
        self.bench_log.write(out)
        self.bench_log.flush()
        return parse_result(out)


def parse_result(out):
    """nws-bench's RESULT line in out as a dict (numbers as floats), or
    {"status": "no-result"}."""
    result = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            for item in line.split()[1:]:
                key, _, value = item.partition("=")
                try:
                    result[key] = float(value)
                except ValueError:
                    result[key] = value
    return result or {"status": "no-result"}


HOLD_TIMEOUT = 180                  # seconds for a holder to open its crowd


def open_files(pids):
    count = 0
    for pid in pids:
        try:
            count += len(os.listdir("/proc/%d/fd" % pid))
        except OSError:
            pass
    return count


def settle(server, before, timeout=60.0):
    """Waits until the server has closed what a holder left behind (its open
    files back near `before`), so that the next run does not pay for it."""
    deadline = time.monotonic() + timeout
    while open_files(server.pids) > before + 100 and time.monotonic() < deadline:
        time.sleep(0.2)


class Figure:
    """One line of the table: a RESULT key of a workload's runs."""

    def __init__(self, label, unit, metric, higher=True, fmt="rate", scale=1.0, target=None):
        self.label = label          # first column
        self.unit = unit            # what the figure is
        self.metric = metric        # RESULT key
        self.higher = higher        # a higher figure is better
        self.fmt = fmt              # how figures print
        self.scale = scale          # figure = metric * scale
        self.target = target        # (text, check(advantage, nws_median) -> bool)

    def values(self, results):
        return [r.get(self.metric) * self.scale
                if r.get("status") == "ok" and isinstance(r.get(self.metric), float) else None
                for r in results]


class Workload:
    """nws-bench arguments, how runs are set up, and the lines they give."""

    def __init__(self, key, argv, figures, sized=False, fresh=False, idlers=0, baseline=None,
                 new_channels=False):
        self.key = key              # name for --only
        self.argv = argv            # nws-bench arguments (messages added when sized)
        self.figures = figures      # Figure lines; the first is the main one
        self.sized = sized          # --messages chosen per server for --seconds
        self.fresh = fresh          # new servers for every run
        self.idlers = idlers        # idle connections held open meanwhile, on another channel
        self.baseline = baseline    # the same run without idlers: its key (sizes, "kept" line)
        self.new_channels = new_channels  # a channel name no earlier run used, every run

    @property
    def label(self):
        return self.figures[0].label


def size_messages(result, seconds, floor=1000, ceiling=2_000_000):
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
    (the JavaScript JITs), restarted if it died, stopped at the end."""

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


def run_one(runner, workload, server, argv):
    """One nws-bench run, with the workload's idle crowd held meanwhile."""
    if not workload.idlers:
        return runner.bench(server, argv)
    before = open_files(server.pids)
    holder = runner.hold(server, workload.idlers)
    if not holder:
        settle(server, before)
        return {"status": "idlers-refused"}
    try:
        return runner.bench(server, argv)
    finally:
        runner.release(holder)
        settle(server, before)


def run_turns(runner, workload, targets, rounds, seconds, quick, sizes):
    """Runs workload against each Target in turn, A B C A B C. Returns
    {name: [result per round]}; sizes keeps {key: {name: messages}}."""
    results = {t.name: [] for t in targets}
    if workload.sized:
        if workload.baseline in sizes:
            sizes[workload.key] = sizes[workload.baseline]
        else:
            sizes[workload.key] = {}
            for t in targets:
                trial = run_one(runner, workload, t.get(),
                                workload.argv + ["--messages", str(500 if quick else 2000)])
                sizes[workload.key][t.name] = size_messages(trial, seconds)
                say("%s: trial on %s: %s deliveries/s -> %d messages per channel"
                    % (workload.key, t.name, human(trial.get("deliveries_per_s"), "rate"),
                       sizes[workload.key][t.name]))
    main = workload.figures[0]
    for r in range(rounds):
        for t in targets:
            server = t.factory() if workload.fresh else t.get()
            argv = list(workload.argv)
            if workload.sized:
                argv += ["--messages", str(sizes[workload.key][t.name])]
            if workload.new_channels:
                runner.serial += 1
                argv += ["--channel", "%s%d" % (workload.key, runner.serial)]
            try:
                result = run_one(runner, workload, server, argv)
            finally:
                if workload.fresh:
                    server.stop()
            results[t.name].append(result)
            figure = main.values([result])[0]
            status = result.get("status")
            if status != "ok":
                runner.failures.append((workload.key, t.name, status))
            say("%s round %d/%d %s: %s %s (server CPU %s, bench %s, others %s)%s" % (
                workload.key, r + 1, rounds, t.name, human(figure, main.fmt),
                main.unit if main.fmt == "rate" else "",
                human(result.get("server_cpu_pct"), "pct"), human(result.get("cpu_pct"), "pct"),
                human(result.get("other_cpu_pct"), "pct"),
                "" if status == "ok" else "  ** status=%s **" % status))
    return results


def ratios(a, b):
    return [x / y if x is not None and y else None for x, y in zip(a, b)]


def cpu_key(workload):
    return "server_ns_per_conn" if "--mode" in workload.argv else "server_ns_per_delivery"


def cpu_ratios(workload, slow, fast):
    """Per round: server CPU per delivery (or connection) of `slow` / `fast`."""
    key = cpu_key(workload)

    def per(results):
        return [r.get(key) if r.get("status") == "ok" and r.get(key) else None for r in results]
    return ratios(per(slow), per(fast))


def fmt_ratio(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    med = statistics.median(values)
    return "**%.2f×** (%.2f–%.2f)" % (med, min(values), max(values))


NWS = "nws"
PEERS = ("Bun", "Node")             # the columns nws is compared with, in turn order after nws


def table_row(fig, values, cpu=None, extra="", ok_extra=True):
    """A markdown row: figures per server, nws's advantage over each peer
    (higher = better for nws), CPU efficiency, target and whether met."""
    def advantage(peer):
        a, b = values[NWS], values[peer]
        return ratios(a, b) if fig.higher else ratios(b, a)
    nws_median = median(values[NWS])
    met = []
    for peer in PEERS:
        if not fig.target:
            met.append("—")
            continue
        ok = fig.target[1](median(advantage(peer)), nws_median) and ok_extra
        met.append("yes" if ok else "**no**")
    cells = [fig.label, fig.unit] + [human(median(values[n]), fig.fmt) for n in (NWS,) + PEERS]
    cells += [fmt_ratio(advantage(peer)) for peer in PEERS]
    cells += [fmt_ratio(cpu[peer]) if cpu else "—" for peer in PEERS]
    cells += [(fig.target[0] if fig.target else "none") + extra, " / ".join(met)]
    return "| %s |" % " | ".join(cells)


def main():
    parser = argparse.ArgumentParser(description="nws side by side with Bun's and Node's WebSocket servers")
    parser.add_argument("--quick", action="store_true",
                        help="one round of shorter runs (a few minutes)")
    parser.add_argument("--rounds", type=int, help="A B C rounds per workload (default 3, quick 1)")
    parser.add_argument("--seconds", type=float, help="length of a throughput run (default 3, quick 1)")
    parser.add_argument("--only", help="comma-separated workloads: fanout10,fanout100,channels,"
                        "fanout4k,crowd,crowd20k,paced,idle,connect,churn,gateways")
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
    # The big crowd: 20,000 idle clients, or as many as one server process
    # may hold beside the measured run (each side's open-files limit).
    big_crowd = min(20000, fd_limit - 200)
    bins = build(args)
    setup_node(bins)
    runner = Runner(bins, logs)

    def at_least(n):
        return lambda ratio, nws: ratio is not None and ratio >= n

    # The goal: nws at least even with each peer on every figure.
    EVEN = ("≥ 1×", at_least(1))

    def crowd(key, idlers):
        return Workload(key, ["--receivers", "10", "--size", "64"], [
            Figure("1 → 10, 64 B, beside %s idle clients on another channel" % format(idlers, ","),
                   "deliveries/s", "deliveries_per_s", target=EVEN)], sized=True, idlers=idlers,
            baseline="fanout10")

    workloads = [
        Workload("fanout10", ["--receivers", "10", "--size", "64"], [
            Figure("1 → 10 receivers, 64 B", "deliveries/s", "deliveries_per_s", target=EVEN)], sized=True),
        Workload("fanout100", ["--receivers", "100", "--size", "64"], [
            Figure("1 → 100 receivers, 64 B", "deliveries/s", "deliveries_per_s",
                   target=EVEN)], sized=True),
        Workload("channels", ["--channels", "10", "--receivers", "10", "--size", "64"], [
            Figure("10 channels × (1 → 10), 64 B", "deliveries/s", "deliveries_per_s",
                   target=EVEN)], sized=True),
        Workload("fanout4k", ["--receivers", "10", "--size", "4096", "--binary"], [
            Figure("1 → 10, 4 KiB binary", "MB/s", "mb_per_s", fmt="mb",
                   target=EVEN)], sized=True),
        crowd("crowd", 5000),
        crowd("crowd20k", big_crowd),
        Workload("paced", ["--receivers", "10", "--size", "64", "--rate", "2000",
                           "--messages", str(paced_messages)], [
            Figure("1 → 10 at 2,000 msg/s, p99 latency", "p99", "p99_us", higher=False, fmt="us",
                   target=EVEN),
            Figure("1 → 10 at 2,000 msg/s, server CPU", "% of a core", "server_cpu_pct",
                   higher=False, fmt="pct", target=EVEN)]),
        Workload("idle", ["--mode", "idle", "--connections", str(idle_conns), "--hold-ms", "1000"], [
            Figure("%s idle connections, RSS each" % format(idle_conns, ","), "KiB",
                   "rss_kib_per_conn", higher=False, fmt="kib",
                   target=EVEN)],
                 fresh=True),
        Workload("connect", ["--mode", "connect", "--connections", str(idle_conns),
                             "--concurrency", "100"], [
            Figure("connection setup to one channel, 100 in flight", "connections/s", "conn_per_s",
                   target=EVEN)]),
        Workload("churn", ["--mode", "connect", "--churn", "--connections", str(idle_conns),
                           "--concurrency", "100"], [
            Figure("churn: every connection opens a new channel, 100 in flight", "connections/s",
                   "conn_per_s", target=EVEN)], new_channels=True),
    ]
    gateways = Workload("gateways", ["--receivers", "100", "--size", "64"], [
        Figure("1 → 100, 64 B: 2 gateways / 1", "deliveries/s", "deliveries_per_s")], sized=True)
    chosen = set(args.only.split(",")) if args.only else None
    if chosen:
        unknown = chosen - {w.key for w in workloads + [gateways]}
        if unknown:
            die("unknown workload(s): %s" % ", ".join(sorted(unknown)))
        chosen |= {w.baseline for w in workloads if w.key in chosen and w.baseline}

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    desc = machine(bins)
    say("machine: %s" % desc)
    say("logs in %s; open-files limit %d" % (logs, fd_limit))
    done = []                       # (workload, {name: results})
    targets = [Target(NWS, lambda: Nws(bins, logs), runner),
               Target("Bun", lambda: Peer("bun", bins["bun"], "bun_server.js", logs), runner),
               Target("Node", lambda: Peer("node", bins["node"], "server.js", logs), runner)]
    targets2 = [Target("1 gateway", lambda: Nws(bins, logs, 1), runner),
                Target("2 gateways", lambda: Nws(bins, logs, 2), runner)]
    sizes = {}
    two = None
    try:
        for w in workloads:
            if chosen and w.key not in chosen:
                continue
            done.append((w, run_turns(runner, w, targets, rounds, seconds, args.quick, sizes)))
        if not chosen or "gateways" in chosen:
            for t in targets:
                t.stop()
            two = run_turns(runner, gateways, targets2, rounds, seconds, args.quick, sizes)
    except KeyboardInterrupt:
        say("interrupted")
        Proc.stop_all()
        return 130
    finally:
        for t in targets + targets2:
            t.stop()
        Proc.stop_all()

    results = {w.key: res for w, res in done}
    print()
    print("Machine: %s." % desc)
    print()
    print("nws against Bun's built-in WebSocket pub/sub and Node's `ws`, taking turns (nws, Bun, "
          "Node) for %d round%s. A ratio is nws's advantage in one round, median (min–max) over "
          "the rounds, **higher = better for nws**: nws / peer for rates, peer / nws for latency, "
          "memory and CPU. \"CPU eff.\" is the peer's server CPU per delivery (or connection) over "
          "nws's: less sensitive to a busy machine than rates. Figures are medians. The target "
          "is nws at least even on every figure; \"met\" is against Bun / Node."
          % (rounds, "" if rounds == 1 else "s"))
    if big_crowd < 20000:
        print()
        print("The big crowd is %s, not 20,000: each process may open at most %d files here "
              "(the hard limit), and the server holds the crowd and the measured run in one."
              % (format(big_crowd, ","), fd_limit))
    print()
    print("| workload | figure | nws | Bun | Node `ws` | nws vs Bun | nws vs Node | CPU eff. vs Bun "
          "| CPU eff. vs Node | target | met (Bun / Node) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for w, res in done:
        for i, fig in enumerate(w.figures):
            values = {name: fig.values(rs) for name, rs in res.items()}
            cpu = {peer: cpu_ratios(w, res[peer], res[NWS]) for peer in PEERS} if i == 0 else None
            extra, ok_extra = "", True
            if w.key == "channels":
                fair = {n: median([r.get("fairness") for r in res[n] if r.get("status") == "ok"])
                        for n in (NWS,) + PEERS}
                ok_extra = fair[NWS] is not None and fair[NWS] <= 1.10
                extra = "; fairness %s" % " / ".join(human(fair[n], "num") for n in (NWS,) + PEERS)
            print(table_row(fig, values, cpu, extra, ok_extra))
            if w.baseline in results:
                base = {name: fig.values(rs) for name, rs in results[w.baseline].items()}
                kept = {name: [x * 100 if x is not None else None for x in ratios(values[name], base[name])]
                        for name in values}
                print(table_row(Figure("… throughput kept beside %s idle clients"
                                       % format(w.idlers, ","), "% of no crowd", fig.metric,
                                       fmt="pct"), kept))
    if two:
        one, both = gateways.figures[0].values(two["1 gateway"]), gateways.figures[0].values(two["2 gateways"])
        print()
        print("nws with two gateways on one port (SO_REUSEPORT) over one, 1 → 100, 64 B: %s "
              "(%s vs %s deliveries/s; CPU efficiency %s); above 1× when there are cores to spare."
              % (fmt_ratio(ratios(both, one)), human(median(both), "rate"), human(median(one), "rate"),
                 fmt_ratio(cpu_ratios(gateways, two["1 gateway"], two["2 gateways"]))))
        done.append((gateways, {"nws, 2 gateways": two["2 gateways"], "nws, 1 gateway": two["1 gateway"]}))
    print()
    print("Costs (medians; CPU in % of one core while the clock ran; \"bench\" is nws-bench itself, "
          "\"others\" the rest of the machine):")
    print()
    print("| workload | server | server CPU | server CPU per delivery or connection "
          "| latency p50 / p99 | bench CPU | others |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for w, res in done:
        for name, rs in res.items():
            ok = [r for r in rs if r.get("status") == "ok"]

            def med(key):
                return median([r.get(key) for r in ok if isinstance(r.get(key), float)])
            if "--mode" in w.argv:
                lat = "%s / %s (handshake)" % (human(med("hs_p50_us"), "us"), human(med("hs_p99_us"), "us"))
            else:
                lat = "%s / %s" % (human(med("p50_us"), "us"), human(med("p99_us"), "us"))
            print("| %s | %s | %s | %s | %s | %s | %s |" % (
                w.label, name, human(med("server_cpu_pct"), "pct"), human(med(cpu_key(w)), "ns"),
                lat, human(med("cpu_pct"), "pct"), human(med("other_cpu_pct"), "pct")))
    errors = {}
    for w, res in done:
        for rs in res.values():
            for r in rs:
                for key in ("lost", "dup", "reordered", "undelivered", "foreign", "refused", "dropped"):
                    errors[key] = errors.get(key, 0) + int(r.get(key, 0) or 0)
    others = median([r.get("other_cpu_pct") for _, res in done for rs in res.values()
                     for r in rs if isinstance(r.get("other_cpu_pct"), float)])
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
