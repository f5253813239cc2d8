#!/usr/bin/python3
"""profile - where nws spends its time under one nws-bench workload.

    /usr/bin/python3 tests/bench/profile.py [--tool perf|callgrind] [--gateways N]
                                            [-- NWS-BENCH OPTION...]

Starts a hub and N gateways (binaries as compare.py finds or builds them),
runs nws-bench once with the given options (default: 1 -> 100 receivers,
64 B, 50,000 messages) and profiles the servers meanwhile:

  perf       `perf record -e cpu-clock --call-graph dwarf` on the hub and
             every gateway (software clock: no hardware counters needed),
             then the share of each thread, and each process's top symbols,
             self and inclusive. Kernel time included.
  callgrind  the first gateway runs under valgrind --tool=callgrind (about
             50 times slower: use few messages); then its top functions by
             instructions, self and inclusive. User space only, but exact
             and immune to a noisy machine.

Raw data and reports stay in --out (default a new directory in /tmp).
Stops every process it started, by pid.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (build, Proc, Nws)

DEFAULT_BENCH = ["--receivers", "100", "--size", "64", "--messages", "50000"]


def report(argv, path, lines):
    """Runs a perf report or callgrind_annotate, saves it, prints `lines` lines."""
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode(
        "utf-8", "replace")
    with open(path, "w") as f:
        f.write(out)
    shown = [line for line in out.splitlines()
             if line.strip() and not line.startswith("#") and "%" in line
             and not line.lstrip().startswith("|") and "--" not in line]
    print("\n".join(shown[:lines]))


def perf_summary(data, pids, out):
    common = ["perf", "report", "-i", data, "--stdio"]
    print("\n== share of samples per thread (pid:comm), kernel included")
    report(common + ["--no-children", "--sort", "pid,comm"], os.path.join(out, "threads.txt"), 20)
    for pid in pids:
        print("\n== pid %d: top symbols, self" % pid)
        report(common + ["--no-children", "--pid", str(pid), "--sort", "comm,dso,sym"],
               os.path.join(out, "self-%d.txt" % pid), 30)
        print("\n== pid %d: top symbols, inclusive (callers and callees)" % pid)
        report(common + ["--children", "--pid", str(pid), "--sort", "sym"],
               os.path.join(out, "children-%d.txt" % pid), 40)


def main():
    parser = argparse.ArgumentParser(description="profile nws under one nws-bench workload")
    parser.add_argument("--tool", choices=("perf", "callgrind"), default="perf")
    parser.add_argument("--gateways", type=int, default=1)
    parser.add_argument("--build-dir", help="as compare.py")
    parser.add_argument("--out", help="directory for data and reports")
    parser.add_argument("bench", nargs="*", help="nws-bench options (after --)")
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="nws-profile-")
    os.makedirs(out, exist_ok=True)
    compare.raise_fd_limit()
    bins = compare.build(args)
    bench = args.bench or DEFAULT_BENCH
    tool = args.tool
    if tool == "callgrind":
        # The first gateway runs under valgrind: wrap its binary.
        wrapper = os.path.join(out, "gateway-callgrind.sh")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s %s \"$@\"\n"
                    % (os.path.join(out, "callgrind.out"), bins["gateway"]))
        os.chmod(wrapper, 0o755)
        bins = dict(bins, gateway=wrapper)
        compare.READY_TIMEOUT = 60.0
        compare.STOP_TIMEOUT = 120.0
    nws = compare.Nws(bins, out, args.gateways)
    perf = None
    try:
        bench_cmd = [bins["bench"], "--port", str(nws.port), "--timeout", "300",
                     "--server-pid", ",".join(str(p) for p in nws.pids)] + bench
        if tool == "perf":
            data = os.path.join(out, "perf.data")
            perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "999",
                                     "--call-graph", "dwarf,16384", "-o", data,
                                     "-p", ",".join(str(p) for p in nws.pids)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)         # perf attaches asynchronously
        compare.say("running %s" % " ".join(bench_cmd))
        result = subprocess.run(bench_cmd, stdout=subprocess.PIPE).stdout.decode()
        print(result)
        if perf:
            perf.send_signal(2)     # SIGINT: perf writes its data and exits
            perf.wait(60)
            perf = None
    finally:
        if perf:
            perf.kill()
            perf.wait()
        nws.stop()                  # callgrind writes its file as the gateway exits
    if tool == "perf":
        perf_summary(os.path.join(out, "perf.data"), nws.pids, out)
    else:
        files = sorted(f for f in os.listdir(out) if f.startswith("callgrind.out"))
        for name in files:
            path = os.path.join(out, name)
            print("\n== %s: top functions by instructions, self" % name)
            report(["callgrind_annotate", path], os.path.join(out, name + ".self.txt"), 30)
            print("\n== %s: inclusive" % name)
            report(["callgrind_annotate", "--inclusive=yes", path],
                   os.path.join(out, name + ".inclusive.txt"), 40)
    compare.say("data and full reports in %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
