#!/usr/bin/env bash
# test_pipeline.sh - the consumer's pipeline (consumer/pipeline*.c) end to end
# without Kafka: real redis-server, the support HTTP server serving the
# conformance DBs and dumps, file:// dumps, and pipeline-tool feeding events.
#
#  1. every conformance case an event can express (one DB; the engine options
#     a consumer takes from its configuration: three configuration groups)
#     gives exactly one result event equal to the case's expected primary
#     vector, counts, confidence and filtered API list, once with a file://
#     and once with an http:// dump; skipped cases are printed with why;
#  2. matching: a passing result has one match event per collection (two
#     configured + Malpedia's, fetched with its Authorization header) equal to
#     what `apivector match --collection --json` computes; the oracle
#     collection (each case's own vector as family case.<name>) puts the
#     case's family first at score 1.0; a low confidence gives match_skipped;
#  3. the same input gives the same records with 1 and 4 threads, and with a
#     DB cached under the other ignore_aslr setting in the same Redis;
#  4. vectors-only events: match events with source "event", no dump pulled;
#  5. each permanent error class -> exactly one dead letter with its code;
#  6. transient errors: a support-server 500 -> failed, then a result on the
#     next attempt; support server down -> failed, then a transient dead
#     letter at max_attempts; a DB past its TTL with the origin down -> a
#     result marked stale;
#  7. every record validates against its JSON schema.
set -euo pipefail
source "$AV_SOURCE_DIR/tests/support/lib.sh"

TOOL="$AV_BUILD_DIR/tests/support/pipeline-tool"
CHECK="$AV_PYTHON $AV_SOURCE_DIR/tests/integration/pipeline_check.py"
[ -x "$TOOL" ] || av_fail "pipeline-tool not built: $TOOL"
[ -x "${AV_APIVECTOR:-}" ] || av_fail "AV_APIVECTOR does not name the apivector binary"
export AV_APIVECTOR
T0=$(date +%s%N)

av_tmpdir
D="$AV_TMP/pipeline"
mkdir -p "$D/www"
av_start_redis
av_start_http "$D/www"
$CHECK prepare "$D" "$HTTP_URL" "$REDIS_PORT"
$CHECK prepare-errors "$D" "$HTTP_URL" "$REDIS_PORT"

control() {
    curl -fsS -X POST -d "$1" "$HTTP_URL/_control" >/dev/null
}

# run NAME CONFIG EVENTS [tool args]: pipeline-tool's lines into $D/out.NAME
run() {
    local name=$1 cfg=$2 events=$3
    shift 3
    "$TOOL" --config "$D/config.$cfg.json" "$@" <"$events" >"$D/out.$name" 2>"$D/err.$name" || {
        cat "$D/err.$name" >&2
        av_fail "pipeline-tool failed on $name"
    }
}

# Malpedia's collection answers only with the right key.
control '{"path": "/malpedia/csv", "require_header": ["Authorization", "apitoken pipeline-test-key"]}'

# 1-3: conformance cases, matching, determinism
for g in aslr32 noaslr32 aslr0; do
    run "$g" "$g" "$D/events.$g.jsonl"
    $CHECK check-cases "$D" "$g" "$D/out.$g"
done
run aslr32.t4 aslr32 "$D/events.aslr32.jsonl" --threads 4
$CHECK same "$D/out.aslr32" "$D/out.aslr32.t4"
# noaslr32 again, now that Redis holds the same DB packed for ignore_aslr=false
run noaslr32.again noaslr32 "$D/events.noaslr32.jsonl" --threads 2 --stats
$CHECK same "$D/out.noaslr32" "$D/out.noaslr32.again"
# a second process finds every artifact in Redis: nothing from the origin
fetched=$($CHECK stat "$D/out.noaslr32.again" origin_fetches)
from_redis=$($CHECK stat "$D/out.noaslr32.again" redis_hits)
[ "$fetched" = 0 ] && [ "$from_redis" -ge 4 ] ||
    av_fail "second process: origin_fetches=$fetched redis_hits=$from_redis (want 0 and >= 4)"
echo "ok - a second process took WinApi1024, the DB and both collections from Redis"

# 4: vectors only
run vectors noaslr32 "$D/events.vectors.jsonl"
$CHECK check-vectors "$D" "$D/out.vectors"

# 5: permanent errors
run errors errors "$D/events.errors.jsonl"
$CHECK check-outcomes "$D/out.errors" "$D/expect.errors.json"
# the vm_name with a path never reached the support server
requests=$(curl -fsS "$HTTP_URL/_stats")
case "$requests" in
    *secret* | *leak*) av_fail "a vm_name with a path was fetched: $requests" ;;
esac
echo "ok - a vm_name with a path never reached the support server"

# 6: transient errors
ev() { # ev ID VM URL
    printf '{"schema":"apivector.dump-ready.v1","event_id":"%s","vm_name":"%s","dump":{"url":"%s"}}\n' "$1" "$2" "$3"
}
TOY="file://$(realpath "$CONFORMANCE_DIR/dumps/toy.bin")"
expect() { # expect NAME JSON
    echo "$2" >"$D/expect.$1.json"
    $CHECK check-outcomes "$D/out.$1" "$D/expect.$1.json"
}

control '{"path": "/apiscout/flaky.json", "status": 500, "times": 1}'
ev flaky1 flaky "$TOY" >"$D/events.flaky"
run flaky.1 transient "$D/events.flaky" --attempt 1
expect flaky.1 '[{"what": "DB answers 500, attempt 1 of 3", "code": "artifact_unavailable", "failed": 1}]'
run flaky.2 transient "$D/events.flaky" --attempt 2
expect flaky.2 '[{"what": "DB back, attempt 2", "result": true, "stale": false}]'
FLAKY_AT=$(date +%s%N)

control '{"path": "/dumps/toy.bin", "status": 503, "times": 1}'
ev dump503 toy_db "$HTTP_URL/dumps/toy.bin" >"$D/events.dump503"
run dump503 transient "$D/events.dump503"
expect dump503 '[{"what": "dump answers 503", "code": "dump_unavailable", "failed": 1}]'

av_stop "$HTTP_PID"
ev cold1 coldvm "$TOY" >"$D/events.cold"
run cold.1 transient "$D/events.cold" --attempt 1
expect cold.1 '[{"what": "support server down, uncached DB, attempt 1", "code": "artifact_unavailable", "failed": 1}]'
run cold.3 transient "$D/events.cold" --attempt 3 --key k-cold
expect cold.3 '[{"what": "support server down, attempt 3 = max_attempts", "code": "artifact_unavailable", "dlq": true, "transient": true, "attempts": 3, "event_id": "cold1", "key": "k-cold", "message_has": ["gave up after 3 attempts", "coldvm"]}]'

# the flaky DB was fetched more than its 1 s TTL ago: served stale
now=$(date +%s%N)
wait_ms=$((1200 - (now - FLAKY_AT) / 1000000))
[ "$wait_ms" -gt 0 ] && sleep "$(printf '0.%03d' "$wait_ms")"
ev stale1 flaky "$TOY" >"$D/events.stale"
ev stale2 flaky "$HTTP_URL/dumps/toy.bin" >>"$D/events.stale"
run stale transient "$D/events.stale"
expect stale '[{"what": "DB past its TTL, origin down", "result": true, "stale": true},
               {"what": "cached DB, dump server down", "code": "dump_unavailable", "failed": 1}]'

# 7: schemas
$CHECK validate "$D"/out.*
echo "PASS test_pipeline ($(( ($(date +%s%N) - T0) / 1000000 )) ms)"
