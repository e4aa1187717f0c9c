#!/usr/bin/env bash
# test_consume_basic.sh - `apivector consume` end to end: N valid dump-ready
# events in, exactly N correct result events out, offsets committed to the end.
#
# Real processes on loopback: the test broker, redis-server, the support HTTP
# server (conformance DBs, WinApi1024, an oracle collection, dumps) and the
# consumer binary; events produced and results read with kcat.
#   1. 40 events with file:// dumps and 20 with HTTP dumps (sha256 given) on a
#      3-partition topic -> exactly one result event per event, whose vector,
#      counts and confidence equal the conformance case's expected primary
#      vector; above min_confidence a match event with the case's own family
#      first at score 1.0, below it match_skipped; every produced record valid
#      against its schema; no dead letter; no error logged
#   2. SIGTERM -> exit 0
#   3. the committed offsets are the ends of the partitions: a restarted
#      consumer with --until-end consumes nothing, says so and exits 0
source "$AV_SOURCE_DIR/tests/integration/consume_common.sh"

NFILE=40
NHTTP=20
N=$((NFILE + NHTTP))
av_start_broker apivector.dumps:3 apivector.results:3 apivector.dlq:1
consume_env

echo "1. $N events -> $N correct results"
$CHECK events "$AV_TMP/file.tsv" $NFILE --prefix f
$CHECK events "$AV_TMP/http.tsv" $NHTTP --prefix h --via http --http "$HTTP_URL" --start $NFILE
cat "$AV_TMP/file.tsv" "$AV_TMP/http.tsv" >"$AV_TMP/events.tsv"
produce apivector.dumps "$AV_TMP/events.tsv"
start=$(date +%s.%N)
consume_start c1
wait_count apivector.results apivector.result.v1 $N 60
end=$(date +%s.%N)
sleep 2 # a duplicate or a stray record would show up by now
read_topic apivector.results "$AV_TMP/results.json"
read_topic apivector.dlq "$AV_TMP/dlq.json"
$CHECK results "$AV_TMP/results.json" "$AV_TMP/events.tsv" --exact
$CHECK matches "$AV_TMP/results.json" "$AV_TMP/events.tsv"
$CHECK validate "$AV_TMP/results.json" "$AV_TMP/dlq.json"
$CHECK dlq "$AV_TMP/dlq.json"
[ "$(log_count c1 '"msg":"processed')" = $N ] || av_fail "c1 did not log $N processed events"
assert_no_errors c1
echo "   $N events processed in $(echo "$end - $start" | bc) s (group join included)"

echo "2. SIGTERM -> exit 0"
stop_consumer "$CONSUMER_PID" 20
[ "$RC" = 0 ] || av_fail "consumer exited $RC on SIGTERM"
grep -q '"msg":"closing the consumer' "$AV_TMP/c1.log" || av_fail "consumer did not close"

echo "3. committed offsets are at the end: --until-end consumes nothing"
consume_run c2 60 --until-end
[ "$RC" = 0 ] || av_fail "--until-end exited $RC: $(tail -3 "$AV_TMP/c2.log")"
$CHECK summary "$(cat "$AV_TMP/c2.out")" consumed=0 results=0 complete=true
grep -- '--until-end: starts at' "$AV_TMP/c2.log" |
    sed -n 's/.*starts at \([0-9]*\), ends at \([0-9]*\).*/\1 \2/p' >"$AV_TMP/positions.txt"
[ "$(wc -l <"$AV_TMP/positions.txt")" = 3 ] || av_fail "expected 3 partitions accounted for"
awk '$1 != $2 {exit 1}' "$AV_TMP/positions.txt" ||
    av_fail "a committed offset is not its partition's end: $(cat "$AV_TMP/positions.txt")"
[ "$(awk '{s += $2} END {print s}' "$AV_TMP/positions.txt")" = $N ] ||
    av_fail "the partition ends do not add up to $N: $(cat "$AV_TMP/positions.txt")"
assert_no_errors c2
[ "$(count_topic apivector.results apivector.result.v1)" = $N ] || av_fail "results changed"

echo "PASS test_consume_basic"
