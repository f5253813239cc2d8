#!/usr/bin/env bash
# run.sh - build the libFuzzer targets with clang and run them.
#
#   tests/fuzz/run.sh                        every target for $NWS_FUZZ_SECONDS (default 20) s
#   tests/fuzz/run.sh TARGET SECONDS [FLAG]...  one target, e.g. fuzz_hubmsg 3600 -fork=4
#   tests/fuzz/run.sh merge TARGET           add what runs found (minimised) to corpus/TARGET
#   tests/fuzz/run.sh repro TARGET FILE...   rerun saved inputs (a crash artifact)
#   tests/fuzz/run.sh build                  just build
#
# --build DIR, first, picks the build directory (default $NWS_FUZZ_BUILD,
# else build/fuzz-build); the ctest fuzz.short passes <build>/fuzz-build.
# Targets: fuzz_channel fuzz_head fuzz_hubmsg fuzz_advert fuzz_opts fuzz_origin (fuzz_*.c here);
# FLAGs go to libFuzzer as they are (-fork=N uses N cores, -jobs=N ...).
#
# A target fuzzes corpus/TARGET/ (committed, small, only read) and
# DIR/corpus/TARGET/ (what earlier runs found, kept between runs), with
# TARGET.dict. A crash, a leak, a sanitizer report or a failed property
# stops it: the input is saved as DIR/artifacts/TARGET/crash-* (shown in
# hex), and the script exits 1. The whole log is DIR/logs/TARGET.log.
# Exits 77 (skipped) only when clang or libFuzzer's runtime is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${NWS_FUZZ_BUILD:-$top/build/fuzz-build}
if [ "${1:-}" = --build ]; then
    build=$2
    shift 2
fi
cc=${NWS_FUZZ_CC:-clang}
targets="fuzz_channel fuzz_head fuzz_hubmsg fuzz_advert fuzz_opts fuzz_origin"

say() { printf 'fuzz: %s\n' "$*" >&2; }

# Longest input worth trying, per target: a bit over the longest valid one.
max_len() {
    case $1 in
        fuzz_channel) echo 300 ;;   # "/broadcast/" + 255-byte name
        fuzz_head)    echo 1100 ;;  # the target's 1 KiB head limit, and a bit
        fuzz_hubmsg)  echo 600 ;;   # topic + envelope + a payload, separators
        fuzz_advert)  echo 300 ;;   # a 255-byte TXT string
        fuzz_opts)    echo 400 ;;   # a few arguments
        fuzz_origin)  echo 400 ;;   # a 300-byte origin, a channel glob, commas
        *) say "unknown target '$1' (one of: $targets)"; exit 2 ;;
    esac
}

build() {
    if ! command -v "$cc" >/dev/null; then
        say "skipped: $cc not found (apt-get install clang libclang-rt-dev)"
        exit 77
    fi
    mkdir -p "$build"
    local probe=$build/probe
    printf 'int LLVMFuzzerTestOneInput (const unsigned char *d, unsigned long n) { (void) d; (void) n; return 0; }\n' >"$probe.c"
    if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" 2>"$probe.log"; then
        say "skipped: $cc cannot link libFuzzer (apt-get install libclang-rt-dev):"
        sed 's/^/  /' "$probe.log" >&2
        exit 77
    fi
    cmake -S "$here" -B "$build" -DCMAKE_C_COMPILER="$cc" >"$build/configure.log" 2>&1 || {
        cat "$build/configure.log" >&2
        say "configure failed"
        exit 1
    }
    cmake --build "$build" -j "$(nproc)" >"$build/build.log" 2>&1 || {
        cat "$build/build.log" >&2
        say "build failed"
        exit 1
    }
}

# Shows a saved input: its name, size and bytes.
show_input() {
    say "input $1 ($(stat -c %s "$1") bytes):"
    od -A d -c "$1" | head -40 >&2
}

# fuzz TARGET SECONDS [FLAG]...: one run; 0 if nothing was found.
fuzz() {
    local target=$1 seconds=$2
    shift 2
    local work=$build/corpus/$target artifacts=$build/artifacts/$target/ log=$build/logs/$target.log
    local dict=()
    mkdir -p "$work" "$artifacts" "$build/logs"
    [ -f "$here/$target.dict" ] && dict=(-dict="$here/$target.dict")
    local rc=0
    # -error_exitcode: libFuzzer's default, 77, would read as "skipped".
    "$build/$target" -max_total_time="$seconds" -max_len="$(max_len "$target")" \
        -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1 \
        -print_final_stats=1 -artifact_prefix="$artifacts" "${dict[@]}" "$@" \
        "$work" "$here/corpus/$target" >"$log" 2>&1 || rc=$?
    # The last status line, e.g. "#812345 DONE cov: 211 ft: 640 corp: 120/4Kb exec/s: 40000".
    local last speed runs
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ $rc -eq 0 ]; then
        printf 'fuzz: %-13s ok   %ss, %s runs, %s exec/s | %s\n' "$target" "$seconds" \
            "${runs:-?}" "${speed:-?}" "${last:-?}"
        return 0
    fi
    say "$target FAILED (exit $rc); the end of $log:"
    tail -60 "$log" >&2
    local f
    for f in $(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log"); do
        show_input "$f"
        say "rerun it: $0 --build $build repro $target $f"
    done
    return 1
}

case "${1:-all}" in
    build)
        build ;;
    all)
        build
        failed=0
        for t in $targets; do
            fuzz "$t" "${NWS_FUZZ_SECONDS:-20}" || failed=1
        done
        exit $failed ;;
    merge)
        [ $# -eq 2 ] || { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
        build
        mkdir -p "$build/corpus/$2"
        "$build/$2" -merge=1 -max_len="$(max_len "$2")" "$here/corpus/$2" "$build/corpus/$2" ;;
    repro)
        [ $# -ge 3 ] || { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
        build
        target=$2
        shift 2
        "$build/$target" -error_exitcode=1 "$@" ;;
    fuzz_*)
        [ $# -ge 2 ] || { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
        max_len "$1" >/dev/null
        build
        fuzz "$@" ;;
    *)
        sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
        exit 2 ;;
esac
