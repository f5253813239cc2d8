"""package.programs: the package's programs, unpacked (dpkg -x), run:
--version and --help; the man pages as packaged render without warnings
and match --help; each service's ExecStart=, expanded as systemd would
with the shipped /etc/default/nws and with each example the file gives,
is a command line the program accepts; and a packaged hub, gateway and
nws-tap carry messages (WebSocket clients and a tap on one channel).

    NWS_DEB_PATH_FILE=<file naming the .deb> NWS_VERSION=0.1.0 \\
        /usr/bin/python3 tests/package/test_programs.py
"""

import os
import re
import shlex
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import manhelp  # noqa: E402
import nwstest  # noqa: E402
import pkgtest  # noqa: E402
from pkgtest import run, unit_values  # noqa: E402


def environment_file(text):
    """{name: value} of an EnvironmentFile= (shell-like quoting)."""
    values = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if m:
            words = shlex.split(m.group(2))
            values[m.group(1)] = words[0] if words else ""
    return values


def expand(exec_start, env):
    """ExecStart= as systemd expands it: ${VAR} is one word, $VAR alone is
    split at whitespace (none if empty)."""
    argv = []
    for word in exec_start.split():
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            argv += env.get(m.group(1), "").split()
        else:
            argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                               lambda v: env.get(v.group(1), ""), word))
    return argv


class Programs(pkgtest.Unpacked):

    def program(self, name):
        return self.path(os.path.join(pkgtest.PROGRAMS[name][0], name))

    def test_version_and_help(self):
        version = os.environ.get("NWS_VERSION") or pkgtest.field(self.deb, "Version")
        for name in pkgtest.PROGRAMS:
            _, out, _ = run([self.program(name), "--version"])
            self.assertEqual(out, "%s %s\n" % (name, version))
            _, out, _ = run([self.program(name), "--help"])
            self.assertIn("Usage: " + name, out)

    def test_man_pages(self):
        problems = []
        for name, (_, page) in pkgtest.PROGRAMS.items():
            _, out, err = run(["man", "--warnings", "-l", self.path(page)],
                              env=dict(os.environ, MANWIDTH="80"))
            self.assertEqual(err, "", page)
            self.assertRegex(out, r"^%s\(\d\)" % name.upper())
            problems += manhelp.check(name, self.program(name), self.path(page))
        self.assertEqual(problems, [], "\n".join(problems))

    def test_exec_start_with_the_config_file(self):
        config = self.read(pkgtest.CONFIG)
        # The shipped values, then each commented example in turn.
        examples = [dict()] + [environment_file(m) for m in re.findall(
            r"^#\s+(NWS_[A-Z_]+=.*)$", config, re.M)]
        self.assertGreaterEqual(len(examples), 5, "the config file's examples")
        tried = 0
        for service, program in pkgtest.SERVICE_PROGRAMS.items():
            unit = self.read(os.path.join(pkgtest.UNIT_DIR, service))
            (exec_start,) = unit_values(unit, "ExecStart")
            base = {}
            for line in unit_values(unit, "Environment"):
                base.update(environment_file("\n".join(shlex.split(line))))
            base.update(environment_file(config))
            for example in examples:
                env = dict(base, **example)
                argv = expand(exec_start, env)
                self.assertEqual(argv[0], "/usr/sbin/" + program)
                # nws_opts reads every option before --version: a bad one
                # fails with status 2.
                status, out, err = run([self.program(program)] + argv[1:] + ["--version"],
                                       ok=None)
                self.assertEqual((status, out.split()[:1]), (0, [program]),
                                 "%s %s: %s" % (service, argv, err))
                tried += 1
        self.assertEqual(tried, 3 * len(examples))

    def test_the_programs_carry_messages(self):
        nwstest.HUB = self.program("nws-hub")
        nwstest.GATEWAY = self.program("nws-gateway")
        nws = nwstest.Nws("package")
        try:
            nws.start_hub()
            gw = nws.start_gateway()
            tap = subprocess.Popen([self.program("nws-tap"), "sub", "--ready", "-v", "-n", "1",
                                    "--runtime-dir", nws.runtime_dir, "local/chat"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, preexec_fn=nwstest._die_with_parent)
            try:
                self.assertEqual(tap.stderr.readline(), b"ready\n")
                a, b = nws.open_clients(gw, "/local/chat", 2)
                a.send_text("hello")
                self.assertEqual(b.recv(), nwstest.text("hello"))
                out, _ = tap.communicate(timeout=10)
                self.assertEqual(out, b"local/chat hello\n")
                run([self.program("nws-tap"), "pub", "--runtime-dir", nws.runtime_dir,
                     "local/chat", "from the tap"])
                self.assertEqual(a.recv(), nwstest.text("from the tap"))
                self.assertEqual(b.recv(), nwstest.text("from the tap"))
            finally:
                if tap.poll() is None:
                    tap.kill()
                    tap.wait()
        finally:
            nws.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
