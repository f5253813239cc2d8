"""The man pages (man/*.in) against the programs' --help: every option in
--help is in the page with the same value placeholder, and every option
in the page is in --help; every page has the sections a man page of nws
has (options, files, signals, exit status, examples...); and man finds no
fault in them.

    NWS_HUB=... NWS_GATEWAY=... NWS_DISCOVERY=... NWS_TAP=... \\
        /usr/bin/python3 tests/package/test_man_help.py
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import manhelp  # noqa: E402

MAN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "man")
PAGES = {"nws-hub": ("NWS_HUB", "nws-hub.8.in"),
         "nws-gateway": ("NWS_GATEWAY", "nws-gateway.8.in"),
         "nws-discovery": ("NWS_DISCOVERY", "nws-discovery.8.in"),
         "nws-tap": ("NWS_TAP", "nws-tap.1.in")}


class ManHelp(unittest.TestCase):

    def test_options_match_help(self):
        problems = []
        for name, (var, page) in PAGES.items():
            program = os.environ.get(var)
            if not program:
                self.fail("$%s is not set" % var)
            problems += manhelp.check(name, program, os.path.join(MAN_DIR, page))
        self.assertEqual(problems, [], "\n".join(problems))

    def test_pages_render_without_warnings(self):
        for name, (_, page) in PAGES.items():
            r = subprocess.run(["man", "--warnings", "-l", os.path.join(MAN_DIR, page)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=dict(os.environ, MANWIDTH="80"),
                               timeout=60)
            self.assertEqual(r.returncode, 0, "%s: man says %s" % (name, r.stderr.decode()))
            self.assertEqual(r.stderr.decode(), "", "%s: man warns" % name)
            self.assertIn(name, r.stdout.decode())

    def test_the_checker_sees_a_difference(self):
        # A page that lost an option and has one too many must not pass.
        helped = {"--port": "N", "--verbose": None}
        documented = {"--port": "PORT", "--extra": None}
        self.assertEqual(len(manhelp.compare("x", helped, documented)), 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
