#!/usr/bin/env bash
# scripts/demo.sh - the main job on an embedded default, end to end.
#
# Installs what is missing, builds, and scouts a conformance dump (a 32-bit
# process image with its import table at 0x00400000) with a Windows 7 x86 DB,
# then matches its ApiVector against ApiScout's example collection.
# Reads ../shared/apiscout and ../shared/conformance (or APISCOUT_DATA_DIR /
# CONFORMANCE_DIR); copies nothing from there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
APISCOUT_DATA_DIR=$(cd "${APISCOUT_DATA_DIR:-$root/../shared/apiscout}" && pwd)
CONFORMANCE_DIR=$(cd "${CONFORMANCE_DIR:-$root/../shared/conformance}" && pwd)

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAPIVECTOR_WERROR=ON \
    -DAPISCOUT_DATA_DIR="$APISCOUT_DATA_DIR" -DCONFORMANCE_DIR="$CONFORMANCE_DIR" >/dev/null
cmake --build build -j"$(nproc)" --target apivector >/dev/null

echo "== apivector scan: recovered APIs, ApiVector, confidence, family matches"
build/consumer/apivector scan "$CONFORMANCE_DIR/dumps/x86_64k_iat.bin" \
    --name x86_64k_iat_0x00400000 \
    --db "$CONFORMANCE_DIR/dbs/win7_x86_syn.json" \
    --collection "$APISCOUT_DATA_DIR/collection_example.csv" \
    --winapi "$APISCOUT_DATA_DIR/winapi1024v1.txt" | tail -n 25
