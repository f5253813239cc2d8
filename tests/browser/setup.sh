#!/bin/sh
# setup.sh SRC_DIR BUILD_DIR - makes the browser tests runnable: checks for
# node, npm and chromium, and installs playwright-core into BUILD_DIR with
# `npm ci` from SRC_DIR's package.json and package-lock.json (only when
# the lock file changed since the last install).
set -eu
src=$(cd "$1" && pwd)
out=$2
missing=""
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ]; then
    echo "browser tests need:$missing (apt-get install$missing; tools/nws.sh test does it)" >&2
    exit 1
fi
mkdir -p "$out"
cd "$out"
stamp=node_modules/.nws-lock
if [ -f "$stamp" ] && cmp -s "$stamp" "$src/package-lock.json" \
   && [ -f node_modules/playwright-core/package.json ]; then
    echo "playwright-core already installed in $out/node_modules"
    exit 0
fi
cp "$src/package.json" "$src/package-lock.json" .
npm ci --no-audit --no-fund --loglevel=error
cp "$src/package-lock.json" "$stamp"
echo "installed: $(node -p 'require("playwright-core/package.json").name + "@" + require("playwright-core/package.json").version'), node $(node --version), $(/usr/bin/chromium --version 2>/dev/null)"
