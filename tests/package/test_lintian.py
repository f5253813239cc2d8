"""package.lintian: lintian finds no error and no warning in the .deb;
the only tag overridden is the one packaging/lintian-overrides explains
(the services are WantedBy=nws.target), and it is still needed. Info tags
are shown, not judged.

    NWS_DEB_PATH_FILE=<file naming the .deb> /usr/bin/python3 tests/package/test_lintian.py
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkgtest  # noqa: E402
from pkgtest import run  # noqa: E402

OVERRIDDEN = "systemd-service-file-refers-to-unusual-wantedby-target"


class Lintian(unittest.TestCase):

    def test_lintian(self):
        deb = pkgtest.deb_path()
        # Its status, then what it overrode (--show-overrides makes the
        # status 2 even with nothing wrong).
        status, out, err = run(["lintian", "--fail-on", "error,warning", "--display-info", deb],
                               ok=None, timeout=140)
        sys.stdout.write(out)
        tags = [line for line in out.splitlines() if re.match(r"^[A-Z]: ", line)]
        bad = [t for t in tags if t.startswith(("E:", "W:"))]
        self.assertEqual(bad, [], "lintian:\n" + out + err)
        self.assertEqual(status, 0, "lintian: status %d\n%s%s" % (status, out, err))
        out = run(["lintian", "--show-overrides", deb], ok=None, timeout=140)[1]
        overridden = [line for line in out.splitlines() if line.startswith("O: ")]
        self.assertEqual({t.split()[2] for t in overridden}, {OVERRIDDEN}, out)
        self.assertEqual(len(overridden), len(pkgtest.SERVICES), out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
