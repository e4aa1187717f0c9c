#!/usr/bin/env bash
# scripts/demo.sh - the main job on an embedded default, end to end.
#
# Installs what is missing, builds, then starts a local pipeline on loopback:
# a Kafka broker (librdkafka's mock cluster in its own process), redis-server,
# and a support server serving the ApiScout data from ../shared (a Windows 7
# x86 DB, the WinApi1024 table, ApiScout's example collection, a sample
# dump). It publishes one dump-ready event with kcat, runs `apivector
# consume --until-end`, and prints the ApiVector result event and the match
# event it produced. Everything it starts is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
APISCOUT_DATA_DIR=$(cd "${APISCOUT_DATA_DIR:-$root/../shared/apiscout}" && pwd)
CONFORMANCE_DIR=$(cd "${CONFORMANCE_DIR:-$root/../shared/conformance}" && pwd)
export APISCOUT_DATA_DIR CONFORMANCE_DIR AV_SOURCE_DIR=$root AV_BUILD_DIR=$root/build

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAPIVECTOR_WERROR=ON \
    -DAPISCOUT_DATA_DIR="$APISCOUT_DATA_DIR" -DCONFORMANCE_DIR="$CONFORMANCE_DIR" >/dev/null
cmake --build build -j"$(nproc)" --target apivector kafka-broker >/dev/null
source tests/support/lib.sh

echo "== local pipeline: Kafka broker, Redis, support server (copies of ../shared data)"
av_tmpdir
www="$AV_TMP/www"
mkdir -p "$www/apiscout" "$www/apivector_lists" "$www/dumps"
cp "$CONFORMANCE_DIR/dbs/win7_x86_syn.json" "$www/apiscout/win7-x86.json"
cp "$APISCOUT_DATA_DIR/winapi1024v1.txt" "$www/apiscout/"
cp "$APISCOUT_DATA_DIR/collection_example.csv" "$www/apivector_lists/example.csv"
cp "$CONFORMANCE_DIR/dumps/x86_64k_iat.bin" "$www/dumps/PID_1234.exe.dmp_0x00400000"
av_start_broker apivector.dumps:3 apivector.results:3 apivector.dlq:1
av_start_redis
av_start_http "$www"
cat >"$AV_TMP/config.json" <<JSON
{
  "support_url": "$HTTP_URL",
  "redis_host": "127.0.0.1",
  "redis_port": $REDIS_PORT,
  "apivector_lists": {"example.csv": {"classification": "TLP:CLEAR"}},
  "metrics_port": 0,
  "kafka": {"bootstrap.servers": "$KAFKA_BOOTSTRAP", "session.timeout.ms": "6000"}
}
JSON
echo "   broker $KAFKA_BOOTSTRAP, redis 127.0.0.1:$REDIS_PORT, support server $HTTP_URL"

echo "== publish one dump-ready event"
event='{"schema":"apivector.dump-ready.v1","event_id":"demo-1","vm_name":"win7-x86",'
event+='"dump":{"url":"'"$HTTP_URL"'/dumps/PID_1234.exe.dmp_0x00400000"}}'
echo "$event"
printf 'demo-1\t%s\n' "$event" | kcat -b "$KAFKA_BOOTSTRAP" -t apivector.dumps -P -K $'\t'

echo "== apivector consume --until-end"
build/consumer/apivector consume --config "$AV_TMP/config.json" --until-end \
    2>"$AV_TMP/consumer.log" || { tail -5 "$AV_TMP/consumer.log"; av_fail "consumer failed"; }

echo "== events on apivector.results (result: API list cut to 5 rows here)"
kcat -b "$KAFKA_BOOTSTRAP" -C -t apivector.results -o beginning -e -q -f '%s\n' |
    "$AV_PYTHON" -c '
import json, sys
for line in sys.stdin:
    v = json.loads(line)
    if "apis" in v:
        n = len(v["apis"])
        v["apis"] = v["apis"][:5] + ["... %d more" % (n - 5)] if n > 5 else v["apis"]
    print(json.dumps(v, indent=1))'
