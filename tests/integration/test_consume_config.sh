#!/usr/bin/env bash
# test_consume_config.sh - `apivector consume` configuration handling:
# --check-config, precedence, refused and invalid Kafka properties, usage
# errors, start-up failures, and no secret in any output.
#
#   1. --check-config prints the effective configuration as JSON (exit 0):
#      the command line beats the environment, which beats the file; secrets
#      (-X sasl.password, APIVECTOR_KAFKA_SSL_KEY_PASSWORD, the Malpedia key,
#      a password in support_url) are masked and appear nowhere in the output;
#   2. exit 2 with a message naming the culprit: a refused property
#      (enable.auto.commit, acks, group.id, enable.idempotence=false), an
#      unknown or invalid librdkafka property, an unknown config key, a
#      missing support_url, bad --workers or --log-level, a stray argument,
#      --from-beginning with --from-timestamp; a valid override
#      of a default (partition.assignment.strategy=range) is accepted;
#   3. start-up failure (no WinApi1024 on the support server) -> exit 1 with
#      one JSON error line;
#   4. a running consumer with librdkafka's configuration debug on logs only
#      JSON lines, and the secrets never.
source "$AV_SOURCE_DIR/tests/integration/consume_common.sh"

SASL=sasl-Secret-4711
SSLKEY=sslkey-Secret-0815
MPKEY=malpedia-Secret-42
URLPW=urlpw-Secret-99

# check NAME RC_WANTED [args...]: runs --check-config with the test config.
check() {
    local name=$1 want=$2
    shift 2
    RC=0
    "$APIVECTOR" consume --check-config --config "$AV_TMP/config.json" "$@" \
        >"$AV_TMP/$name.out" 2>"$AV_TMP/$name.err" || RC=$?
    [ "$RC" = "$want" ] || av_fail "$name: exit $RC, expected $want: $(cat "$AV_TMP/$name.err")"
}

# expect_err NAME TEXT: the error output of NAME contains TEXT.
expect_err() {
    grep -qF -- "$2" "$AV_TMP/$1.err" || av_fail "$1: '$2' not in: $(cat "$AV_TMP/$1.err")"
}

no_secrets() {
    local f
    for f in "$@"; do
        if grep -qF -e "$SASL" -e "$SSLKEY" -e "$MPKEY" -e "$URLPW" "$f"; then
            av_fail "a secret leaked into $f"
        fi
    done
}

echo "1. --check-config: precedence and masking"
$CHECK config "$AV_TMP/config.json" "http://user:$URLPW@127.0.0.1:9/" 6379 \
    "group_id=\"from-file\"" "input_topic=\"file.topic\"" "malpedia_apikey=\"$MPKEY\""
APIVECTOR_GROUP_ID=from-env APIVECTOR_INPUT_TOPIC=env.topic \
    APIVECTOR_KAFKA_SSL_KEY_PASSWORD=$SSLKEY check ok 0 --group-id from-cli \
    -X "sasl.password=$SASL" -X partition.assignment.strategy=range
"$AV_PYTHON" - "$AV_TMP/ok.out" <<'PY' || av_fail "check-config output"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["group_id"] == "from-cli", c["group_id"]          # cli > env > file
assert c["input_topic"] == "env.topic", c["input_topic"]   # env > file
assert c["malpedia_apikey"] == "***"
assert c["kafka"]["sasl.password"] == "***"
assert c["kafka"]["ssl.key.password"] == "***"
assert c["kafka"]["partition.assignment.strategy"] == "range"
assert "***@127.0.0.1" in c["support_url"], c["support_url"]
PY
no_secrets "$AV_TMP/ok.out" "$AV_TMP/ok.err"

echo "2. refused and invalid settings: exit 2 naming them"
check auto 2 -X enable.auto.commit=true
expect_err auto "kafka property enable.auto.commit (from -X): cannot be set"
check acks 2 -X acks=1
expect_err acks "kafka property acks (from -X)"
check gid 2 -X group.id=x
expect_err gid "set the group_id key"
APIVECTOR_KAFKA_ENABLE_IDEMPOTENCE=false check idem 2
expect_err idem "kafka property enable.idempotence (from environment)"
check unknown 2 -X no.such.property=1
expect_err unknown "kafka property no.such.property (from -X)"
check invalid 2 -X security.protocol=bogus
expect_err invalid "kafka property security.protocol (from -X)"
APIVECTOR_KAFKA_SSL_KEY_PASSWORD=$SSLKEY check badmax 2 -X message.max.bytes=abc
expect_err badmax "message.max.bytes"
no_secrets "$AV_TMP/badmax.err"
echo '{"support_url": "http://127.0.0.1:9/", "no_such_key": 1}' >"$AV_TMP/bad.json"
RC=0
"$APIVECTOR" consume --check-config --config "$AV_TMP/bad.json" 2>"$AV_TMP/key.err" || RC=$?
[ "$RC" = 2 ] || av_fail "an unknown key exited $RC"
expect_err key "no_such_key"
RC=0
env -u APIVECTOR_SUPPORT_URL "$APIVECTOR" consume --check-config 2>"$AV_TMP/nosupport.err" || RC=$?
[ "$RC" = 2 ] || av_fail "no support_url exited $RC"
expect_err nosupport "support_url"
check workers 2 --workers two
expect_err workers "--workers: expected an integer"
check stray 2 extra-arg
expect_err stray "unexpected argument 'extra-arg'"
check level 2 --log-level loud
expect_err level "log_level"
check replay 2 --from-beginning --from-timestamp 0
expect_err replay "exclude each other"

echo "3. start-up failure: exit 1, one JSON line"
av_start_broker apivector.dumps:1 apivector.results:1 apivector.dlq:1
mkdir -p "$AV_TMP/empty"
av_start_http "$AV_TMP/empty"
$CHECK config "$AV_TMP/config.json" "$HTTP_URL" 1 "redis_host=null" "malpedia_apikey=\"$MPKEY\""
consume_run nowinapi 30 -X "sasl.password=$SASL"
[ "$RC" = 1 ] || av_fail "start-up failure exited $RC, expected 1"
grep '"level":"error"' "$AV_TMP/nowinapi.log" | grep -q 'cannot start: winapi1024' ||
    av_fail "no start-up error logged: $(cat "$AV_TMP/nowinapi.log")"
no_secrets "$AV_TMP/nowinapi.log"

echo "4. a running consumer with librdkafka debug logs: JSON only, no secret"
consume_env "malpedia_apikey=\"$MPKEY\"" "malpedia_url=\"http://127.0.0.1:9/m\""
consume_start run --log-level debug -X debug=conf,generic -X "sasl.password=$SASL"
sleep 6
stop_consumer "$CONSUMER_PID" 20
[ "$RC" = 0 ] || av_fail "consumer exited $RC"
"$AV_PYTHON" -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    assert {"ts", "level", "msg"} <= d.keys(), d
    n += 1
assert n > 20, n
print("   %d JSON log lines" % n)' "$AV_TMP/run.log" || av_fail "non-JSON log output"
grep -q '"component":"rdkafka"' "$AV_TMP/run.log" || av_fail "librdkafka's log is not routed"
no_secrets "$AV_TMP/run.log" "$AV_TMP/run.out"

echo "PASS test_consume_config"
