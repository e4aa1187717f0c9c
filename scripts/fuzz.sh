#!/usr/bin/env bash
# scripts/fuzz.sh - build the libFuzzer targets with clang and run each for a
# bounded time, then replay the checked-in seeds and regression inputs.
#   scripts/fuzz.sh [SECONDS_PER_TARGET=30]
set -euo pipefail
cd "$(dirname "$0")/.."
flags=(-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DAPIVECTOR_FUZZ=ON -DAPIVECTOR_WERROR=ON)
[ -n "${APISCOUT_DATA_DIR:-}" ] && flags+=("-DAPISCOUT_DATA_DIR=$APISCOUT_DATA_DIR")
[ -n "${CONFORMANCE_DIR:-}" ] && flags+=("-DCONFORMANCE_DIR=$CONFORMANCE_DIR")
scripts/deps.sh
cmake -S . -B build-fuzz "${flags[@]}" >/dev/null
cmake --build build-fuzz --target fuzz_all -j"$(nproc)"
tests/fuzz/run.sh build-fuzz "${1:-30}"
