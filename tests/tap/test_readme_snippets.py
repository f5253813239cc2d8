"""The README's five-line Python tap and feeder work as printed.

readme_tap.py and readme_feed.py are the snippets, verbatim. When
README.md holds them (a ```python block with "zmq.SUB)" or "zmq.XPUB)"),
it must hold them exactly as here; the test then runs them, with the
endpoint replaced by the test's runtime directory, against a real hub and
gateways.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from taptest import HERE, PYTHON, TapTestCase  # noqa: E402
import nwstest  # noqa: E402  (on sys.path through taptest)
from nwstest import main, text  # noqa: E402

README = os.path.join(HERE, "..", "..", "README.md")
DEFAULT_DIR = "/run/nws"


def snippet(name):
    with open(os.path.join(HERE, name)) as f:
        return f.read()


def readme_block(marker):
    """The README's ```python block containing marker, or None."""
    try:
        with open(README) as f:
            readme = f.read()
    except OSError:
        return None
    for block in re.findall(r"```python\n(.*?)```", readme, re.S):
        if marker in block:
            return block
    return None


class ReadmeSnippets(TapTestCase):

    def runnable(self, name):
        code = snippet(name)
        self.assertIn(DEFAULT_DIR, code)
        path = os.path.join(self.nws.dir, name)
        with open(path, "w") as f:
            f.write(code.replace(DEFAULT_DIR, self.nws.runtime_dir))
        return path

    def test_readme_holds_the_tested_snippets(self):
        for name, marker in (("readme_tap.py", "zmq.SUB)"), ("readme_feed.py", "zmq.XPUB)")):
            block = readme_block(marker)
            if block is None:
                nwstest.note("README.md has no block with %s yet", marker)
                continue
            self.assertEqual(block.rstrip(), snippet(name).rstrip(),
                             "README.md's snippet differs from tests/tap/%s" % name)
            self.assertLessEqual(len(block.rstrip().split("\n")), 5)

    def test_snippets_tap_and_feed(self):
        self.start_hub()
        gw1 = self.nws.start_gateway()
        gw2 = self.nws.start_gateway()
        a = self.nws.client(gw1, "/local/chat")
        tap = self.program("readme_tap", [PYTHON, self.runnable("readme_tap.py")])
        # A SUB cannot tell when its subscription is in place: probe.
        for n in range(200):
            a.send_text("probe %d" % n)
            try:
                first = tap.line(timeout=0.05)
                break
            except AssertionError:
                continue
        self.assertRegex(first, rb"^local/chat/ text b'probe \d+'$")
        # Let the probes still in flight pass, so that none reaches b.
        a.send_text("marker")
        while tap.line() != b"local/chat/ text b'marker'":
            pass
        # A client joining on another gateway makes it publish control
        # messages on the channel: the tap must not show them.
        b = self.nws.client(gw2, "/local/chat")
        a.send_text("hello \u2713")
        a.send_binary(b"\x00\x01")
        self.assertEqual(tap.lines(2), [("local/chat/ text %r" % "hello \u2713".encode()).encode(),
                                        b"local/chat/ binary b'\\x00\\x01'"])
        self.assertReceives(b, [text("hello \u2713"), nwstest.binary(b"\x00\x01")])

        feed = self.program("readme_feed", [PYTHON, self.runnable("readme_feed.py")])
        self.assertEqual(feed.wait_exit(), 0, feed.err)
        for who in (a, b):
            self.assertReceives(who, [text("hello from zmq")])
        self.assertEqual(tap.line(), b"local/chat/ text b'hello from zmq'")


if __name__ == "__main__":
    main()
