"""package.install: the .deb installed on this machine with dpkg, as root,
where systemd does not run (a container, this kind of machine), then
reinstalled (the upgrade path), removed and purged:

* install: the user and group nws (a system user, no home, no shell), the
  files, the units enabled (deb-systemd-helper's symlinks) and nothing
  started; the man pages found by man; the hub runs as nws;
* reinstall: an edited /etc/default/nws is kept, a unit the admin disabled
  stays disabled;
* remove: the programs gone, the conffile kept; purge: nothing of the
  package left (files, unit symlinks, deb-systemd-helper state).

Skipped (77) unless root, where systemd runs (installing would start the
services), and where a package nws or an /etc/default/nws is already
there. Leaves nothing behind: the package purged whatever happens, and
the user nws removed if it did not exist before.

    NWS_DEB_PATH_FILE=<file naming the .deb> /usr/bin/python3 tests/package/test_install.py
"""

import glob
import os
import pwd
import grp
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkgtest  # noqa: E402
from pkgtest import run  # noqa: E402

SKIP = 77
ETC_SYSTEMD = "/etc/systemd/system"
DSH_STATE = "/var/lib/systemd"
LOCK_WAIT = 120                     # seconds to wait for another dpkg or apt


def dpkg(*args):
    """Runs dpkg, waiting while another dpkg or apt holds its lock."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        status, out, err = run(["dpkg"] + list(args), ok=None, timeout=300,
                               env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if status == 0 or "lock" not in err or time.monotonic() > deadline:
            break
        time.sleep(2)
    if status != 0:
        raise AssertionError("dpkg %s: status %d\n%s%s" % (" ".join(args), status, out, err))
    return out


def package_status():
    status, out, _ = run(["dpkg-query", "-W", "-f=${Status}", "nws"], ok=None)
    return out if status == 0 else ""


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def leftovers():
    """What of the package is on the machine: files, unit symlinks, state."""
    found = [p for p in ["/" + pkgtest.CONFIG, "/usr/share/doc/nws"] if os.path.lexists(p)]
    for name, (where, page) in pkgtest.PROGRAMS.items():
        found += [p for p in ("/%s/%s" % (where, name), "/" + page) if os.path.lexists(p)]
    found += [p for p in (os.path.join("/", pkgtest.UNIT_DIR, u) for u in pkgtest.UNITS)
              if os.path.lexists(p)]
    found += glob.glob(os.path.join(ETC_SYSTEMD, "**", "nws*"), recursive=True)
    found += glob.glob(os.path.join(DSH_STATE, "deb-systemd-*", "**", "nws*"), recursive=True)
    return sorted(found)


def wanted(target, unit):
    return os.path.join(ETC_SYSTEMD, target + ".wants", unit)


def unit_file(unit):
    """Where the installed unit really is (/lib is /usr/lib when merged)."""
    return os.path.realpath(os.path.join("/", pkgtest.UNIT_DIR, unit))


class Install(unittest.TestCase):

    def test_install_upgrade_remove_purge(self):
        deb = pkgtest.deb_path()
        had_user, had_group = user_exists("nws"), group_exists("nws")
        self.addCleanup(self.clean, had_user, had_group)

        # Install.
        dpkg("-i", deb)
        self.assertEqual(package_status(), "install ok installed")
        user = pwd.getpwnam("nws")
        self.assertLess(user.pw_uid, 1000, "nws is not a system user")
        self.assertEqual(user.pw_gid, grp.getgrnam("nws").gr_gid)
        self.assertEqual(user.pw_dir, "/nonexistent")
        self.assertFalse(os.path.exists("/nonexistent"))
        self.assertEqual(user.pw_shell, "/usr/sbin/nologin")
        for name, (where, _) in pkgtest.PROGRAMS.items():
            run(["/%s/%s" % (where, name), "--version"])
        self.assertTrue(os.path.isfile("/" + pkgtest.CONFIG))
        self.assertEqual(os.path.realpath(wanted("multi-user.target", "nws.target")),
                         unit_file("nws.target"))
        for service in pkgtest.SERVICES:
            self.assertEqual(os.path.realpath(wanted("nws.target", service)), unit_file(service))
        self.assertEqual(run(["man", "-w", "nws-gateway"])[1].strip(),
                         "/usr/share/man/man8/nws-gateway.8.gz")
        self.assertEqual(run(["man", "-w", "1", "nws-tap"])[1].strip(),
                         "/usr/share/man/man1/nws-tap.1.gz")
        self.hub_runs_as_nws()

        # The admin edits the config and disables a service; an upgrade
        # (the same version again) keeps both.
        with open("/" + pkgtest.CONFIG, "a") as f:
            f.write("NWS_PORT=9010\n")
        with open("/" + pkgtest.CONFIG) as f:
            edited = f.read()
        run(["systemctl", "disable", "nws-discovery.service"])
        self.assertFalse(os.path.lexists(wanted("nws.target", "nws-discovery.service")))
        dpkg("-i", deb)
        with open("/" + pkgtest.CONFIG) as f:
            self.assertEqual(f.read(), edited)
        self.assertFalse(os.path.lexists(wanted("nws.target", "nws-discovery.service")))
        self.assertTrue(os.path.lexists(wanted("nws.target", "nws-gateway.service")))

        # Remove: the conffile stays.
        dpkg("-r", "nws")
        self.assertEqual(package_status(), "deinstall ok config-files")
        for name, (where, _) in pkgtest.PROGRAMS.items():
            self.assertFalse(os.path.exists("/%s/%s" % (where, name)), name)
        with open("/" + pkgtest.CONFIG) as f:
            self.assertEqual(f.read(), edited)

        # Purge: nothing left but the user (Debian keeps system users).
        dpkg("--purge", "nws")
        self.assertEqual(package_status(), "")
        self.assertEqual(leftovers(), [])
        self.assertTrue(user_exists("nws"))

    def hub_runs_as_nws(self):
        """The installed hub, as the user nws, in a runtime dir of its own."""
        top = tempfile.mkdtemp(prefix="nws-pkg-")
        try:
            os.chmod(top, 0o755)
            os.chown(top, pwd.getpwnam("nws").pw_uid, grp.getgrnam("nws").gr_gid)
            user = pwd.getpwnam("nws")

            def become_nws():
                os.setgroups([])
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)

            with subprocess.Popen(["/usr/sbin/nws-hub", "--runtime-dir", os.path.join(top, "run"),
                                   "--grace-ms", "0"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  preexec_fn=become_nws) as hub:
                try:
                    line = hub.stdout.readline().decode()
                    self.assertTrue(line.startswith("ready in=ipc://"), line)
                    self.assertEqual(os.stat(os.path.join(top, "run")).st_uid, user.pw_uid)
                finally:
                    hub.send_signal(signal.SIGTERM)
                    self.assertEqual(hub.wait(timeout=10), 0)
        finally:
            shutil.rmtree(top, ignore_errors=True)

    def clean(self, had_user, had_group):
        if package_status():
            dpkg("--purge", "nws")
        if not had_user and user_exists("nws"):
            run(["userdel", "nws"])
        if not had_group and group_exists("nws"):
            run(["groupdel", "nws"])


def main():
    if os.geteuid() != 0:
        print("skipped: dpkg -i needs root")
        sys.exit(SKIP)
    if os.path.isdir("/run/systemd/system"):
        print("skipped: systemd runs here, and installing would start the services")
        sys.exit(SKIP)
    if package_status() or os.path.lexists("/" + pkgtest.CONFIG):
        print("skipped: nws is installed here already (or /%s is there)" % pkgtest.CONFIG)
        sys.exit(SKIP)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
