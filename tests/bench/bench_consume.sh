#!/usr/bin/env bash
# bench_consume.sh - end-to-end throughput of one `apivector consume` process.
#
#   AV_BUILD_DIR=build AV_SOURCE_DIR=. tests/bench/bench_consume.sh [EVENTS=200] [MIB=4]
#
# Starts the test broker, redis-server and the support HTTP server on
# loopback, generates 8 distinct dumps of MIB MiB served over HTTP, produces
# EVENTS dump-ready events (with sha256 and size) and lets one consumer with
# the default configuration (workers = cores) work through the backlog with
# --until-end. Prints dumps/s and MB/s from the first event's start to the
# last result acknowledged (the group join before it is not counted), p50/p99
# event latency from the result events, and the consumer's peak RSS.
set -euo pipefail
: "${AV_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${AV_BUILD_DIR:=$AV_SOURCE_DIR/build}"
: "${CONFORMANCE_DIR:=$(cd "$AV_SOURCE_DIR/../shared/conformance" && pwd)}"
: "${APISCOUT_DATA_DIR:=$(cd "$AV_SOURCE_DIR/../shared/apiscout" && pwd)}"
export AV_SOURCE_DIR AV_BUILD_DIR CONFORMANCE_DIR APISCOUT_DATA_DIR
source "$AV_SOURCE_DIR/tests/integration/consume_common.sh"

N=${1:-200}
MIB=${2:-4}
BENCH="$AV_PYTHON $AV_SOURCE_DIR/tests/bench/bench_consume.py"
av_start_broker apivector.dumps:4 apivector.results:4 apivector.dlq:1
consume_env 'workers=0'
$BENCH dumps "$WWW/bench" 8 "$MIB"
$BENCH events "$AV_TMP/events.tsv" "$N" "$HTTP_URL" win7_x86_syn
produce apivector.dumps "$AV_TMP/events.tsv"
/usr/bin/time -f '%M' -o "$AV_TMP/rss" "$APIVECTOR" consume --config "$AV_TMP/config.json" \
    -X "bootstrap.servers=$KAFKA_BOOTSTRAP" "${KAFKA_TEST_PROPS[@]}" --until-end \
    >"$AV_TMP/summary.json" 2>"$AV_TMP/consumer.log" || av_fail "consumer failed: $(tail -3 "$AV_TMP/consumer.log")"
read_topic apivector.results "$AV_TMP/results.json"
$BENCH report "$AV_TMP/results.json" "$AV_TMP/consumer.log" "$N" $((N * MIB * 1048576)) \
    "$(cat "$AV_TMP/rss")"
echo "consumer summary: $(cat "$AV_TMP/summary.json")"
