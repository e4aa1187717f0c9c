#!/usr/bin/env bash
# test_build_warnings.sh - a from-scratch build of the project prints no compiler
# or linker warning.
#
# With -Werror a warning stops the build; without it a warning scrolls past
# unnoticed. This test configures a fresh build folder with -DAPIVECTOR_WERROR=OFF,
# so the build runs to the end, and fails if the log holds any "warning:" line.
# It also checks that the warning flags really reached every compile command, so
# an empty log cannot come from warnings being switched off.
#
# Environment: AV_SOURCE_DIR (required); APISCOUT_DATA_DIR and CONFORMANCE_DIR
# are passed on to CMake when set; AV_BUILD_TARGETS (default "all") names what
# to build.
source "$AV_SOURCE_DIR/tests/support/lib.sh"

av_tmpdir
build="$AV_TMP/build"
log="$AV_TMP/build.log"
targets=${AV_BUILD_TARGETS:-all}

args=(-S "$AV_SOURCE_DIR" -B "$build" -DAPIVECTOR_WERROR=OFF -DCMAKE_BUILD_TYPE=Release)
[ -z "${APISCOUT_DATA_DIR:-}" ] || args+=("-DAPISCOUT_DATA_DIR=$APISCOUT_DATA_DIR")
[ -z "${CONFORMANCE_DIR:-}" ] || args+=("-DCONFORMANCE_DIR=$CONFORMANCE_DIR")

echo "1. configure ${args[*]}"
cmake "${args[@]}" >"$AV_TMP/configure.log" 2>&1 || {
    cat "$AV_TMP/configure.log" >&2
    av_fail "cmake configure failed"
}

echo "2. build targets: $targets"
target_args=()
for t in $targets; do target_args+=(--target "$t"); done
start=$SECONDS
cmake --build "$build" -j2 "${target_args[@]}" 2>&1 | tee "$log" >/dev/null || {
    grep -n 'error:\|warning:' "$log" | head -n 40 >&2 || true
    tail -n 20 "$log" >&2
    av_fail "build failed"
}
echo "   built in $((SECONDS - start)) s"
compiled=$(grep -c 'Building C object' "$log" || true)
[ "$compiled" -gt 0 ] || av_fail "the build compiled no C file; log: $(tail -n 20 "$log")"
echo "   $compiled C files compiled"

echo "3. every compile command carries the warning flags and no -Werror"
"$AV_PYTHON" - "$build/compile_commands.json" <<'EOF'
import json, shlex, sys

want = ["-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes"]
cmds = json.load(open(sys.argv[1]))
if not cmds:
    sys.exit("FAIL: compile_commands.json is empty")
for c in cmds:
    args = c.get("arguments") or shlex.split(c["command"])
    missing = [w for w in want if w not in args]
    if missing:
        sys.exit("FAIL: %s is compiled without %s" % (c["file"], " ".join(missing)))
    if "-Werror" in args:
        sys.exit("FAIL: %s is compiled with -Werror although APIVECTOR_WERROR=OFF" % c["file"])
print("   %d compile commands checked" % len(cmds))
EOF

echo "4. the build log holds no warning"
if grep -n 'warning:' "$log" >"$AV_TMP/warnings.txt"; then
    cat "$AV_TMP/warnings.txt" >&2
    av_fail "$(wc -l <"$AV_TMP/warnings.txt") warning line(s) in the build, see above"
fi

echo "PASS test_build_warnings"
