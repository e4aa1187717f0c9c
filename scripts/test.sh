#!/usr/bin/env bash
# scripts/test.sh - install what is missing, build, run the whole test suite.
#
#   scripts/test.sh              Release build in build/, warnings as errors, all tests
#   scripts/test.sh --sanitize   the same with AddressSanitizer + UBSan, in build-asan/
#
# Needs the ApiScout data and conformance corpus beside the repository
# (../shared/apiscout, ../shared/conformance) or APISCOUT_DATA_DIR /
# CONFORMANCE_DIR pointing at them.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
flags=(-DCMAKE_BUILD_TYPE=Release -DAPIVECTOR_WERROR=ON)
if [ "${1:-}" = "--sanitize" ]; then
    build=build-asan
    flags=(-DCMAKE_BUILD_TYPE=Debug -DAPIVECTOR_WERROR=ON -DAPIVECTOR_SANITIZE=ON)
fi
[ -n "${APISCOUT_DATA_DIR:-}" ] && flags+=("-DAPISCOUT_DATA_DIR=$APISCOUT_DATA_DIR")
[ -n "${CONFORMANCE_DIR:-}" ] && flags+=("-DCONFORMANCE_DIR=$CONFORMANCE_DIR")

scripts/deps.sh
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j2
