#!/usr/bin/env bash
# test_metrics.sh - /metrics, /healthz and /readyz of a running consumer.
#
# Real processes on loopback: the test broker, redis-server, the support HTTP
# server, `apivector consume` with its metrics server, and a real Prometheus.
#   1. 12 events processed; /healthz and /readyz answer 200
#   2. `promtool check metrics` passes on a live scrape, whose counters say
#      what happened (12 consumed, 12 succeeded, 12 result records)
#   3. Prometheus scrapes the consumer; a PromQL query returns 12 processed
#   4. the broker's brokers go down (SIGUSR1): /readyz turns 503 naming the
#      broker while /healthz stays 200; back up (SIGUSR2): /readyz 200 again
source "$AV_SOURCE_DIR/tests/integration/consume_common.sh"

N=12
av_start_broker apivector.dumps:2 apivector.results:2 apivector.dlq:1
METRICS_PORT=$(av_free_port)
consume_env "metrics_port=$METRICS_PORT" 'metrics_bind="127.0.0.1"'
M="http://127.0.0.1:$METRICS_PORT"

# http_code PATH: the status code of a GET on the metrics server.
http_code() {
    curl -s -o "$AV_TMP/body" -w '%{http_code}' "$M$1" || echo 000
}

# wait_code PATH CODE SECONDS
wait_code() {
    local i
    for i in $(seq 1 $(($3 * 4))); do
        [ "$(http_code "$1")" = "$2" ] && return 0
        sleep 0.25
    done
    av_fail "$1 did not answer $2 within $3 s (last: $(http_code "$1") $(cat "$AV_TMP/body"))"
}

echo "1. $N events processed, healthy and ready"
$CHECK events "$AV_TMP/events.tsv" $N --prefix m
produce apivector.dumps "$AV_TMP/events.tsv"
consume_start c1
wait_count apivector.results apivector.result.v1 $N 60
wait_code /healthz 200 10
wait_code /readyz 200 20
grep -q '"status": "ok"' "$AV_TMP/body" || av_fail "readyz body: $(cat "$AV_TMP/body")"
[ "$(http_code /nope)" = 404 ] || av_fail "unknown path did not answer 404"

echo "2. promtool check metrics on a live scrape"
sleep 2 # the status tick publishes counters at least once a second
curl -sf "$M/metrics" >"$AV_TMP/metrics.txt" || av_fail "GET /metrics failed"
promtool check metrics <"$AV_TMP/metrics.txt" || av_fail "promtool rejected the exposition"
metric() {
    awk -v m="$1" '$1 == m {print $2}' "$AV_TMP/metrics.txt"
}
[ "$(metric apivector_events_consumed_total)" = $N ] ||
    av_fail "consumed_total is $(metric apivector_events_consumed_total), expected $N"
[ "$(metric apivector_events_succeeded_total)" = $N ] || av_fail "succeeded_total is not $N"
[ "$(metric 'apivector_records_produced_total{type="result"}')" = $N ] ||
    av_fail "result records are not $N"
[ "$(metric apivector_ready)" = 1 ] || av_fail "apivector_ready is not 1"
grep -q '^apivector_processing_seconds_count{stage="total"} '$N'$' "$AV_TMP/metrics.txt" ||
    av_fail "the total latency histogram did not count $N events"

echo "3. a real Prometheus scrapes it and answers PromQL"
PROM_PORT=$(av_free_port)
mkdir -p "$AV_TMP/prom"
cat >"$AV_TMP/prom/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: apivector
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
YAML
prometheus --config.file="$AV_TMP/prom/prometheus.yml" --storage.tsdb.path="$AV_TMP/prom/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$AV_TMP/prom/log" 2>&1 &
av_track $!
av_wait_port "$PROM_PORT"
value=""
for i in $(seq 1 60); do
    value=$(curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query" \
        --data-urlencode 'query=sum(apivector_events_succeeded_total{job="apivector"})' |
        "$AV_PYTHON" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' ||
        true)
    [ "$value" = $N ] && break
    sleep 0.5
done
[ "$value" = $N ] || av_fail "PromQL answered '$value', expected $N ($(tail -3 "$AV_TMP/prom/log"))"

echo "4. readiness follows the broker: down (SIGUSR1) -> 503, up (SIGUSR2) -> 200"
kill -USR1 "$BROKER_PID"
wait_code /readyz 503 40
grep -q "no Kafka broker reachable" "$AV_TMP/body" || av_fail "503 without the broker reason: $(cat "$AV_TMP/body")"
[ "$(http_code /healthz)" = 200 ] || av_fail "/healthz failed during the broker outage"
kill -USR2 "$BROKER_PID"
wait_code /readyz 200 60
stop_consumer "$CONSUMER_PID" 20
[ "$RC" = 0 ] || av_fail "consumer exited $RC"
assert_no_errors c1
echo "metrics: all checks passed"
