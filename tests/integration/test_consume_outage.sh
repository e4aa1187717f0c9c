#!/usr/bin/env bash
# test_consume_outage.sh - outages of the support server and of the Kafka
# brokers lose nothing and dead-letter nothing.
#
#   1. support server down for 10 s while 12 events whose dumps it serves
#      arrive: the consumer retries them with backoff (the partitions pause,
#      the log shows dump_unavailable retries), the server comes back on the
#      same port, every event is processed exactly once, no dead letter;
#   2. broker outage: 60 events are produced at 10/s; 2 s in, SIGUSR1 takes
#      every broker down for 10 s, then SIGUSR2 brings them back. Events
#      produced during the outage wait in kcat's queue (-E: kcat must not quit
#      when all brokers are down). Every event ends up
#      with its result (duplicates allowed: the consumer's group session may
#      expire during the outage, and uncommitted work is then redone), no
#      dead letter, no error logged, and a clean exit on SIGTERM.
source "$AV_SOURCE_DIR/tests/integration/consume_common.sh"

av_start_broker apivector.dumps:3 apivector.results:3 apivector.dlq:1
consume_env max_attempts=12 retry_backoff_ms=500 retry_backoff_max_ms=3000 \
    http_connect_timeout_ms=500

echo "1. support server outage"
$CHECK events "$AV_TMP/a.tsv" 10 --prefix a --via http --http "$HTTP_URL"
$CHECK events "$AV_TMP/b.tsv" 12 --prefix b --via http --http "$HTTP_URL" --start 10
produce apivector.dumps "$AV_TMP/a.tsv"
consume_start c1
wait_count apivector.results apivector.result.v1 10 40
av_stop "$HTTP_PID"
! (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null || av_fail "support server still up"
produce apivector.dumps "$AV_TMP/b.tsv"
sleep 10
[ "$(count_topic apivector.results apivector.result.v1)" = 10 ] ||
    av_fail "results appeared while the support server was down"
"$AV_PYTHON" "$AV_SOURCE_DIR/tests/support/http_server.py" --port "$HTTP_PORT" --root "$WWW" \
    >"$AV_TMP/http2.log" 2>&1 &
HTTP_PID=$!
av_track "$HTTP_PID"
av_wait_port "$HTTP_PORT"
wait_count apivector.results apivector.result.v1 22 40
retries=$(grep '"error_code":"dump_unavailable"' "$AV_TMP/c1.log" | grep -c 'will retry' || true)
[ "$retries" -gt 0 ] || av_fail "the consumer never noticed the outage"
read_topic apivector.results "$AV_TMP/results1.json"
cat "$AV_TMP/a.tsv" "$AV_TMP/b.tsv" >"$AV_TMP/ab.tsv"
$CHECK results "$AV_TMP/results1.json" "$AV_TMP/ab.tsv" --exact
[ "$(count_topic apivector.dlq apivector.dead-letter.v1)" = 0 ] || av_fail "dead letters"
echo "   $retries retries of dump_unavailable during the outage"

echo "2. broker outage (SIGUSR1 10 s, SIGUSR2) during a stream of 60 events"
$CHECK events "$AV_TMP/c.tsv" 60 --prefix c --start 22
(
    while IFS= read -r line; do
        printf '%s\n' "$line"
        sleep 0.1
    done <"$AV_TMP/c.tsv"
) | kcat -b "$KAFKA_BOOTSTRAP" -P -E -t apivector.dumps -K $'\t' -X message.timeout.ms=60000 \
    2>"$AV_TMP/slowproducer.err" &
producer=$!
av_track "$producer"
sleep 2
kill -USR1 "$BROKER_PID"
sleep 10
kill -USR2 "$BROKER_PID"
wait "$producer" || av_fail "the producer lost messages: $(tail -3 "$AV_TMP/slowproducer.err")"
cat "$AV_TMP/ab.tsv" "$AV_TMP/c.tsv" >"$AV_TMP/all.tsv"
for _ in $(seq 1 60); do
    read_topic apivector.results "$AV_TMP/results2.json"
    if $CHECK results "$AV_TMP/results2.json" "$AV_TMP/all.tsv" >"$AV_TMP/check.txt" 2>&1; then
        break
    fi
    sleep 1
done
cat "$AV_TMP/check.txt"
grep -q '^results=' "$AV_TMP/check.txt" || av_fail "events lost in the broker outage"
[ "$(count_topic apivector.dlq apivector.dead-letter.v1)" = 0 ] || av_fail "dead letters"
$CHECK validate "$AV_TMP/results2.json"
stop_consumer "$CONSUMER_PID" 25
[ "$RC" = 0 ] || av_fail "consumer exited $RC on SIGTERM"
assert_no_errors c1

echo "PASS test_consume_outage"
