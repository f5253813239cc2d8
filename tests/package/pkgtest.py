"""pkgtest - what the package tests share: the .deb that package.build
made, its control fields, its files unpacked (dpkg -x) into a directory
that is removed afterwards, and commands run with their output kept for
the failure message.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))

CONFIG = "etc/default/nws"
UNIT_DIR = "lib/systemd/system"
SERVICES = ["nws-hub.service", "nws-gateway.service", "nws-discovery.service"]
UNITS = ["nws.target"] + SERVICES
# Program: (where it is installed, its man page).
PROGRAMS = {"nws-hub": ("usr/sbin", "usr/share/man/man8/nws-hub.8.gz"),
            "nws-gateway": ("usr/sbin", "usr/share/man/man8/nws-gateway.8.gz"),
            "nws-discovery": ("usr/sbin", "usr/share/man/man8/nws-discovery.8.gz"),
            "nws-tap": ("usr/bin", "usr/share/man/man1/nws-tap.1.gz")}
# Service: its program.
SERVICE_PROGRAMS = {"nws-hub.service": "nws-hub", "nws-gateway.service": "nws-gateway",
                    "nws-discovery.service": "nws-discovery"}


def deb_path():
    """The .deb package.build made (its path is in $NWS_DEB_PATH_FILE)."""
    path_file = os.environ.get("NWS_DEB_PATH_FILE")
    if not path_file:
        raise AssertionError("$NWS_DEB_PATH_FILE is not set (run through ctest, or set it "
                             "to a file holding the .deb's path)")
    try:
        with open(path_file) as f:
            deb = f.read().strip()
    except OSError as e:
        raise AssertionError("no package: %s (package.build failed or did not run)" % e)
    if not os.path.isfile(deb):
        raise AssertionError("no package at %s" % deb)
    return deb


def run(argv, ok=(0,), input=None, env=None, timeout=120):
    """Runs argv; returns (status, stdout, stderr) as text. A status not
    in ok fails with the output."""
    r = subprocess.run(argv, input=input.encode() if input is not None else None,
                       stdin=None if input is not None else subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=timeout)
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    if ok is not None and r.returncode not in ok:
        raise AssertionError("%s: status %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(argv), r.returncode, out, err))
    return r.returncode, out, err


def field(deb, name):
    """A control field of the package ('' if it has none)."""
    return run(["dpkg-deb", "-f", deb, name])[1].strip()


def relation_names(value):
    """The package names in a Depends-like field (alternatives included)."""
    return {re.split(r"[\s(:]", alt.strip())[0]
            for part in value.split(",") if part.strip()
            for alt in part.split("|")}


def unit_values(text, key):
    """The values of key= in a unit file (all sections), in order."""
    return [line.split("=", 1)[1] for line in text.splitlines()
            if line.startswith(key + "=")]


class Unpacked(unittest.TestCase):
    """self.root holds the package's files (dpkg -x), removed afterwards."""

    def setUp(self):
        self.deb = deb_path()
        self.root = tempfile.mkdtemp(prefix="nws-pkg-")
        self.addCleanup(shutil.rmtree, self.root, True)
        run(["dpkg-deb", "-x", self.deb, self.root])

    def path(self, rel):
        return os.path.join(self.root, rel)

    def read(self, rel):
        with open(self.path(rel)) as f:
            return f.read()
