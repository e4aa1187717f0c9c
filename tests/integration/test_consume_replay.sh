#!/usr/bin/env bash
# test_consume_replay.sh - reprocessing a historical topic into other results
# topics with their own groups: --until-end, --from-beginning,
# --from-timestamp.
#
#   1. 100 events; --until-end with group replay-a, 1 worker, into results.a
#      -> exit 0 with the summary {consumed 100, results 100, complete}, and
#      results.a holds exactly 100 correct result events (+ match events);
#   2. the same with group replay-b, 2 workers, into results.b -> the same
#      result and match events per event (timings aside): the output does not
#      depend on the thread count;
#   3. group replay-a again: its offsets are at the end, nothing consumed;
#      with --from-beginning it reprocesses all 100 into results.c;
#   4. --from-timestamp: a bad value is a usage error (exit 2) naming the
#      value; a valid one runs to the end and exits 0. librdkafka 2.0.2's mock
#      broker answers every timestamp lookup with -1 ("no such message"), which
#      apivector reads as "start at the end", so against the test broker
#      nothing is consumed; the lookup's interpretation and the timestamp
#      parsing are unit-tested in tests/unit/test_replay.c.
source "$AV_SOURCE_DIR/tests/integration/consume_common.sh"

N=100
av_start_broker apivector.dumps:3 apivector.results:3 apivector.dlq:1 results.a:3 results.b:3 \
    results.c:3 results.d:3
consume_env
$CHECK events "$AV_TMP/events.tsv" $N
produce apivector.dumps "$AV_TMP/events.tsv"

echo "1. --until-end into results.a, 1 worker"
consume_run a 80 --until-end --group-id replay-a --results-topic results.a --workers 1
[ "$RC" = 0 ] || av_fail "--until-end exited $RC: $(tail -3 "$AV_TMP/a.log")"
cat "$AV_TMP/a.out"
$CHECK summary "$(cat "$AV_TMP/a.out")" consumed=$N results=$N dead_letters=0 complete=true
read_topic results.a "$AV_TMP/a.json"
$CHECK results "$AV_TMP/a.json" "$AV_TMP/events.tsv" --exact
$CHECK matches "$AV_TMP/a.json" "$AV_TMP/events.tsv"
$CHECK validate "$AV_TMP/a.json"
[ "$(count_topic apivector.results apivector.result.v1)" = 0 ] || av_fail "wrote the default topic"
assert_no_errors a

echo "2. the same with 2 workers into results.b: identical outputs"
consume_run b 80 --until-end --group-id replay-b --results-topic results.b --workers 2
[ "$RC" = 0 ] || av_fail "--until-end exited $RC"
read_topic results.b "$AV_TMP/b.json"
$CHECK same "$AV_TMP/a.json" "$AV_TMP/b.json"

echo "3. replay-a again: nothing left; --from-beginning reprocesses"
consume_run a2 60 --until-end --group-id replay-a --results-topic results.c
[ "$RC" = 0 ] || av_fail "--until-end exited $RC"
$CHECK summary "$(cat "$AV_TMP/a2.out")" consumed=0 complete=true
consume_run a3 80 --until-end --from-beginning --group-id replay-a --results-topic results.c
[ "$RC" = 0 ] || av_fail "--from-beginning exited $RC"
$CHECK summary "$(cat "$AV_TMP/a3.out")" consumed=$N results=$N complete=true
read_topic results.c "$AV_TMP/c.json"
$CHECK results "$AV_TMP/c.json" "$AV_TMP/events.tsv" --exact

echo "4. --from-timestamp"
consume_run bad 10 --from-timestamp 2024-02-30T00:00:00Z
[ "$RC" = 2 ] || av_fail "a bad timestamp exited $RC, expected 2"
grep -q "2024-02-30T00:00:00Z.*no such date" "$AV_TMP/bad.log" || av_fail "no reason given"
consume_run ts 60 --until-end --from-timestamp 2024-05-01T00:00:00Z --group-id replay-d \
    --results-topic results.d
[ "$RC" = 0 ] || av_fail "--from-timestamp exited $RC: $(tail -3 "$AV_TMP/ts.log")"
$CHECK summary "$(cat "$AV_TMP/ts.out")" consumed=0 complete=true
grep -- '--until-end: starts at' "$AV_TMP/ts.log" |
    sed -n 's/.*starts at \([0-9]*\), ends at \([0-9]*\).*/\1 \2/p' >"$AV_TMP/positions.txt"
if [ "$(wc -l <"$AV_TMP/positions.txt")" != 3 ] ||
    ! awk '$1 != $2 {exit 1}' "$AV_TMP/positions.txt" ||
    [ "$(awk '{s += $2} END {print s}' "$AV_TMP/positions.txt")" != $N ]; then
    av_fail "the mock's -1 answer was not read as the partitions' ends: $(cat "$AV_TMP/positions.txt")"
fi

echo "PASS test_consume_replay"
