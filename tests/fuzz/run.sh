#!/bin/bash
# run.sh - run every libFuzzer target for a bounded time, then replay the
# checked-in seeds and regression inputs; exit 1 on any crash, timeout,
# leak or out-of-memory.
#
# Usage: tests/fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET=30]
#   BUILD_DIR is a build configured with -DCMAKE_C_COMPILER=clang
#   -DAPIVECTOR_FUZZ=ON and built with `--target fuzz_all`.
#   SECONDS_PER_TARGET=0 skips fuzzing and only replays (ctest fuzz.replay).
# Environment:
#   FUZZ_TARGETS="fuzz_pe fuzz_crawl"  run only these targets
#   FUZZ_ARTIFACT_DIR=dir               keep crash/timeout inputs there
#
# Each target fuzzes a temporary copy of its seed corpus (the checked-in
# corpus is never modified), with tests/fuzz/<name>.dict when it exists.
# The replay then runs every file of corpus/<target>/ and
# regressions/<target>/ once. Temporary directories are removed on every
# exit path. One summary line per target reports runs, exec/s and coverage.
set -uo pipefail

usage() {
    echo "usage: $0 BUILD_DIR [SECONDS_PER_TARGET=30]" >&2
    exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
BUILD_DIR=$1
SECONDS_PER_TARGET=${2:-30}
case "$SECONDS_PER_TARGET" in '' | *[!0-9]*) usage ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
ALL_TARGETS="fuzz_winapi fuzz_apidb_json fuzz_apidb_pack fuzz_collection fuzz_vector fuzz_pe fuzz_crawl"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/apivector-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# Prints the input that failed (hex, truncated) and keeps it if asked to.
report_artifacts() {
    local name=$1 dir=$2 f
    for f in "$dir"/*; do
        [ -f "$f" ] || continue
        echo "  $name: failing input $(basename "$f") ($(stat -c %s "$f") bytes), hex:"
        xxd -p "$f" | head -c 2048 | sed 's/^/    /'
        echo
        if [ -n "${FUZZ_ARTIFACT_DIR:-}" ]; then
            mkdir -p "$FUZZ_ARTIFACT_DIR" && cp "$f" "$FUZZ_ARTIFACT_DIR/$name-$(basename "$f")"
            echo "  kept as $FUZZ_ARTIFACT_DIR/$name-$(basename "$f")"
        fi
    done
}

# Fuzzes one target; sets RUNS/EXECS/COV/FT/CORP from libFuzzer's output.
fuzz_target() {
    local name=$1 bin=$2 work=$TMP/$1 dict=$HERE/${1#fuzz_}.dict
    mkdir -p "$work/corpus" "$work/artifacts"
    cp "$HERE/corpus/$name/"* "$work/corpus/" 2>/dev/null
    local args=(-max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10
                -print_final_stats=1 -artifact_prefix="$work/artifacts/")
    [ -f "$dict" ] && args+=(-dict="$dict")
    timeout $((SECONDS_PER_TARGET + 300)) "$bin" "${args[@]}" "$work/corpus" >"$work/log" 2>&1
    local rc=$?
    RUNS=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
    local last
    last=$(grep -a -E '^#[0-9]+.*cov: ' "$work/log" | tail -1)
    EXECS=$(sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p' <<<"$last")
    COV=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    FT=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
    CORP=$(sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
    if [ $rc -ne 0 ]; then
        echo "FAIL $name: fuzzing exited with status $rc; end of the log:"
        grep -a -v -E '^#[0-9]+ ' "$work/log" | tail -60 | sed 's/^/    /'
        report_artifacts "$name" "$work/artifacts"
        return 1
    fi
    return 0
}

# Runs every checked-in input of a target once; sets REPLAYED.
replay_target() {
    local name=$1 bin=$2 work=$TMP/$1.replay files=()
    mkdir -p "$work"
    for f in "$HERE/corpus/$name/"* "$HERE/regressions/$name/"*; do
        [ -f "$f" ] && files+=("$f")
    done
    REPLAYED=${#files[@]}
    [ "$REPLAYED" -gt 0 ] || { echo "FAIL $name: no seed corpus in $HERE/corpus/$name"; return 1; }
    "$bin" -runs=0 -rss_limit_mb=2048 -timeout=10 "${files[@]}" >"$work/log" 2>&1
    local rc=$?
    if [ $rc -ne 0 ]; then
        local failed
        failed=$(grep -a '^Running: ' "$work/log" | tail -1 | sed 's/^Running: //')
        echo "FAIL $name: replay exited with status $rc on ${failed:-?}; end of the log:"
        tail -60 "$work/log" | sed 's/^/    /'
        return 1
    fi
    local ran
    ran=$(grep -a -c '^Executed ' "$work/log")
    if [ "$ran" -ne "$REPLAYED" ]; then
        echo "FAIL $name: replay executed $ran of $REPLAYED inputs"
        return 1
    fi
    return 0
}

failed=0
for name in $TARGETS; do
    bin=$BUILD_DIR/tests/fuzz/$name
    if [ ! -x "$bin" ]; then
        echo "FAIL $name: $bin not built (configure with -DCMAKE_C_COMPILER=clang" \
             "-DAPIVECTOR_FUZZ=ON, build --target fuzz_all)"
        failed=1
        continue
    fi
    RUNS=- EXECS=- COV=- FT=- CORP=- REPLAYED=0
    ok=1
    if [ "$SECONDS_PER_TARGET" -gt 0 ]; then
        fuzz_target "$name" "$bin" || ok=0
    fi
    replay_target "$name" "$bin" || ok=0
    [ $ok -eq 1 ] && status=ok || { status=FAILED; failed=1; }
    printf '%-16s %-6s runs=%s exec/s=%s cov=%s ft=%s corpus=%s replayed=%s\n' \
        "$name" "$status" "${RUNS:--}" "${EXECS:--}" "${COV:--}" "${FT:--}" "${CORP:--}" \
        "$REPLAYED"
done

if [ $failed -ne 0 ]; then
    echo "fuzz: FAILED"
    exit 1
fi
echo "fuzz: all targets passed"
exit 0
