"""package.build: `bash tools/nws.sh package` builds the .deb in DIR (a
build of its own) and names it on its last line; the path goes to
DIR/path for the other package tests.

    /usr/bin/python3 tests/package/build_package.py DIR
"""

import os
import subprocess
import sys

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    path_file = os.path.join(out_dir, "path")
    if os.path.exists(path_file):
        os.unlink(path_file)
    env = dict(os.environ, NWS_PACKAGE_BUILD_DIR=os.path.join(out_dir, "build"))
    r = subprocess.run(["bash", os.path.join(TOP, "tools", "nws.sh"), "package"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env, timeout=840)
    out = r.stdout.decode()
    sys.stdout.write(out)
    if r.returncode != 0:
        sys.exit("nws.sh package: status %d" % r.returncode)
    lines = out.splitlines()
    deb = lines[-1] if lines else ""
    if not (deb.endswith(".deb") and os.path.isabs(deb) and os.path.isfile(deb)):
        sys.exit("nws.sh package: the last line %r is not the path of a .deb" % deb)
    with open(path_file, "w") as f:
        f.write(deb + "\n")
    print("package: " + deb)


if __name__ == "__main__":
    main()
