#!/usr/bin/python3
"""Several simulated LAN "hosts" on one Linux machine, for multi-host tests.

Python 3 standard library only; must run as root (network namespaces).

Topology (for ``Hosts(n, prefix, extra_ifaces={1: 1})``)::

      netns <prefix>-sw  ("switch")
      +---------------------------------------------------+
      |  br0 (Linux bridge, multicast_snooping=0)         |
      |   p0        p1     p1b      ...       p<n-1>      |
      +---|---------|-------|-------------------|---------+
          | veth    | veth  | veth              | veth
      +---|---+ +---|-------|---+           +---|---+
      |  mh0  | |  mh1    mh1b  |    ...    | mh<k> |   netns <prefix>-h<k>
      +-------+ +---------------+           +-------+

* The switch is layer 2 only (IPv6 disabled in its netns: br0 and the
  ports have no address and send nothing themselves).
* Families (``Hosts(family=...)``):
  - "dual" (default; what a stock Debian 12 has): host k has 10.77.0.(10+k)/24
    on ``mh<k>`` and IPv6 on with the kernel's defaults, i.e. just the
    automatic link-local fe80::/64 address (EUI-64 of the veth's random MAC,
    so it differs from run to run).  avahi-daemon runs on both.
  - "ipv4": the same IPv4 address, IPv6 disabled (disable_ipv6 sysctls),
    avahi with use-ipv6=no and publish-aaaa-on-ipv4=no.
  - "ipv6": no IPv4 address on the LAN (``lo`` still has 127.0.0.1), the
    link-local IPv6 address only, avahi with use-ipv4=no.
  host.addr is the IPv4 address, or the link-local one for "ipv6"; also
  host.addr4/addr6/ifindex/ifaces/ifaddrs/addrs (see Host).
* Subnet: 10.77.0.0/24 (``Hosts(subnet="10.77.0")`` to change).  Each host
  also has ``lo`` up and, where IPv4 is on, a route 224.0.0.0/4 on
  ``mh<k>`` (mDNS uses 224.0.0.251; ff02::fb needs no route).  No default
  route: nothing can leave the namespaces, and the root namespace's
  interfaces are never touched (only ``/run/netns/<name>`` files appear
  there).
* IPv6 Duplicate Address Detection stays on (a default): a link-local
  address is "tentative", unusable, for 1-2 s after its link comes up.  The
  links of all hosts come up first; avahi starts once no address is
  tentative any more (so it sees them at once).  After link_up() and a
  switch-side link flap DAD runs again (link_up(wait=True) waits for it).
* Two interfaces on the LAN: ``Hosts(n, extra_ifaces={k: m})`` gives host k
  m (1 or 2) more veths ``mh<k>b``, ``mh<k>c`` on the same bridge (ports
  ``p<k>b``, ``p<k>c``), with 10.77.0.(100+k) and 10.77.0.(200+k) and their
  own link-local IPv6; avahi's allow-interfaces lists all of them.  Linux
  defaults: both interfaces answer ARP for both addresses, replies use the
  first connected route (mh<k>).
* Lossy multicast: ``host.drop_mdns(percent)`` drops that share of the UDP
  port 5353 packets the host receives (IPv4 and IPv6) at random, with an
  nftables table ``inet nwsmh`` in its netns (iptables -m statistic without
  nft); ``drop_mdns(0)`` removes it.  host.mdns_dropped() counts the drops.
* Each host has a long-lived "anchor" process (``sleep infinity``) started
  with ``ip netns exec <ns> unshare -m --propagation private``; its mount
  namespace has a private tmpfs on /run (= /var/run on Debian) and an empty
  directory bind-mounted on /etc/avahi/services.  Every command of the host is
  run with ``nsenter -t <anchor> -n -m``, so it sees the host's network *and*
  its /run: its own system D-Bus socket (/run/dbus/system_bus_socket), its own
  avahi-daemon pid file and socket, and its own /run/nws (the nws runtime dir
  for root).  /tmp and everything else is shared with the real machine.
* Each host runs ``dbus-daemon --nofork --config-file=<generated>`` (a system
  bus listening on /run/dbus/system_bus_socket, running as root, policy as in
  Debian's system.conf plus /usr/share/dbus-1/system.d) and
  ``avahi-daemon --no-drop-root --no-chroot --no-rlimits -f <generated conf>``
  with Debian 12's shipped configuration (see AVAHI_CONF: use-ipv4/6=yes,
  publish-aaaa-on-ipv4=yes, publish-a-on-ipv6=no, ratelimit-burst=1000,
  enable-wide-area=yes) except ``allow-interfaces=mh<k>[,mh<k>b]`` and
  ``host-name=<prefix>-h<k>`` (and the families' use-ipv4/use-ipv6).
* What avahi does on "dual" (its defaults): every service is seen twice in
  a browse, over IPv6 and over IPv4 (protocol column; either may come
  first).  The A record goes over IPv4 only (publish-a-on-ipv6=no), the
  AAAA record over both (publish-aaaa-on-ipv4=yes), so resolving over IPv6
  gives the link-local address (fe80::..., printed without %scope) and over
  IPv4 usually the IPv4 address, but sometimes the fe80:: one (whichever
  record the resolver gets first; measured: 3 of 200 one-shot browses).
* Bookkeeping: /tmp/<prefix>.pids (JSON lines: owner, namespaces, processes
  with their start times, temp dirs).  ``cleanup_stale("nwsmh")`` removes what
  a crashed run left behind (only for owners that are no longer alive);
  ``Hosts.__enter__`` calls it.  Temp dir: /tmp/<prefix>-XXXX, one subdir per
  host with the generated configs and the daemons' logs.

* Commands in a host get os.environ minus DBUS_*_BUS_ADDRESS,
  NWS_RUNTIME_DIR and XDG_RUNTIME_DIR, plus
  DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket (pass env= or
  extra_env= to change).  /run/nws is not pre-created: nws must create it.
* The anchor unmounts its copy of /run/netns first: otherwise every anchor
  would hold a reference to every namespace that existed when it started.
* link_down()/link_up(): side="host" sets the host's own veth down (avahi
  drops the interface and its cache at once); side="switch" sets its bridge
  port down (carrier lost, avahi keeps the interface and its cache: a silent
  partition where packets just vanish).
* Browser (host.browser(type)): a long-running avahi-browse whose events are
  timestamped by a reader thread, for "within N seconds" checks.
* Measured here (2 cores): setup of 3 dual-stack hosts ~2.9-3.3 s, of 8
  ~3.4-3.5 s (network ~0.1 s per host, dbus, then what is left of DAD: 1-2 s
  after the last link came up, then avahi's host name probing ~1.2 s);
  "ipv4" hosts skip DAD (3 hosts ~1.4 s).  Teardown ~0.1-0.3 s.  An advert published in one host is
  resolved in another after ~0.8-1.0 s (avahi probes 3 x 250 ms before
  announcing), and is gone ~1.0 s after the publisher exits (goodbye
  records expire after 1 s).

Usage::

    from hosts import Hosts
    with Hosts(3) as hs:                       # family="dual"
        h0, h1, h2 = hs
        pub = h0.popen(["avahi-publish", "-s", "x", "_ws._tcp", "9009"])
        hs.wait_for(lambda: h1.browse("_ws._tcp"), timeout=10)
        h2.link_down(); ...; h2.link_up()
        h0.stop_avahi(); h0.start_avahi()
        h1.drop_mdns(20); ...; h1.drop_mdns(0)
    with Hosts(2, family="ipv6", extra_ifaces={1: 1}) as hs:
        hs[0].run(["ping", "-6", "-c1", "-W2", hs[1].ifaddrs["mh1b"]["addr6"] + "%mh0"])

Command line: ``hosts.py cleanup`` (reap stale leftovers of nwsmh*),
``hosts.py up N`` (start N hosts and print how to enter them; Ctrl-C ends).
"""

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BASE_PREFIX = "nwsmh"
DEFAULT_SUBNET = "10.77.0"          # /24; host k gets <subnet>.(10+k)
HOST_ADDR_OFFSET = 10
BRIDGE = "br0"

IP = shutil.which("ip") or "/usr/sbin/ip"
NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
DBUS_DAEMON = shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon"
AVAHI_DAEMON = (shutil.which("avahi-daemon") or "/usr/sbin/avahi-daemon")
_SBIN_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
NFT = shutil.which("nft", path=_SBIN_PATH)             # None: use iptables
IPTABLES = shutil.which("iptables", path=_SBIN_PATH)
IP6TABLES = shutil.which("ip6tables", path=_SBIN_PATH)

SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket"
SYSTEM_BUS_ADDRESS = "unix:path=" + SYSTEM_BUS_SOCKET

# Environment variables that would make a host's programs use something
# outside the host (another bus, a runtime dir in a shared place).
_ENV_DROP = ("DBUS_SYSTEM_BUS_ADDRESS", "DBUS_SESSION_BUS_ADDRESS",
             "NWS_RUNTIME_DIR", "XDG_RUNTIME_DIR")

DBUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- generated by tests/multihost/hosts.py: the system bus of one test host -->
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=%(socket)s</listen>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <includedir>/etc/dbus-1/system.d</includedir>
</busconfig>
"""

# avahi-daemon.conf of one host: Debian 12's (avahi 0.8-10+deb12u1).  In
# each section, first the values set in Debian's shipped
# /etc/avahi/avahi-daemon.conf, then the ones it leaves commented out
# (avahi's built-in defaults, written out so the file says what runs).  The
# harness sets only host-name and allow-interfaces, and for family="ipv4" or
# "ipv6" (not what users have) use-ipv4/use-ipv6/publish-aaaa-on-ipv4.
AVAHI_CONF = """# generated by tests/multihost/hosts.py (family=%(family)s)
[server]
host-name=%(hostname)s
allow-interfaces=%(ifnames)s
# set in Debian's file
use-ipv4=%(use_ipv4)s
use-ipv6=%(use_ipv6)s
ratelimit-interval-usec=1000000
ratelimit-burst=1000
# defaults (commented out in Debian's file)
domain-name=local
check-response-ttl=no
use-iff-running=no
enable-dbus=yes
disallow-other-stacks=no
allow-point-to-point=no
cache-entries-max=4096
clients-max=4096
objects-per-client-max=1024
entries-per-entry-group-max=32

[wide-area]
# set in Debian's file
enable-wide-area=yes

[publish]
# set in Debian's file
publish-hinfo=no
publish-workstation=no
# defaults (commented out in Debian's file)
disable-publishing=no
disable-user-service-publishing=no
add-service-cookie=no
publish-addresses=yes
publish-domain=yes
publish-resolv-conf-dns-servers=no
publish-aaaa-on-ipv4=%(publish_aaaa_on_ipv4)s
publish-a-on-ipv6=no

[reflector]
# defaults (commented out in Debian's file)
enable-reflector=no
reflect-ipv=no

[rlimits]
"""

# family -> (IPv4 address on the interfaces, IPv6 on, avahi use-ipv4,
#            use-ipv6, publish-aaaa-on-ipv4)
FAMILIES = {
    "dual": (True, True, "yes", "yes", "yes"),     # Debian: what users have
    "ipv4": (True, False, "yes", "no", "no"),      # IPv6 disabled
    "ipv6": (False, True, "no", "yes", "yes"),     # no IPv4 address at all
}
MAX_EXTRA_IFACES = 2                # extra interface j (1, 2): <subnet>.(100*j + k)


class HarnessError(RuntimeError):
    pass


# ---------------------------------------------------------------- utilities

def _run(cmd, check=True, timeout=30):
    """Run a command in the root namespace (only ip/nsenter plumbing)."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise HarnessError("%s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                  r.stderr.strip()))
    return r


def proc_starttime(pid):
    """Start time (clock ticks since boot) of a pid, or None if it is gone.
    Used so that a recorded pid is never confused with a reused one."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2:].split()
    if fields and fields[0] == "Z":
        return None                       # zombie: as good as gone
    return int(fields[19])


def pid_alive(pid, starttime):
    st = proc_starttime(pid)
    return st is not None and (starttime is None or st == starttime)


def wait_for(predicate, timeout, interval=0.05, what=None):
    """Poll predicate() every `interval` s until it returns a true value,
    which is returned; HarnessError (naming `what`) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise HarnessError("timed out after %.1fs waiting for %s"
                               % (timeout, what or getattr(predicate, "__name__", "condition")))
        time.sleep(interval)


def netns_list():
    r = _run([IP, "netns", "list"], check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def _ns_id(path):
    try:
        st = os.stat(path)
        return (st.st_dev, st.st_ino)
    except OSError:
        return None


def pids_in_netns(name):
    """Pids of all processes whose network namespace is netns `name`."""
    want = _ns_id("/run/netns/" + name)
    if want is None:
        return []
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            if _ns_id("/proc/%s/ns/net" % d) == want:
                out.append(int(d))
    return out


def kill_netns_processes(name, timeout=3.0):
    """SIGKILL every process inside netns `name` until none is left."""
    deadline = time.monotonic() + timeout
    while True:
        pids = pids_in_netns(name)
        pids = [p for p in pids if proc_starttime(p) is not None]
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() > deadline:
            return
        time.sleep(0.02)


def unescape_avahi(s):
    """Undo avahi-browse -p escaping ('\\.' and '\\DDD' decimal)."""
    out, i = bytearray(), 0
    b = s.encode()
    while i < len(b):
        c = b[i]
        if c == 0x5C and i + 1 < len(b):
            if i + 4 <= len(b) and b[i + 1:i + 4].isdigit():
                out.append(int(b[i + 1:i + 4]))
                i += 4
                continue
            out.append(b[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return out.decode(errors="replace")


def parse_browse(text):
    """Parse `avahi-browse -p [-r]` output into a list of dicts.
    '+' (found) lines give event/iface/proto/name/type/domain; '=' (resolved)
    lines add host/address/port/txt (a list of strings)."""
    res = []
    for line in text.splitlines():
        parts = line.split(";")
        if len(parts) < 6 or parts[0] not in "+-=":
            continue
        d = {"event": parts[0], "iface": parts[1], "proto": parts[2],
             "name": unescape_avahi(parts[3]), "type": parts[4],
             "domain": parts[5]}
        if parts[0] == "=" and len(parts) >= 10:
            d["host"] = parts[6]
            d["address"] = parts[7]
            d["port"] = int(parts[8])
            txt = ";".join(parts[9:])
            d["txt"] = _parse_txt(txt)
        res.append(d)
    return res


def _parse_txt(txt):
    # avahi-browse prints TXT strings as "a" "b" (with \" escapes inside)
    items, cur, inq, i = [], "", False, 0
    while i < len(txt):
        c = txt[i]
        if inq:
            if c == "\\" and i + 1 < len(txt):
                cur += txt[i + 1]
                i += 2
                continue
            if c == '"':
                items.append(cur)
                cur, inq = "", False
            else:
                cur += c
        elif c == '"':
            inq = True
        i += 1
    return items


# ------------------------------------------------------------- bookkeeping

class _Ledger:
    """Append-only JSON-lines record at /tmp/<prefix>.pids of everything a
    Hosts instance creates, so that cleanup_stale() can undo a crashed run."""

    def __init__(self, prefix):
        self.path = "/tmp/%s.pids" % prefix
        me = os.getpid()
        with open(self.path, "w") as f:
            f.write(json.dumps({"owner": me, "start": proc_starttime(me)}) + "\n")

    def add(self, **rec):
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def remove(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _read_ledger(path):
    recs = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return recs


def cleanup_stale(base=BASE_PREFIX, verbose=False):
    """Remove leftovers of earlier runs whose owner process is dead:
    processes recorded in /tmp/<base>*.pids (if their start time matches),
    every process inside their namespaces, the namespaces <base>*-*, their
    temp dirs and the ledger.  Runs whose owner is alive are left alone.
    Returns the list of prefixes cleaned."""
    live_prefixes, cleaned = set(), []
    ledgers = {}
    for fn in os.listdir("/tmp"):
        if fn.startswith(base) and fn.endswith(".pids"):
            prefix = fn[:-5]
            recs = _read_ledger("/tmp/" + fn)
            owner = next((r for r in recs if "owner" in r), None)
            if owner and pid_alive(owner["owner"], owner.get("start")):
                live_prefixes.add(prefix)
            else:
                ledgers[prefix] = recs
    # namespaces without a live owner (a run writes its ledger before it
    # creates anything, and removes it after everything is gone)
    stale_ns = {}
    for ns in netns_list():
        if ns.startswith(base) and "-" in ns:
            prefix = ns.rsplit("-", 1)[0]
            if prefix not in live_prefixes:
                stale_ns.setdefault(prefix, []).append(ns)
    for prefix in set(ledgers) | set(stale_ns):
        recs = ledgers.get(prefix, [])
        for r in recs:                       # recorded processes first
            if "pid" in r and pid_alive(r["pid"], r.get("start")):
                try:
                    if r.get("pgid"):
                        os.killpg(r["pgid"], signal.SIGKILL)
                    else:
                        os.kill(r["pid"], signal.SIGKILL)
                except OSError:
                    pass
        names = set(stale_ns.get(prefix, []))
        names |= {r["ns"] for r in recs if "ns" in r}
        for ns in names:
            kill_netns_processes(ns)
        for ns in names:
            _run([IP, "netns", "del", ns], check=False)
        for r in recs:
            if "dir" in r and r["dir"].startswith("/tmp/" + prefix):
                shutil.rmtree(r["dir"], ignore_errors=True)
        try:
            os.unlink("/tmp/%s.pids" % prefix)
        except FileNotFoundError:
            pass
        cleaned.append(prefix)
        if verbose:
            print("cleaned stale %s (%s)" % (prefix, ", ".join(sorted(names)) or "no netns"))
    return cleaned


# ------------------------------------------------------------------ Browser

class Browser:
    """A long-running `avahi-browse -p -k [-r] <type>` in one host, read by a
    thread.  Every line becomes an event dict (see parse_browse) with "t"
    (time.monotonic() when it was read) and "seq"; `present` maps
    (iface, proto, name, type, domain) to the latest '+'/'=' event of the
    services currently there.  Use it to time adverts appearing/vanishing."""

    def __init__(self, host, stype="_ws._tcp", resolve=True):
        import threading
        self.host = host
        self.events = []
        self.present = {}
        self.cond = threading.Condition()
        cmd = ["avahi-browse", "-p", "-k"] + (["-r"] if resolve else []) + [stype]
        with open(os.path.join(host.dir, "browse.log"), "ab") as err:
            self.proc = host.popen(cmd, stdout=subprocess.PIPE, stderr=err)
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()

    def _reader(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            for ev in parse_browse(line):
                key = (ev["iface"], ev["proto"], ev["name"], ev["type"], ev["domain"])
                with self.cond:
                    ev["t"] = time.monotonic()
                    ev["seq"] = len(self.events)
                    self.events.append(ev)
                    if ev["event"] == "-":
                        self.present.pop(key, None)
                    elif ev["event"] == "=" or key not in self.present:
                        self.present[key] = ev
                    self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def mark(self):
        """Index to pass as `since` to wait() to see only later events."""
        with self.cond:
            return len(self.events)

    def wait(self, pred, timeout, since=0, what="browse event"):
        """Wait for the first event (index >= since) with pred(event) true;
        returns it, or raises HarnessError at the deadline."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = since
            while True:
                while i < len(self.events):
                    if pred(self.events[i]):
                        return self.events[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HarnessError("%s: timed out after %.1fs waiting for %s"
                                       % (self.host.name, timeout, what))
                if self.proc.poll() is not None and not self._thread.is_alive():
                    raise HarnessError("%s: avahi-browse exited (%s) waiting for %s"
                                       % (self.host.name, self.proc.returncode, what))
                self.cond.wait(min(left, 0.5))

    def names(self):
        with self.cond:
            return sorted({k[2] for k in self.present})

    def close(self):
        self.host.kill(self.proc)
        self._thread.join(2)
        self.proc.stdout.close()


# --------------------------------------------------------------------- Host

class Host:
    """One simulated machine.  Attributes: name (netns name, also avahi
    host name), index, dir (its temp dir: configs and logs), anchor_pid;
    its network:

    * ifname: its (first) interface, e.g. mh0; ifindex: its index in the
      host's netns; port_name: its bridge port in the switch (p0).
    * ifaces / port_names: all its interfaces (mh0, then mh0b, mh0c for
      extra_ifaces) and their bridge ports (p0, p0b, p0c).
    * addr4: IPv4 address of ifname (e.g. 10.77.0.10), None if
      family="ipv6"; addr6: link-local IPv6 address of ifname (fe80::...,
      no %scope), None if family="ipv4"; addr: addr4, or addr6 if there is
      no IPv4.
    * ifaddrs: {ifname: {"ifindex": i, "addr4": a or None, "addr6": a or
      None}} for every interface; addrs: all its addresses, the IPv4 ones
      (in ifaces order) then the IPv6 ones."""

    def __init__(self, hosts, index, n_extra=0):
        self.hosts = hosts
        self.index = index
        self.name = "%s-h%d" % (hosts.prefix, index)
        self.ns = self.name
        suffixes = [""] + [chr(ord("b") + j) for j in range(n_extra)]
        self.ifaces = ["mh%d%s" % (index, x) for x in suffixes]
        self.port_names = ["p%d%s" % (index, x) for x in suffixes]
        self.ifname = self.ifaces[0]
        self.port_name = self.port_names[0]  # its bridge port in the switch
        octets = [HOST_ADDR_OFFSET + index] + [100 * j + index for j in range(1, n_extra + 1)]
        self.ifaddrs = {ifn: {"ifindex": None, "addr6": None,
                              "addr4": "%s.%d" % (hosts.subnet, o) if hosts.ipv4 else None}
                        for ifn, o in zip(self.ifaces, octets)}
        self.hostname = self.name             # avahi host name (<name>.local)
        self.dir = os.path.join(hosts.dir, "h%d" % index)
        os.makedirs(self.dir)
        self.anchor = None
        self.dbus = None
        self.avahi = None
        self._drop_rule = None                # iptables spec of drop_mdns
        self._procs = []                      # (Popen, own_group)
        self.avahi_conf = os.path.join(self.dir, "avahi-daemon.conf")
        self.dbus_conf = os.path.join(self.dir, "dbus-system.conf")

    def __repr__(self):
        return "<Host %s %s>" % (self.name, self.addr)

    # ---- addresses (see the class doc)
    @property
    def addr4(self):
        return self.ifaddrs[self.ifname]["addr4"]

    @property
    def addr6(self):
        return self.ifaddrs[self.ifname]["addr6"]

    @property
    def addr(self):
        return self.addr4 or self.addr6

    @property
    def ifindex(self):
        return self.ifaddrs[self.ifname]["ifindex"]

    @property
    def addrs(self):
        return ([self.ifaddrs[i]["addr4"] for i in self.ifaces if self.ifaddrs[i]["addr4"]] +
                [self.ifaddrs[i]["addr6"] for i in self.ifaces if self.ifaddrs[i]["addr6"]])

    def ip_addrs(self):
        """`ip -j addr show` in this host, as a dict {ifname: entry}."""
        r = self.ip("-j", "addr", "show")
        return {e["ifname"]: e for e in json.loads(r.stdout or "[]")}

    def _ipv6_ready(self):
        """True (and addr6 recorded) once every interface has a link-local
        IPv6 address that passed Duplicate Address Detection."""
        info = self.ip_addrs()
        ready = True
        for ifn in self.ifaces:
            e = info.get(ifn, {})
            self.ifaddrs[ifn]["ifindex"] = e.get("ifindex")
            ll = [a for a in e.get("addr_info", ())
                  if a.get("family") == "inet6" and a.get("scope") == "link"]
            if any(a.get("dadfailed") for a in ll):
                raise HarnessError("%s: IPv6 DAD failed on %s: %s" % (self.name, ifn, ll))
            if ll:
                self.ifaddrs[ifn]["addr6"] = ll[0]["local"]
            if not ll or any(a.get("tentative") for a in ll):
                ready = False
        return ready

    def wait_ipv6(self, timeout=10):
        """Wait until this host's link-local IPv6 addresses are usable: they
        are "tentative" (DAD) for ~1-2 s after the link comes up."""
        if self.hosts.ipv6:
            wait_for(self._ipv6_ready, timeout, what="IPv6 DAD in " + self.name)

    # ---- namespace plumbing
    @property
    def anchor_pid(self):
        return self.anchor.pid

    def path(self, p):
        """Path, seen from the root namespace, of `p` inside this host's
        mount namespace (e.g. host.path('/run/nws/hub-in'))."""
        return "/proc/%d/root%s" % (self.anchor.pid, p)

    def ip(self, *args, check=True):
        return _run([IP, "-n", self.ns] + list(args), check=check)

    def _setup(self):
        """Network of the host; its IPv6 addresses are still tentative when
        this returns (Hosts waits for all hosts at once: wait_ipv6)."""
        h = self.hosts
        sw = h.switch_ns
        _run([IP, "netns", "add", self.ns])
        h.ledger.add(ns=self.ns)
        for ifn, port in zip(self.ifaces, self.port_names):
            _run([IP, "-n", sw, "link", "add", port, "type", "veth",
                  "peer", "name", ifn, "netns", self.ns])
            _run([IP, "-n", sw, "link", "set", port, "master", BRIDGE, "up"])
        self._anchor_start()
        if not h.ipv6:
            # "all" also applies to the interfaces that exist already
            self.sysctl("net.ipv6.conf.all.disable_ipv6", "1")
            self.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
        self.ip("link", "set", "lo", "up")
        for ifn in self.ifaces:
            if self.ifaddrs[ifn]["addr4"]:
                self.ip("addr", "add", "%s/24" % self.ifaddrs[ifn]["addr4"], "dev", ifn)
            self.ip("link", "set", ifn, "multicast", "on", "up")
        self._routes()
        if h.ipv6:
            self._ipv6_ready()                 # ifindex, addr6 (tentative)
        else:
            info = self.ip_addrs()
            for ifn in self.ifaces:
                self.ifaddrs[ifn]["ifindex"] = info[ifn]["ifindex"]

    def _routes(self):
        # No default route, so IPv4 multicast needs one (avahi sends to
        # 224.0.0.251 with the interface given; one route is enough).  IPv6
        # needs none: ff02::fb is link-scoped, the kernel's local table has
        # ff00::/8 on every interface.
        if self.hosts.ipv4:
            self.ip("route", "replace", "224.0.0.0/4", "dev", self.ifname)

    def sysctl(self, key, value):
        path = "/proc/sys/" + key.replace(".", "/")
        self.run(["sh", "-c", 'echo "$1" > "$2"', "sh", value, path], check=True)

    def _anchor_start(self):
        empty = os.path.join(self.dir, "empty-services")
        os.makedirs(empty)
        # In the new mount namespace: drop the copies of /run/netns (they
        # would keep every netns alive as long as this anchor lives), give it
        # a private /run and an empty /etc/avahi/services.
        script = (
            "umount -l /run/netns 2>/dev/null; "
            "mount -t tmpfs -o mode=0755,size=16m nwsmh-run /run || exit 1; "
            "mkdir -p /run/dbus /run/avahi-daemon /run/lock || exit 1; "
            "if [ -d /etc/avahi/services ]; then "
            "mount --bind \"$1\" /etc/avahi/services || exit 1; fi; "
            "echo ready; exec sleep infinity")
        with open(os.path.join(self.dir, "anchor.log"), "w") as err:
            self.anchor = subprocess.Popen(
                [IP, "netns", "exec", self.ns, UNSHARE, "-m", "--propagation",
                 "private", "--", "/bin/sh", "-c", script, "anchor", empty],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                start_new_session=True)
        self.hosts.ledger.add(pid=self.anchor.pid, pgid=self.anchor.pid,
                              start=proc_starttime(self.anchor.pid), what="anchor " + self.name)
        r, _, _ = select.select([self.anchor.stdout], [], [], 10)
        line = self.anchor.stdout.readline().decode() if r else ""
        if line.strip() != "ready":
            raise HarnessError("anchor of %s did not start: %s" % (
                self.name, open(os.path.join(self.dir, "anchor.log")).read()))

    # ---- running commands inside the host
    def env(self, extra=None):
        e = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
        e["DBUS_SYSTEM_BUS_ADDRESS"] = SYSTEM_BUS_ADDRESS
        if extra:
            e.update(extra)
        return e

    def wrap(self, cmd, cwd=None):
        """The argv that runs `cmd` inside this host (net + mount ns)."""
        if isinstance(cmd, str):
            cmd = ["/bin/sh", "-c", cmd]
        return [NSENTER, "-t", str(self.anchor.pid), "-n", "-m",
                "--wd=" + (cwd or os.getcwd()), "--"] + list(cmd)

    def popen(self, cmd, log=None, env=None, extra_env=None, cwd=None,
              start_new_session=True, **kw):
        """subprocess.Popen of `cmd` (list, or str for /bin/sh -c) inside the
        host.  By default in a new session/process group (killed as a whole
        at exit).  log="name" sends stdout+stderr to <host.dir>/name.log
        (path in proc.log_path).  env defaults to host.env(extra_env)."""
        if log is not None:
            log_path = os.path.join(self.dir, log + ".log")
            f = open(log_path, "ab")
            kw.setdefault("stdout", f)
            kw.setdefault("stderr", subprocess.STDOUT)
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(self.wrap(cmd, cwd),
                             env=env if env is not None else self.env(extra_env),
                             start_new_session=start_new_session, **kw)
        if log is not None:
            f.close()
            p.log_path = log_path
        self._procs.append((p, start_new_session))
        self.hosts.ledger.add(pid=p.pid, pgid=p.pid if start_new_session else 0,
                              start=proc_starttime(p.pid),
                              what="%s: %s" % (self.name, " ".join(map(str, cmd))[:200]))
        return p

    def run(self, cmd, timeout=30, check=False, input=None, text=True, **kw):
        """Like subprocess.run (stdout/stderr captured by default) inside the
        host; on timeout the whole process group is killed and
        subprocess.TimeoutExpired raised."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        if input is not None:
            kw["stdin"] = subprocess.PIPE
        p = self.popen(cmd, text=text, **kw)
        try:
            out, err = p.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(p)
            p.communicate()
            raise
        finally:
            self._forget(p)
        r = subprocess.CompletedProcess(cmd, p.returncode, out, err)
        if check and r.returncode != 0:
            raise HarnessError("%s: %r failed (%d): %s" % (self.name, cmd, r.returncode,
                                                           (err or "").strip()))
        return r

    def _forget(self, p):
        self._procs = [(q, g) for (q, g) in self._procs if q is not p]

    def kill(self, p, sig=signal.SIGTERM, timeout=5.0):
        """Stop a process started with popen (its whole group if it has its
        own): `sig`, then SIGKILL after `timeout`.  Returns its exit code."""
        own = next((g for (q, g) in self._procs if q is p), True)
        if p.poll() is None:
            self._signal(p, sig, own)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(p, signal.SIGKILL, own)
                p.wait()
        if own:                                # leftovers of the group
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
        return p.returncode

    @staticmethod
    def _signal(p, sig, own_group):
        try:
            if own_group:
                os.killpg(p.pid, sig)
            else:
                p.send_signal(sig)
        except ProcessLookupError:
            pass

    # ---- dbus
    def start_dbus(self, timeout=10):
        with open(self.dbus_conf, "w") as f:
            f.write(DBUS_CONF % {"socket": SYSTEM_BUS_SOCKET})
        try:
            os.unlink(self.path(SYSTEM_BUS_SOCKET))
        except FileNotFoundError:
            pass
        self.dbus = self.popen([DBUS_DAEMON, "--nofork", "--nopidfile",
                                "--nosyslog", "--config-file=" + self.dbus_conf],
                               log="dbus")
        wait_for(lambda: self._alive_or_raise(self.dbus, "dbus-daemon")
                 and os.path.exists(self.path(SYSTEM_BUS_SOCKET))
                 and "org.freedesktop.DBus" in self.dbus_names(),
                 timeout, what="dbus-daemon in " + self.name)

    def dbus_names(self):
        r = self.run(["dbus-send", "--system", "--print-reply", "--reply-timeout=2000",
                      "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                      "org.freedesktop.DBus.ListNames"], timeout=5)
        if r.returncode != 0:
            return []
        return [l.strip().split('"')[1] for l in r.stdout.splitlines()
                if l.strip().startswith('string "')]

    # ---- avahi
    def _write_avahi_conf(self):
        _, _, use4, use6, aaaa4 = FAMILIES[self.hosts.family]
        with open(self.avahi_conf, "w") as f:
            f.write(AVAHI_CONF % {"family": self.hosts.family, "hostname": self.hostname,
                                  "ifnames": ",".join(self.ifaces), "use_ipv4": use4,
                                  "use_ipv6": use6, "publish_aaaa_on_ipv4": aaaa4})

    def start_avahi(self, wait=True, timeout=20):
        """Start this host's avahi-daemon (again) and, by default, wait until
        its server state is RUNNING (host name probed and announced)."""
        if self.avahi is not None and self.avahi.poll() is None:
            raise HarnessError("avahi-daemon already running in " + self.name)
        self._write_avahi_conf()
        # a stale pid file (after kill -9) would make it refuse to start
        # when the pid was reused: remove it
        for f in ("/run/avahi-daemon/pid", "/run/avahi-daemon/socket"):
            try:
                os.unlink(self.path(f))
            except FileNotFoundError:
                pass
        self.avahi = self.popen([AVAHI_DAEMON, "--no-drop-root", "--no-chroot",
                                 "--no-rlimits", "--no-proc-title", "-f", self.avahi_conf],
                                log="avahi")
        if wait:
            self.wait_avahi(timeout)
        return self.avahi

    def stop_avahi(self, sig=signal.SIGTERM):
        """Stop avahi-daemon (SIGTERM: clean, withdraws its records with
        goodbye packets; SIGKILL: a crash).  Returns the exit code."""
        if self.avahi is None:
            return None
        code = self.kill(self.avahi, sig)
        self._forget(self.avahi)
        self.avahi = None
        return code

    def avahi_state(self):
        """avahi server state (2 == RUNNING) via D-Bus, or None."""
        r = self.run(["dbus-send", "--system", "--print-reply", "--reply-timeout=2000",
                      "--dest=org.freedesktop.Avahi", "/",
                      "org.freedesktop.Avahi.Server.GetState"], timeout=5)
        if r.returncode != 0:
            return None
        for tok in r.stdout.split():
            if tok.lstrip("-").isdigit():
                return int(tok)
        return None

    def wait_avahi(self, timeout=20):
        wait_for(lambda: self._alive_or_raise(self.avahi, "avahi-daemon")
                 and self.avahi_state() == 2,
                 timeout, what="avahi-daemon RUNNING in " + self.name)

    def _alive_or_raise(self, p, what):
        if p is None or p.poll() is not None:
            log = ""
            lp = getattr(p, "log_path", None)
            if lp and os.path.exists(lp):
                log = open(lp, errors="replace").read()[-3000:]
            raise HarnessError("%s in %s exited (%s):\n%s" % (
                what, self.name, None if p is None else p.returncode, log))
        return True

    # ---- mDNS helpers
    def browse(self, stype="_ws._tcp", resolve=True, timeout=15, extra=()):
        """One `avahi-browse -t -p [-r]` in this host: list of dicts
        (see parse_browse); with resolve=True only the resolved ('=') ones."""
        cmd = ["avahi-browse", "-t", "-p", "-k"] + (["-r"] if resolve else []) + list(extra)
        cmd += ["-a"] if stype is None else [stype]
        try:
            r = self.run(cmd, timeout=timeout)
        except subprocess.TimeoutExpired:
            return []
        res = parse_browse(r.stdout)
        return [d for d in res if d["event"] == ("=" if resolve else "+")]

    def resolve_host(self, name, proto="any", aproto="any", timeout=10):
        """Address of host `name` (e.g. "x.local") as this host's avahi
        resolves it (D-Bus ResolveHostName): over mDNS on `proto` ("ipv4",
        "ipv6" or "any"), an address of family `aproto`; None if avahi
        gives up (after 5 s) or fails."""
        protos = {"any": -1, "ipv4": 0, "ipv6": 1}
        r = self.run(["dbus-send", "--system", "--print-reply",
                      "--reply-timeout=%d" % (timeout * 1000), "--dest=org.freedesktop.Avahi",
                      "/", "org.freedesktop.Avahi.Server.ResolveHostName",
                      "int32:-1", "int32:%d" % protos[proto], "string:" + name,
                      "int32:%d" % protos[aproto], "uint32:0"], timeout=timeout + 5)
        strings = [l.strip()[len('string "'):-1] for l in r.stdout.splitlines()
                   if l.strip().startswith('string "')]
        return strings[1] if r.returncode == 0 and len(strings) >= 2 else None

    def browser(self, stype="_ws._tcp", resolve=True):
        """A running Browser (avahi-browse without -t) in this host."""
        return Browser(self, stype, resolve)

    def publish(self, name, stype, port, *txt, log=None):
        """Start `avahi-publish -s name stype port txt...` (a Popen; kill it
        with host.kill(p) to withdraw the service)."""
        return self.popen(["avahi-publish", "-s", name, stype, str(port)] + list(txt),
                          log=log or "publish")

    # ---- link control
    def link_down(self, side="host", ifname=None):
        """Cut this host off the LAN (its interface `ifname`, default the
        first).  side="host": its own interface goes down (avahi notices and
        drops the interface and its cache); side="switch": its bridge port
        goes down (carrier lost; avahi keeps the interface: a silent
        partition, packets are simply lost)."""
        ifname = ifname or self.ifname
        if side == "host":
            self.ip("link", "set", ifname, "down")
        else:
            port = self.port_names[self.ifaces.index(ifname)]
            _run([IP, "-n", self.hosts.switch_ns, "link", "set", port, "down"])

    def link_up(self, side="host", ifname=None, wait=False):
        """Undo link_down.  Either way the kernel runs IPv6 DAD again (the
        link-local address is tentative for ~1-2 s, as on a real machine);
        wait=True returns only once it is usable."""
        ifname = ifname or self.ifname
        if side == "host":
            self.ip("link", "set", ifname, "up")
            self._routes()       # the multicast route went away with the link
        else:
            port = self.port_names[self.ifaces.index(ifname)]
            _run([IP, "-n", self.hosts.switch_ns, "link", "set", port, "up"])
        if wait:
            self.wait_ipv6()

    # ---- lossy multicast
    def drop_mdns(self, percent):
        """Drop `percent` % (0-100) of the mDNS packets this host receives
        (UDP port 5353, IPv4 and IPv6), at random; 0 removes the rule.  An
        nftables table "inet nwsmh" (iptables/ip6tables -m statistic without
        nft) in the host's netns: it goes away with the netns."""
        percent = int(percent)
        if not 0 <= percent <= 100:
            raise ValueError("percent out of range")
        if NFT:
            # add+delete: replaces the table whether it exists or not
            script = "add table inet nwsmh\ndelete table inet nwsmh\n"
            if percent:
                # numgen gives 0-99 and "< 100" is out of its range
                chance = "" if percent == 100 else "numgen random mod 100 < %d " % percent
                script += ("table inet nwsmh {\n chain input {\n"
                           "  type filter hook input priority filter; policy accept;\n"
                           "  udp dport 5353 %scounter drop\n"
                           " }\n}\n" % chance)
            self.run([NFT, "-f", "-"], input=script, check=True)
        else:
            for tool in self._xtables():
                if self._drop_rule:
                    self.run([tool, "-D", "INPUT"] + self._drop_rule, check=True)
            self._drop_rule = None
            if percent:
                rule = ["-p", "udp", "--dport", "5353", "-m", "statistic", "--mode", "random",
                        "--probability", "%.2f" % (percent / 100.0),
                        "-m", "comment", "--comment", "nwsmh", "-j", "DROP"]
                for tool in self._xtables():
                    self.run([tool, "-I", "INPUT"] + rule, check=True)
                self._drop_rule = rule

    def _xtables(self):
        tools = [IPTABLES] if self.hosts.ipv4 else []
        tools += [IP6TABLES] if self.hosts.ipv6 else []
        if None in tools:
            raise HarnessError("drop_mdns needs nft (nftables) or iptables")
        return tools

    def mdns_dropped(self):
        """Packets dropped since the last drop_mdns() (0 without a rule)."""
        if NFT:
            r = self.run([NFT, "-j", "list", "table", "inet", "nwsmh"])
            if r.returncode != 0:
                return 0
            n = 0
            for item in json.loads(r.stdout).get("nftables", ()):
                for expr in item.get("rule", {}).get("expr", ()):
                    if "counter" in expr:
                        n += expr["counter"]["packets"]
            return n
        n = 0
        for tool in self._xtables() if self._drop_rule else ():
            out = self.run([tool, "-L", "INPUT", "-v", "-x", "-n"], check=True).stdout
            n += sum(int(l.split()[0]) for l in out.splitlines() if "nwsmh" in l)
        return n

    # ---- teardown
    def _stop_all(self):
        for p, own in reversed(self._procs):
            if p.poll() is None:
                self._signal(p, signal.SIGTERM, own)
        deadline = time.monotonic() + 3
        for p, own in reversed(self._procs):
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p, own in self._procs:
            if own:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
            elif p.poll() is None:
                p.kill()


# -------------------------------------------------------------------- Hosts

class Hosts:
    """Context manager making `n` hosts (see module doc).  Iterable and
    indexable: hosts[0] ... hosts[n-1].  prefix defaults to nwsmh<pid>
    (keep it short: netns names are <prefix>-h<k>).  family: "dual"
    (default, as on a stock Debian: IPv4 + IPv6 link-local, avahi on both),
    "ipv4" (IPv6 disabled) or "ipv6" (no IPv4 address).  extra_ifaces:
    {k: m} gives host k m (1 or 2) more interfaces on the same LAN."""

    def __init__(self, n, prefix=None, subnet=DEFAULT_SUBNET, avahi=True,
                 dbus=True, keep_dir=False, family="dual", extra_ifaces=None):
        if os.geteuid() != 0:
            raise HarnessError("multi-host harness needs root")
        if not 1 <= n <= 200:
            raise ValueError("n out of range")
        if family not in FAMILIES:
            raise ValueError("family must be one of %s" % ", ".join(FAMILIES))
        self.family = family
        self.ipv4, self.ipv6 = FAMILIES[family][:2]
        self.extra_ifaces = dict(extra_ifaces or {})
        octets = [HOST_ADDR_OFFSET + k for k in range(n)]
        for k, m in self.extra_ifaces.items():
            if not (0 <= k < n and 0 <= m <= MAX_EXTRA_IFACES):
                raise ValueError("extra_ifaces: bad entry %r: %r" % (k, m))
            octets += [100 * j + k for j in range(1, m + 1)]
        if self.ipv4 and (max(octets) > 254 or len(set(octets)) != len(octets)):
            raise ValueError("too many hosts/interfaces for one /24")
        self.n = n
        self.prefix = prefix or "%s%d" % (BASE_PREFIX, os.getpid())
        if "/" in self.prefix or len(self.prefix) > 40:
            raise ValueError("bad prefix")
        self.subnet = subnet
        self.with_dbus = dbus
        self.with_avahi = avahi and dbus
        self.keep_dir = keep_dir
        self.switch_ns = "%s-sw" % self.prefix
        self.hosts = []
        self.dir = None
        self.ledger = None
        self.timings = {}
        self._old_sigterm = None
        self._torn_down = False

    def __iter__(self):
        return iter(self.hosts)

    def __getitem__(self, i):
        return self.hosts[i]

    def __len__(self):
        return len(self.hosts)

    wait_for = staticmethod(wait_for)

    def __enter__(self):
        t0 = time.monotonic()
        cleanup_stale(BASE_PREFIX)
        if os.path.exists("/run/netns/" + self.switch_ns):
            raise HarnessError("namespace %s exists (prefix in use?)" % self.switch_ns)
        self._install_sigterm()
        # if the caller never reaches __exit__ (e.g. unittest's setUpClass
        # and a KeyboardInterrupt/SIGTERM): clean up at interpreter exit
        atexit.register(self._teardown)
        try:
            self.ledger = _Ledger(self.prefix)
            self.dir = tempfile.mkdtemp(prefix=self.prefix + "-", dir="/tmp")
            self.ledger.add(dir=self.dir)
            _run([IP, "netns", "add", self.switch_ns])
            self.ledger.add(ns=self.switch_ns)
            sw = ["-n", self.switch_ns]
            # a switch has no IP stack: no IPv6 link-local on br0 and its
            # ports (they would send DAD, router solicitations, MLD)
            _run([IP, "netns", "exec", self.switch_ns, "sh", "-c",
                  "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && "
                  "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"])
            _run([IP] + sw + ["link", "set", "lo", "up"])
            _run([IP] + sw + ["link", "add", BRIDGE, "type", "bridge",
                              "mcast_snooping", "0", "stp_state", "0",
                              "forward_delay", "0"])
            _run([IP] + sw + ["link", "set", BRIDGE, "up"])
            for k in range(self.n):
                h = Host(self, k, self.extra_ifaces.get(k, 0))
                self.hosts.append(h)
                h._setup()
            self.timings["net"] = time.monotonic() - t0
            if self.with_dbus:
                for h in self.hosts:
                    h.start_dbus()
            # IPv6 DAD ran meanwhile; avahi must start after it, or it would
            # not see the (then tentative) link-local addresses at once
            t1 = time.monotonic()
            self._wait_ipv6()
            self.timings["dad_wait"] = time.monotonic() - t1
            if self.with_avahi:
                for h in self.hosts:
                    h.start_avahi(wait=False)
                for h in self.hosts:
                    h.wait_avahi()
        except BaseException:
            self._teardown()
            raise
        self.timings["setup"] = time.monotonic() - t0
        return self

    def _wait_ipv6(self, timeout=10):
        """wait_ipv6() for every host at once (their DADs run in parallel)."""
        if not self.ipv6:
            return
        pending = list(self.hosts)

        def all_ready():
            pending[:] = [h for h in pending if not h._ipv6_ready()]
            return not pending
        try:
            wait_for(all_ready, timeout, what="IPv6 DAD")
        except HarnessError as e:
            raise HarnessError("%s (still tentative in %s)"
                               % (e, " ".join(h.name for h in pending))) from None

    def __exit__(self, *exc):
        t0 = time.monotonic()
        self._teardown()
        self.timings["teardown"] = time.monotonic() - t0
        return False

    def _install_sigterm(self):
        # turn SIGTERM (e.g. from ctest) into an exception so __exit__ runs
        import threading
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            def handler(signum, frame):
                raise KeyboardInterrupt("SIGTERM")
            self._old_sigterm = signal.signal(signal.SIGTERM, handler)

    def _teardown(self):
        atexit.unregister(self._teardown)
        if self._torn_down:
            return
        self._torn_down = True
        for h in reversed(self.hosts):
            try:
                h._stop_all()
            except Exception as e:                 # keep going
                print("multihost: stopping %s: %s" % (h.name, e), file=sys.stderr)
        names = [h.ns for h in self.hosts] + [self.switch_ns]
        for ns in names:
            kill_netns_processes(ns)
        for h in self.hosts:                          # reap our children
            for p, _ in h._procs:
                try:
                    p.wait(1)
                except subprocess.TimeoutExpired:
                    pass
                for f in (p.stdin, p.stdout, p.stderr):
                    if f:
                        try:
                            f.close()
                        except OSError:
                            pass
            if h.anchor is not None:
                try:
                    h.anchor.wait(1)
                except subprocess.TimeoutExpired:
                    pass
                if h.anchor.stdout:
                    h.anchor.stdout.close()
        for ns in names:
            if os.path.exists("/run/netns/" + ns):
                _run([IP, "netns", "del", ns], check=False)
        if self.dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self.ledger:
            self.ledger.remove()
        if self._old_sigterm is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None


def _main(argv):
    if len(argv) >= 1 and argv[0] == "cleanup":
        cleaned = cleanup_stale(argv[1] if len(argv) > 1 else BASE_PREFIX, verbose=True)
        print("%d stale run(s) cleaned" % len(cleaned))
        return 0
    if len(argv) >= 2 and argv[0] == "up":
        with Hosts(int(argv[1])) as hs:
            print("setup %.2fs; logs in %s (removed at exit)" % (hs.timings["setup"], hs.dir))
            for h in hs:
                print("%s %s: nsenter -t %d -n -m  (e.g. avahi-browse -art)"
                      % (h.name, " ".join(h.addrs), h.anchor_pid))
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
        return 0
    print("usage: hosts.py cleanup [base] | hosts.py up N", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
