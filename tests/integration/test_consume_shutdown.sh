#!/usr/bin/env bash
# test_consume_shutdown.sh - SIGTERM drains, commits exactly what was
# acknowledged and exits 0 in time; a second signal abandons in-flight work
# without a wrong commit.
#
#   1. 60 events whose dumps the support server serves with a 200 ms delay,
#      at most 4 in flight (backpressure pauses and resumes the partitions,
#      seen in the debug log); SIGTERM once
#      15 results are out -> exit 0 within shutdown_timeout_ms (15 s), the log
#      shows the drain and the group being left. Then a consumer with
#      --until-end consumes exactly the events without a result and nothing
#      else: N results for N distinct event ids, no duplicate. So the
#      committed offsets matched the acknowledged results exactly.
#   2. 30 more events with a 2 s delay; SIGTERM, and a second SIGTERM 0.5 s
#      later -> exit 0 within 5 s although work was in flight; after a restart
#      with --until-end every event has its result (the abandoned ones are
#      redone: duplicates allowed, none missing).
source "$AV_SOURCE_DIR/tests/integration/consume_common.sh"

N1=60
N2=30
av_start_broker apivector.dumps:3 apivector.results:3 apivector.dlq:1
consume_env max_inflight_events=4 workers=2 shutdown_timeout_ms=15000

# delay_dumps MS: the support server delays every dump by MS.
delay_dumps() {
    local f
    for f in "$WWW"/dumps/*.bin; do
        curl -fsS -X POST -d "{\"path\": \"/dumps/$(basename "$f")\", \"delay_ms\": $1}" \
            "$HTTP_URL/_control" >/dev/null || av_fail "cannot set the server's delay"
    done
}

# wait_exit PID SECONDS: waits for PID to exit; sets RC and ELAPSED.
wait_exit() {
    local pid=$1 limit=$2 start
    start=$(date +%s%N)
    for _ in $(seq 1 $((limit * 20))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && av_fail "consumer still runs $limit s after the signal"
    ELAPSED=$((($(date +%s%N) - start) / 1000000))
    RC=0
    wait "$pid" || RC=$?
}

echo "1. SIGTERM mid-run: drain, commit, exit 0"
delay_dumps 200
$CHECK events "$AV_TMP/e1.tsv" $N1 --via http --http "$HTTP_URL"
produce apivector.dumps "$AV_TMP/e1.tsv"
consume_start c1 --log-level debug
wait_count apivector.results apivector.result.v1 15 60
kill -TERM "$CONSUMER_PID"
wait_exit "$CONSUMER_PID" 15
[ "$RC" = 0 ] || av_fail "exit status $RC after SIGTERM"
grep -q '"msg":"stopping: ' "$AV_TMP/c1.log" || av_fail "no drain logged"
grep -q '"msg":"closing the consumer' "$AV_TMP/c1.log" || av_fail "the group was not left"
grep -q '"msg":"paused"' "$AV_TMP/c1.log" || av_fail "backpressure never paused a partition"
grep -q '"msg":"resumed"' "$AV_TMP/c1.log" || av_fail "backpressure never resumed a partition"
done1=$(count_topic apivector.results apivector.result.v1)
[ "$done1" -lt $N1 ] || av_fail "all $N1 events were done before SIGTERM: nothing tested"
echo "   exit 0 after $ELAPSED ms with $done1 of $N1 results out"
delay_dumps 0
consume_run c2 60 --until-end
[ "$RC" = 0 ] || av_fail "--until-end exited $RC"
$CHECK summary "$(cat "$AV_TMP/c2.out")" consumed=$((N1 - done1)) complete=true
read_topic apivector.results "$AV_TMP/results1.json"
$CHECK results "$AV_TMP/results1.json" "$AV_TMP/e1.tsv" --exact
assert_no_errors c1
assert_no_errors c2

echo "2. two signals: abandon in-flight work, exit 0 at once, nothing lost"
delay_dumps 2000
$CHECK events "$AV_TMP/e2.tsv" $N2 --prefix s --via http --http "$HTTP_URL" --start $N1
produce apivector.dumps "$AV_TMP/e2.tsv"
consume_start c3
wait_count apivector.results apivector.result.v1 $((N1 + 2)) 60
kill -TERM "$CONSUMER_PID"
sleep 0.5
kill -TERM "$CONSUMER_PID"
wait_exit "$CONSUMER_PID" 5
[ "$RC" = 0 ] || av_fail "exit status $RC after two signals"
grep -q 'abandoning in-flight work' "$AV_TMP/c3.log" || av_fail "second signal not seen"
echo "   exit 0 after $ELAPSED ms"
delay_dumps 0
consume_run c4 60 --until-end
[ "$RC" = 0 ] || av_fail "--until-end exited $RC"
cat "$AV_TMP/e1.tsv" "$AV_TMP/e2.tsv" >"$AV_TMP/all.tsv"
read_topic apivector.results "$AV_TMP/results2.json"
$CHECK results "$AV_TMP/results2.json" "$AV_TMP/all.tsv"
[ "$(count_topic apivector.dlq apivector.dead-letter.v1)" = 0 ] || av_fail "dead letters"

echo "PASS test_consume_shutdown"
