"""package.contents: the .deb's control fields, files, conffiles and
maintainer scripts.

    NWS_DEB_PATH_FILE=<file naming the .deb> NWS_VERSION=0.1.0 \\
        /usr/bin/python3 tests/package/test_contents.py
"""

import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkgtest  # noqa: E402
from pkgtest import run  # noqa: E402

# Every file in the package, and nothing else (directories aside).
FILES = sorted([
    "./etc/default/nws",
    "./lib/systemd/system/nws-discovery.service",
    "./lib/systemd/system/nws-gateway.service",
    "./lib/systemd/system/nws-hub.service",
    "./lib/systemd/system/nws.target",
    "./usr/bin/nws-tap",
    "./usr/sbin/nws-discovery",
    "./usr/sbin/nws-gateway",
    "./usr/sbin/nws-hub",
    "./usr/share/doc/nws/changelog.gz",
    "./usr/share/doc/nws/copyright",
    "./usr/share/lintian/overrides/nws",
    "./usr/share/man/man1/nws-tap.1.gz",
    "./usr/share/man/man8/nws-discovery.8.gz",
    "./usr/share/man/man8/nws-gateway.8.gz",
    "./usr/share/man/man8/nws-hub.8.gz",
])

# What Depends must name whatever dpkg-shlibdeps finds: the libraries the
# issue lists, lws's libev plugin (loaded with dlopen, so invisible to
# dpkg-shlibdeps) and adduser (postinst).
DEPENDS = {"libwebsockets17", "libwebsockets-evlib-ev", "libzmq5", "libczmq4",
           "libavahi-client3", "libev4", "libsystemd0", "libc6", "adduser"}


class Control(unittest.TestCase):

    def setUp(self):
        self.deb = pkgtest.deb_path()

    def test_fields(self):
        f = lambda name: pkgtest.field(self.deb, name)  # noqa: E731
        self.assertEqual(f("Package"), "nws")
        self.assertEqual(f("Version"), os.environ.get("NWS_VERSION", f("Version")))
        self.assertEqual(f("Architecture"), run(["dpkg", "--print-architecture"])[1].strip())
        self.assertEqual(f("Section"), "net")
        self.assertEqual(f("Priority"), "optional")
        self.assertRegex(f("Maintainer"), r"^[^<>]+ <[^@<>]+@[^@<>]+>$")
        self.assertEqual(pkgtest.relation_names(f("Recommends")), {"avahi-daemon"})
        depends = pkgtest.relation_names(f("Depends"))
        self.assertEqual(DEPENDS - depends, set(), "missing from Depends: " + f("Depends"))
        self.assertRegex(os.path.basename(self.deb), r"^nws_%s_%s\.deb$" % (
            re.escape(f("Version")), re.escape(f("Architecture"))))

    def test_depends_cover_what_the_programs_need(self):
        # Each library a program links (DT_NEEDED) belongs to a package in
        # Depends; so does the evlib plugin nws-gateway loads.
        depends = pkgtest.relation_names(pkgtest.field(self.deb, "Depends"))
        root = tempfile.mkdtemp(prefix="nws-pkg-")
        self.addCleanup(shutil.rmtree, root, True)
        run(["dpkg-deb", "-x", self.deb, root])
        needed = {"libwebsockets-evlib_ev.so"}
        for program, (where, _) in pkgtest.PROGRAMS.items():
            dynamic = run(["readelf", "-d", os.path.join(root, where, program)])[1]
            needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
        self.assertIn("libsystemd.so.0", needed)
        for lib in sorted(needed):
            owner = run(["dpkg", "-S", "*/" + lib], ok=(0, 1))[1]
            owners = {line.split(":")[0] for line in owner.splitlines() if ":" in line}
            self.assertTrue(owners, "no installed package has %s" % lib)
            self.assertTrue(owners & depends, "%s is in %s, none of which is in Depends"
                            % (lib, ", ".join(sorted(owners))))

    def test_files(self):
        listing = run(["dpkg-deb", "-c", self.deb])[1]
        files, modes = [], {}
        for line in listing.splitlines():
            words = line.split()
            mode, owner, path = words[0], words[1], words[-1]
            self.assertEqual(owner, "root/root", line)
            if not mode.startswith("d"):
                files.append(path)
                modes[path] = mode
        self.assertEqual(sorted(files), FILES)
        for path, mode in modes.items():
            executable = path.startswith(("./usr/bin/", "./usr/sbin/"))
            self.assertEqual(mode, "-rwxr-xr-x" if executable else "-rw-r--r--", path)

    def test_conffiles(self):
        with tempfile.TemporaryDirectory(prefix="nws-pkg-") as control:
            run(["dpkg-deb", "-e", self.deb, control])
            with open(os.path.join(control, "conffiles")) as f:
                self.assertEqual(f.read().split(), ["/" + pkgtest.CONFIG])

    def test_changelog_names_this_version(self):
        root = tempfile.mkdtemp(prefix="nws-pkg-")
        self.addCleanup(shutil.rmtree, root, True)
        run(["dpkg-deb", "-x", self.deb, root])
        with gzip.open(os.path.join(root, "usr/share/doc/nws/changelog.gz"), "rt") as f:
            first = f.readline()
        self.assertTrue(first.startswith("nws (%s) " % pkgtest.field(self.deb, "Version")),
                        "the changelog's first entry is %r: add an entry for the version"
                        % first)


class Scripts(unittest.TestCase):
    """postinst, prerm, postrm: valid sh, the Debian way (deb-systemd-helper
    and deb-systemd-invoke, systemctl for daemon-reload only), each unit of
    the package named, and nothing started where systemd does not run."""

    @classmethod
    def setUpClass(cls):
        cls.deb = pkgtest.deb_path()
        cls.control = tempfile.mkdtemp(prefix="nws-pkg-")
        run(["dpkg-deb", "-e", cls.deb, cls.control])
        cls.scripts = {}
        for name in ("postinst", "prerm", "postrm"):
            path = os.path.join(cls.control, name)
            with open(path) as f:
                cls.scripts[name] = f.read()
            cls.scripts[name + ":mode"] = os.stat(path).st_mode & 0o777

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.control, True)

    def test_no_preinst(self):
        self.assertFalse(os.path.exists(os.path.join(self.control, "preinst")))

    def test_shell(self):
        for name in ("postinst", "prerm", "postrm"):
            text = self.scripts[name]
            self.assertTrue(text.startswith("#!/bin/sh\n"), name)
            self.assertIn("\nset -e\n", text, name)
            self.assertEqual(self.scripts[name + ":mode"], 0o755, name)
            run(["sh", "-n", os.path.join(self.control, name)])
            for line in text.splitlines():
                if re.match(r"^\s*systemctl\b", line):
                    self.assertIn("daemon-reload", line, "%s: %s" % (name, line))
            units = re.search(r"^units='([^']*)'$", text, re.M)
            self.assertIsNotNone(units, name)
            self.assertEqual(sorted(units.group(1).split()), sorted(pkgtest.UNITS), name)

    def test_postinst(self):
        text = self.scripts["postinst"]
        self.assertRegex(text, r"adduser --system --group .*\\\n.*--no-create-home")
        self.assertIn("--home /nonexistent", text)
        for step in ("deb-systemd-helper unmask", "deb-systemd-helper --quiet was-enabled",
                     "deb-systemd-helper enable", "deb-systemd-helper update-state",
                     "deb-systemd-invoke $action"):
            self.assertIn(step, text)
        self.assertIn("[ -d /run/systemd/system ]", text)

    def test_prerm_postrm(self):
        self.assertRegex(self.scripts["prerm"],
                         r'"\$1" = remove \] && \[ -d /run/systemd/system \]')
        self.assertIn("deb-systemd-invoke stop $units", self.scripts["prerm"])
        for step in ("deb-systemd-helper mask", "deb-systemd-helper purge",
                     "deb-systemd-helper unmask"):
            self.assertIn(step, self.scripts["postrm"])

    def test_postinst_without_systemd_enables_and_starts_nothing(self):
        # The script itself, with the helpers replaced by stubs that log
        # their arguments: "configure" on a machine without systemd (no
        # /run/systemd/system here, unless this one runs it).
        if os.path.isdir("/run/systemd/system"):
            raise unittest.SkipTest("systemd runs here")
        with tempfile.TemporaryDirectory(prefix="nws-pkg-") as stubs:
            log = os.path.join(stubs, "log")
            for tool in ("deb-systemd-helper", "deb-systemd-invoke", "systemctl", "adduser",
                         "getent"):
                with open(os.path.join(stubs, tool), "w") as f:
                    f.write('#!/bin/sh\necho "%s $*" >> %s\n%s\n'
                            % (tool, log, "exit 2" if tool == "getent" else "exit 0"))
                os.chmod(os.path.join(stubs, tool), 0o755)
            env = dict(os.environ, PATH=stubs + ":/usr/bin:/bin")
            run(["sh", os.path.join(self.control, "postinst"), "configure", ""], env=env)
            with open(log) as f:
                calls = f.read().splitlines()
        self.assertIn("getent passwd nws", calls)
        self.assertTrue(any(c.startswith("adduser --system --group") for c in calls), calls)
        for unit in pkgtest.UNITS:
            self.assertIn("deb-systemd-helper enable %s" % unit, calls)
        self.assertFalse([c for c in calls if c.startswith(("deb-systemd-invoke", "systemctl"))],
                         calls)


class CMakeInstall(unittest.TestCase):
    """cmake --install of the package's build (prefix /usr) into a DESTDIR:
    the same files as the package; an existing /etc/default/nws is kept."""

    def test_install(self):
        build = os.path.dirname(os.path.dirname(pkgtest.deb_path()))
        with tempfile.TemporaryDirectory(prefix="nws-pkg-") as dest:
            env = dict(os.environ, DESTDIR=dest)
            run(["cmake", "--install", build], env=env)
            found = sorted("./" + os.path.relpath(os.path.join(d, f), dest)
                           for d, _, files in os.walk(dest) for f in files)
            self.assertEqual(found, FILES)
            config = os.path.join(dest, pkgtest.CONFIG)
            with open(config, "a") as f:
                f.write("NWS_PORT=9010\n")
            _, out, _ = run(["cmake", "--install", build], env=env)
            self.assertIn("Keeping: " + config, out)
            with open(config) as f:
                self.assertTrue(f.read().endswith("NWS_PORT=9010\n"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
