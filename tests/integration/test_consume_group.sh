#!/usr/bin/env bash
# test_consume_group.sh - two consumers share a 6-partition topic in one group
# (cooperative-sticky), one is killed with SIGKILL mid-run and restarted, and
# every input event still gets its result.
#
#   1. c1 joins alone and gets the 6 partitions; c2 joins: c1 gives up only
#      some of them (an incremental, cooperative revoke: c1 logs "revoked"
#      with fewer than 6 and keeps consuming) and c2 gets the rest;
#   2. 120 events whose dumps the support server serves with a 300 ms delay
#      (so the run lasts several seconds); when 30 results are out, c2 is
#      killed with SIGKILL and started again as c3;
#   3. every event has a correct result (duplicates allowed: c2's
#      uncommitted work is redone by its successor; the count is printed),
#      no dead letter, every record valid; c1 and c3 exit 0 on SIGTERM.
source "$AV_SOURCE_DIR/tests/integration/consume_common.sh"

N=120
av_start_broker apivector.dumps:6 apivector.results:6 apivector.dlq:1
consume_env workers=2
for f in "$WWW"/dumps/*.bin; do
    curl -fsS -X POST -d "{\"path\": \"/dumps/$(basename "$f")\", \"delay_ms\": 300}" \
        "$HTTP_URL/_control" >/dev/null || av_fail "cannot set the server's delay"
done

# wait_log NAME PATTERN SECONDS
wait_log() {
    for _ in $(seq 1 $(($3 * 10))); do
        grep -q "$2" "$AV_TMP/$1.log" && return 0
        sleep 0.1
    done
    av_fail "$1 did not log '$2' within $3 s"
}

echo "1. c1 alone, then c2 joins (cooperative rebalance)"
consume_start c1
c1=$CONSUMER_PID
wait_log c1 '"msg":"assigned 6 partition' 20
consume_start c2
c2=$CONSUMER_PID
wait_log c2 '"msg":"assigned [1-5] partition' 30
wait_log c1 '"msg":"revoked [1-5] partition' 5
grep -q '"msg":"revoked 6 partition' "$AV_TMP/c1.log" && av_fail "c1 gave up all partitions (eager?)"
grep '"msg":"assigned\|"msg":"revoked' "$AV_TMP/c1.log" "$AV_TMP/c2.log" | sed 's/.*"msg":"\([^"]*\)".*/   \1/'

echo "2. $N events; SIGKILL c2 mid-run, restart it"
$CHECK events "$AV_TMP/events.tsv" $N --via http --http "$HTTP_URL"
produce apivector.dumps "$AV_TMP/events.tsv"
wait_count apivector.results apivector.result.v1 30 60
{
    kill -KILL "$c2"
    wait "$c2"
} 2>/dev/null || true
killed_at=$(count_topic apivector.results apivector.result.v1)
[ "$killed_at" -lt $N ] || av_fail "the run was over before the kill ($killed_at results)"
echo "   c2 killed with $killed_at results out"
consume_start c3
c3=$CONSUMER_PID

echo "3. every event has its result"
for _ in $(seq 1 60); do
    read_topic apivector.results "$AV_TMP/results.json"
    if $CHECK results "$AV_TMP/results.json" "$AV_TMP/events.tsv" >"$AV_TMP/check.txt" 2>&1; then
        break
    fi
    sleep 1
done
cat "$AV_TMP/check.txt"
grep -q '^results=' "$AV_TMP/check.txt" || av_fail "events without results after the kill"
echo "   duplicates: $(sed 's/.*duplicates=//' "$AV_TMP/check.txt")"
$CHECK validate "$AV_TMP/results.json"
[ "$(count_topic apivector.dlq apivector.dead-letter.v1)" = 0 ] || av_fail "dead letters"
for pid in $c1 $c3; do
    stop_consumer "$pid" 25
    [ "$RC" = 0 ] || av_fail "consumer $pid exited $RC on SIGTERM"
done
assert_no_errors c1
assert_no_errors c3

echo "PASS test_consume_group"
