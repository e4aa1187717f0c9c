# shellcheck shell=bash
# RC is read by the tests that source this file.
# shellcheck disable=SC2034
# consume_common.sh - helpers for tests/integration/test_consume_*.sh (sourced,
# not a test).
#
# Starts nothing by itself. consume_env starts the support processes every
# consumer test needs (redis-server, the support HTTP server over a folder of
# copies of the conformance DBs, WinApi1024 and dumps) and writes a
# configuration; the tests start the broker with their own topics and the
# `apivector consume` processes, all tracked by lib.sh and stopped at exit.
source "$AV_SOURCE_DIR/tests/support/lib.sh"

APIVECTOR=${AV_APIVECTOR:-$AV_BUILD_DIR/consumer/apivector}
CHECK="$AV_PYTHON $AV_SOURCE_DIR/tests/integration/consume_check.py"
[ -x "$APIVECTOR" ] || av_fail "apivector not built: $APIVECTOR"
av_tmpdir
WWW="$AV_TMP/www"
# Short group timings: the mock coordinator makes a rejoin wait
# session.timeout.ms - 1 s (see tests/support/lib.sh's broker notes).
KAFKA_TEST_PROPS=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500
    -X statistics.interval.ms=1000 -X topic.metadata.refresh.interval.ms=2000)

# consume_env [KEY=JSON ...]: redis, HTTP support server, $AV_TMP/config.json.
consume_env() {
    mkdir -p "$WWW"
    $CHECK www "$WWW"
    av_start_redis
    av_start_http "$WWW"
    $CHECK config "$AV_TMP/config.json" "$HTTP_URL" "$REDIS_PORT" "$@"
}

# consume_start NAME [args...]: starts a consumer in the background with
# the test configuration; its stderr (JSON log lines) goes to $AV_TMP/NAME.log
# and stdout to $AV_TMP/NAME.out. Sets CONSUMER_PID.
consume_start() {
    local name=$1
    shift
    "$APIVECTOR" consume --config "$AV_TMP/config.json" -X "bootstrap.servers=$KAFKA_BOOTSTRAP" \
        "${KAFKA_TEST_PROPS[@]}" "$@" >"$AV_TMP/$name.out" 2>"$AV_TMP/$name.log" &
    CONSUMER_PID=$!
    av_track "$CONSUMER_PID"
}

# consume_run NAME TIMEOUT [args...]: runs a consumer in the foreground (e.g.
# --until-end) and sets RC to its exit status.
consume_run() {
    local name=$1 limit=$2
    shift 2
    RC=0
    timeout "$limit" "$APIVECTOR" consume --config "$AV_TMP/config.json" \
        -X "bootstrap.servers=$KAFKA_BOOTSTRAP" "${KAFKA_TEST_PROPS[@]}" "$@" \
        >"$AV_TMP/$name.out" 2>"$AV_TMP/$name.log" || RC=$?
}

# produce TOPIC FILE: the "key<TAB>value" lines of FILE as keyed messages.
produce() {
    kcat -b "$KAFKA_BOOTSTRAP" -P -t "$1" -K $'\t' -X message.timeout.ms=10000 <"$2" ||
        av_fail "producing $2 to $1 failed"
}

# read_topic TOPIC OUT: every record of TOPIC as kcat -J lines.
read_topic() {
    timeout 20 kcat -b "$KAFKA_BOOTSTRAP" -C -t "$1" -o beginning -e -q -J >"$2" 2>/dev/null ||
        av_fail "reading topic $1 failed"
}

# count_topic TOPIC SCHEMA: records of TOPIC whose value has this schema.
count_topic() {
    timeout 20 kcat -b "$KAFKA_BOOTSTRAP" -C -t "$1" -o beginning -e -q -f '%s\n' 2>/dev/null |
        grep -c "\"schema\":\"$2\"" || true
}

# wait_count TOPIC SCHEMA N SECONDS: waits until TOPIC holds >= N such records.
wait_count() {
    local i got
    for i in $(seq 1 "$4"); do
        got=$(count_topic "$1" "$2")
        [ "$got" -ge "$3" ] && return 0
        sleep 1
    done
    av_fail "$1 holds $got $2 record(s) after $4 s, expected $3"
}

# log_count NAME PATTERN: log lines of consumer NAME matching PATTERN.
log_count() {
    grep -c "$2" "$AV_TMP/$1.log" || true
}

# assert_no_errors NAME: the consumer logged no error-level line (and, in a
# sanitizer build, no sanitizer report).
assert_no_errors() {
    if grep -q 'Sanitizer\|runtime error:' "$AV_TMP/$1.log"; then
        head -30 "$AV_TMP/$1.log" >&2
        av_fail "consumer $1: sanitizer report"
    fi
    if grep -q '"level":"error"' "$AV_TMP/$1.log"; then
        grep '"level":"error"' "$AV_TMP/$1.log" | head -5 >&2
        av_fail "consumer $1 logged errors"
    fi
}

# stop_consumer PID SECONDS: SIGTERM, waits up to SECONDS, sets RC.
stop_consumer() {
    local pid=$1 limit=$2
    kill -TERM "$pid"
    for _ in $(seq 1 $((limit * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && av_fail "consumer $pid still runs $limit s after SIGTERM"
    RC=0
    wait "$pid" || RC=$?
}
