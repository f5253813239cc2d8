#!/usr/bin/env bash
# nws.sh - set up, build and run nws, or its tests, on Debian 12.
#
#   tools/nws.sh run [GATEWAY OPTION]...   install, build the programs, run hub + gateway (+ discovery)
#   tools/nws.sh test [CTEST OPTION]...    install, build, run every test, then again under ASan+UBSan
#   tools/nws.sh package                   install, build a Debian package; its path is the last line
#   tools/nws.sh setup | build             just that step
#
# Installing needs root (apt-get); building and running do not.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${NWS_BUILD_DIR:-$top/build}

# Packages: to build, to run, to test.
build_pkgs="gcc make cmake pkg-config libwebsockets-dev libwebsockets-evlib-ev libev-dev libzmq3-dev libczmq-dev libavahi-client-dev libsystemd-dev libssl-dev"
package_pkgs="dpkg-dev"
run_pkgs="dbus avahi-daemon avahi-utils"
test_pkgs="python3 openssl python3-websocket python3-zmq iproute2 util-linux procps nftables iputils-ping clang libclang-rt-dev chromium $package_pkgs lintian systemd systemd-container man-db adduser"

say() { printf 'nws: %s\n' "$*" >&2; }

setup() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        say "missing packages: ${missing[*]}"
        say "install them as root: apt-get install ${missing[*]}"
        exit 1
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    }
}

# The whole suite again, built with ASan+UBSan in $build-asan. Sanitizer
# reports go to files, since a test harness that stops a program does not
# always look at its exit status: any report fails the run.
sanitized() {
    local dir=$build-asan reports=$build-asan/sanitizer
    cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNWS_SANITIZE=ON >/dev/null
    cmake --build "$dir" -j "$(nproc)"
    rm -rf "$reports" && mkdir -p "$reports"
    (cd "$dir" && ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:log_path=$reports/asan \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan \
        ctest --output-on-failure --timeout 300 --repeat until-pass:2 "$@")
    if [ -n "$(ls -A "$reports")" ]; then
        say "sanitizer reports in $reports:"
        cat "$reports"/* >&2
        exit 1
    fi
}

# The CMake targets of the programs: run needs them, not the tests.
programs="nws-hub nws-gateway nws-discovery nws-tap"

# Builds the targets given, or everything.
compile() {
    local targets=()
    [ $# -eq 0 ] || targets=(--target "$@")
    cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j "$(nproc)" "${targets[@]}"
}

# The Debian package (CPack, see packaging/), built in its own directory
# with Debian's compiler flags (hardening included). cpack's report goes
# to stderr: the last line on stdout is the .deb's path.
package() {
    local dir=${NWS_PACKAGE_BUILD_DIR:-$build-deb} flags deb
    export DEB_BUILD_MAINT_OPTIONS=hardening=+all
    flags="$(cd "$top" && dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
    cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNWS_TESTS=OFF \
        -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_C_FLAGS="$flags" \
        -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)" >/dev/null
    cmake --build "$dir" -j "$(nproc)" >&2
    rm -f "$dir"/package/*.deb
    (cd "$dir" && cpack -G DEB) >&2
    deb=$(ls "$dir"/package/*.deb)
    echo "$deb"
}

# nws-discovery needs avahi-daemon, which needs the system D-Bus; on a
# machine without an init system neither runs, so start them (as root).
# NWS_AVAHI=0 skips this (and keeps DNS-SD traffic off the network).
services() {
    [ "${NWS_AVAHI:-1}" != 0 ] && [ "$(id -u)" -eq 0 ] || return 0
    if ! dbus-send --system --print-reply --dest=org.freedesktop.DBus / \
            org.freedesktop.DBus.GetId >/dev/null 2>&1; then
        say "starting the system D-Bus"
        mkdir -p /run/dbus && rm -f /run/dbus/pid
        dbus-daemon --system --fork
    fi
    if ! avahi-daemon --check 2>/dev/null; then
        say "starting avahi-daemon"
        rm -f /run/avahi-daemon/pid
        avahi-daemon --daemonize
    fi
}

# Runs hub, gateway and (when built) discovery as separate processes.
# A process that dies is restarted after a second; Ctrl-C or SIGTERM
# stops them all.
supervise() {
    # Each program finds the runtime directory itself ($NWS_RUNTIME_DIR or
    # its default), so they always agree with nws-tap and each other.
    declare -A cmd pid
    cmd[hub]="$build/hub/nws-hub"
    cmd[gateway]="$build/gateway/nws-gateway $*"
    if [ -x "$build/discovery/nws-discovery" ]; then
        # Discovery advertises the gateway's port.
        # and takes the gateway's network key, if any (private broadcast).
        local port=9009 prev= key=()
        for arg in "$@"; do
            case "$prev:$arg" in
                --port:*) port=$arg ;; *:--port=*) port=${arg#--port=} ;;
                --key:*) key=(--key "$arg") ;; *:--key=*) key=(--key "${arg#--key=}") ;;
            esac
            prev=$arg
        done
        if [ "$port" != 0 ]; then
            cmd[discovery]="$build/discovery/nws-discovery --port $port ${key[*]}"
        else
            say "--port 0: nothing to advertise, so no nws-discovery"
        fi
    fi
    local stopping=0 name
    trap 'stopping=1' INT TERM
    for name in "${!cmd[@]}"; do
        ${cmd[$name]} & pid[$name]=$!
    done
    while [ $stopping -eq 0 ]; do
        wait -n || true
        [ $stopping -eq 0 ] || break
        for name in "${!pid[@]}"; do
            if ! kill -0 "${pid[$name]}" 2>/dev/null; then
                say "$name (pid ${pid[$name]}) exited; restarting it"
                sleep 1 & wait $! || true   # a pause that a signal cuts short
                [ $stopping -eq 0 ] || break
                ${cmd[$name]} & pid[$name]=$!
            fi
        done
    done
    say "stopping"
    for name in "${!pid[@]}"; do kill -TERM "${pid[$name]}" 2>/dev/null || true; done
    wait
}

case "${1:-}" in
    setup) setup $build_pkgs $run_pkgs $test_pkgs ;;
    build) setup $build_pkgs; compile ;;
    package) setup $build_pkgs $package_pkgs; package ;;
    run)   shift; setup $build_pkgs $run_pkgs; compile $programs; services; supervise "$@" ;;
    test)  shift; setup $build_pkgs $run_pkgs $test_pkgs
           # Browser tests need node and npm (the browser_setup test runs npm ci).
           # Machines that ship NodeSource's node 20 have npm with it, and
           # Debian's npm package would conflict with it: only when there is
           # none at all, take Debian's.
           command -v npm >/dev/null || setup nodejs npm
           compile
           # A test that fails is run once more (and fails the run if it
           # fails again): the multi-host fault tests race real daemons on a
           # shared 2-core machine, and one known flake is under issue 7.
           (cd "$build" && ctest --output-on-failure --timeout 300 --repeat until-pass:2 "$@")
           say "the suite again under ASan+UBSan"; sanitized "$@" ;;
    *)     sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
