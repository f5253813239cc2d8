"""package.units: the package's systemd units pass `systemd-analyze
verify` (in a root holding the package's files and this machine's units,
so that ExecStart= and the man pages are looked up in the package), score
at most MAX_EXPOSURE in `systemd-analyze security --offline=yes`, and say
what the issue asks: Type=notify as the user nws in /run/nws, the order of
the services, Restart=on-failure, the sandbox; and the configuration file
and the units name the same variables.

    NWS_DEB_PATH_FILE=<file naming the .deb> /usr/bin/python3 tests/package/test_units.py
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkgtest  # noqa: E402
from pkgtest import run, unit_values  # noqa: E402

MAX_EXPOSURE = 2.0                  # systemd-analyze security: 0 safest, 10 worst

SANDBOX = ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
           "PrivateDevices=yes", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
           "ProtectControlGroups=yes", "CapabilityBoundingSet=", "SystemCallFilter=@system-service",
           "RestrictNamespaces=yes", "MemoryDenyWriteExecute=yes", "User=nws", "Group=nws",
           "RuntimeDirectory=nws", "RuntimeDirectoryPreserve=yes", "Type=notify",
           "Restart=on-failure", "EnvironmentFile=-/etc/default/nws", "PartOf=nws.target", "WantedBy=nws.target"]


class Units(pkgtest.Unpacked):

    def setUp(self):
        super().setUp()
        # The units the package's refer to (sysinit.target, avahi-daemon...)
        # from this machine, the package's own untouched.
        unit_dir = self.path(pkgtest.UNIT_DIR)
        for name in os.listdir("/lib/systemd/system"):
            source = os.path.join("/lib/systemd/system", name)
            if not os.path.exists(os.path.join(unit_dir, name)) and not os.path.isdir(source):
                shutil.copy(source, unit_dir, follow_symlinks=False)
        self.units = {u: self.read(os.path.join(pkgtest.UNIT_DIR, u)) for u in pkgtest.UNITS}

    def unit_paths(self):
        return [self.path(os.path.join(pkgtest.UNIT_DIR, u)) for u in pkgtest.UNITS]

    def test_verify(self):
        env = dict(os.environ, MANPATH=self.path("usr/share/man"), SYSTEMD_LOG_COLOR="0")
        status, out, err = run(["systemd-analyze", "verify", "--root=" + self.root]
                               + self.unit_paths(), ok=None, env=env)
        self.assertEqual((status, out + err), (0, ""), "systemd-analyze verify")

    def test_verify_fails_without_a_program(self):
        # verify does look for ExecStart= in the root: a unit whose program
        # is missing fails.
        os.unlink(self.path("usr/sbin/nws-hub"))
        env = dict(os.environ, MANPATH=self.path("usr/share/man"))
        status, _, err = run(["systemd-analyze", "verify", "--root=" + self.root,
                              self.path(os.path.join(pkgtest.UNIT_DIR, "nws-hub.service"))],
                             ok=None, env=env)
        self.assertNotEqual(status, 0)
        self.assertIn("nws-hub", err)

    def test_security(self):
        scores = {}
        for service in pkgtest.SERVICES:
            _, out, err = run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                               "--root=" + self.root,
                               self.path(os.path.join(pkgtest.UNIT_DIR, service))], ok=None)
            m = re.search(r"Overall exposure level for %s: ([0-9.]+) (\w+)" % re.escape(service),
                          out + err)
            self.assertIsNotNone(m, out + err)
            scores[service] = float(m.group(1))
            print("%s: %s %s" % (service, m.group(1), m.group(2)))
        for service, score in scores.items():
            self.assertLessEqual(score, MAX_EXPOSURE, "%s: exposure %.1f" % (service, score))

    def test_what_the_issue_asks(self):
        for service in pkgtest.SERVICES:
            lines = set(self.units[service].splitlines())
            for want in SANDBOX:
                self.assertIn(want, lines, service)
            # The runtime directory of the programs is systemd's.
            self.assertIn("NWS_RUNTIME_DIR=%t/nws",
                          " ".join(unit_values(self.units[service], "Environment")).split())
            families = unit_values(self.units[service], "RestrictAddressFamilies")
            self.assertEqual(len(families), 1, service)
            self.assertIn("AF_UNIX", families[0].split(), service)
            exec_start = unit_values(self.units[service], "ExecStart")
            self.assertEqual(len(exec_start), 1, service)
            self.assertEqual(exec_start[0].split()[0],
                             "/usr/sbin/" + pkgtest.SERVICE_PROGRAMS[service])
        # The gateway reads the neighbour table (netlink); both it and
        # discovery serve or dial the network.
        for service in ("nws-gateway.service", "nws-discovery.service"):
            self.assertEqual(unit_values(self.units[service], "RestrictAddressFamilies"),
                             ["AF_UNIX AF_INET AF_INET6 AF_NETLINK"], service)
        for service in ("nws-gateway.service", "nws-discovery.service"):
            after = " ".join(unit_values(self.units[service], "After")).split()
            wants = " ".join(unit_values(self.units[service], "Wants")).split()
            self.assertIn("nws-hub.service", after, service)
            self.assertIn("nws-hub.service", wants, service)
        discovery = self.units["nws-discovery.service"]
        self.assertIn("avahi-daemon.service", " ".join(unit_values(discovery, "After")).split())
        self.assertIn("avahi-daemon.service", " ".join(unit_values(discovery, "Wants")).split())
        self.assertEqual(unit_values(self.units["nws.target"], "WantedBy"), ["multi-user.target"])

    def test_config_and_units_agree(self):
        # Every variable the config file sets is used by some ExecStart=,
        # and every variable an ExecStart= uses is set by the config file.
        config = self.read(pkgtest.CONFIG)
        assigned = set(re.findall(r"^(NWS_[A-Z_]+)=", config, re.M))
        used = set()
        for service in pkgtest.SERVICES:
            for line in unit_values(self.units[service], "ExecStart"):
                used |= set(re.findall(r"\$\{?(NWS_[A-Z_]+)", line))
        # ... or by the programs themselves, from the environment that
        # EnvironmentFile= gives them (their --help names it as a default).
        for program, variable in (("nws-gateway", "NWS_KEY"), ("nws-discovery", "NWS_KEY")):
            out = subprocess.run([self.path("usr/sbin/" + program), "--help"], capture_output=True,
                                 text=True).stdout
            if "$" + variable in out:
                used.add(variable)
        self.assertEqual(assigned, used)


if __name__ == "__main__":
    unittest.main(verbosity=2)
