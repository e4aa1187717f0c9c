#!/usr/bin/env bash
# test_fetch_degraded.sh - the artifact store when Redis or the origin fails.
#
# Proves: Redis closing an idle pooled connection costs a reconnect, not an
# error; Redis killed while a consumer runs -> the next fetch still works,
# straight from the origin, and the redis_errors counter and a log line say
# so; origin 500 after the TTL -> the stale copy is served with stale=1, from
# Redis to a new process and from memory to a process without Redis; Redis and
# origin both down with nothing cached -> a transient error (exit 7).
set -euo pipefail
source "$AV_SOURCE_DIR/tests/integration/fetch_common.sh"

for n in a b c d e; do
    head -c 20000 /dev/urandom | base64 >"$WWW/apiscout/$n.json"
done
av_start_redis
av_start_http "$WWW"

# start_tool OUT args...: runs fetch-tool --interactive as a coprocess whose
# rounds are driven by round() and recorded in OUT.
start_tool() {
    ROUND_OUT=$1
    shift
    coproc TOOL { "$FETCH_TOOL" "$@" --interactive 2>"$ROUND_OUT.err"; }
    # bash unsets TOOL_PID when the coprocess ends: keep a copy.
    tool_pid=$TOOL_PID
    av_track "$tool_pid"
    exec {TOOL_IN}>&"${TOOL[1]}" {TOOL_OUT}<&"${TOOL[0]}"
}
# round LINE: sends one stdin line and records the round's request and stats lines.
round() {
    echo "$1" >&"$TOOL_IN"
    read -r -t 20 line <&"$TOOL_OUT" || av_fail "no answer from fetch-tool"
    echo "$line" >>"$ROUND_OUT"
    read -r -t 20 stats <&"$TOOL_OUT" || av_fail "no stats from fetch-tool"
    echo "$stats" >>"$ROUND_OUT"
}
stop_tool() {
    echo quit >&"$TOOL_IN"
    wait "$tool_pid" || av_fail "fetch-tool exited with $?"
    exec {TOOL_IN}>&- {TOOL_OUT}<&-
}

echo "1. Redis killed mid-run"
start_tool "$AV_TMP/1" --url "$HTTP_URL/apiscout/a.json" --name a --redis-port "$REDIS_PORT"
round ""
expect "first from origin" "$(field "$AV_TMP/1" 0 tier)" origin "$AV_TMP/1"
expect "no redis errors yet" "$(stat "$AV_TMP/1" redis_errors)" 0 "$AV_TMP/1"
# Redis drops the tool's idle pooled connection (as an idle timeout would): a
# reconnect, not an outage.
killed=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" client kill type normal)
[ "$killed" -ge 1 ] || av_fail "no client connection to kill: $killed"
round "b $HTTP_URL/apiscout/b.json"
expect "b works" "$(field "$AV_TMP/1" 1 status)" ok "$AV_TMP/1"
expect "no redis error on reconnect" "$(stat "$AV_TMP/1" redis_errors)" 0 "$AV_TMP/1"
expect "b stored in Redis" "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" exists apivector:v1:test:b)" 1
av_stop "$REDIS_PID"
round "c $HTTP_URL/apiscout/c.json"
expect "c works" "$(field "$AV_TMP/1" 2 status)" ok "$AV_TMP/1"
expect "c from origin" "$(field "$AV_TMP/1" 2 tier)" origin "$AV_TMP/1"
expect "c content" "$(field "$AV_TMP/1" 2 sha256)" "$(sha_of "$WWW/apiscout/c.json")" "$AV_TMP/1"
errors=$(stat "$AV_TMP/1" redis_errors)
[ "$errors" -ge 1 ] || av_fail "redis_errors is $errors after Redis died"
round ""
expect "a still served" "$(field "$AV_TMP/1" 3 status)" ok "$AV_TMP/1"
stop_tool
contains "logged once" "$AV_TMP/1.err" "Redis unavailable"
expect "log lines" "$(grep -c 'Redis unavailable' "$AV_TMP/1.err")" 1
ok "idle connection dropped: reconnect; Redis killed: origin direct, counted ($errors errors), logged once"

echo "2. origin 500 -> stale copy from Redis"
av_start_redis
R=(--redis-port "$REDIS_PORT")
C_SHA=$(sha_of "$WWW/apiscout/e.json")
fetch "$AV_TMP/2" --url "$HTTP_URL/apiscout/e.json" --name e "${R[@]}" --ttl 1
expect "warm-up" "$(field "$AV_TMP/2" 0 tier)" origin "$AV_TMP/2"
control '{"path": "/apiscout/e.json", "status": 500}'
sleep 1.2
fetch "$AV_TMP/2b" --url "$HTTP_URL/apiscout/e.json" --name e "${R[@]}" --ttl 1 --retries 2 \
    --backoff-base-ms 20
expect "exit" "$RC" 0 "$AV_TMP/2b"
expect "stale" "$(field "$AV_TMP/2b" 0 stale)" 1 "$AV_TMP/2b"
expect "tier" "$(field "$AV_TMP/2b" 0 tier)" redis "$AV_TMP/2b"
expect "origin status" "$(field "$AV_TMP/2b" 0 origin_status)" 500 "$AV_TMP/2b"
expect "content" "$(count "$AV_TMP/2b" sha256="$C_SHA" content_ok=1)" 1 "$AV_TMP/2b"
expect "stale_serves" "$(stat "$AV_TMP/2b" stale_serves)" 1 "$AV_TMP/2b"
expect "origin_errors" "$(stat "$AV_TMP/2b" origin_errors)" 1 "$AV_TMP/2b"
expect "attempts (1 + 2 retries)" "$(served /apiscout/e.json requests)" 4
ok "stale from Redis"

echo "3. origin 500 -> stale copy from the process (no Redis)"
D_SHA=$(sha_of "$WWW/apiscout/d.json")
start_tool "$AV_TMP/3" --url "$HTTP_URL/apiscout/d.json" --name d --ttl 1 --retries -1 \
    --check-interval 100
round ""
control '{"path": "/apiscout/d.json", "status": 503}'
sleep 1.1
round ""
sleep 0.2
round ""
stop_tool
expect "round 0" "$(field "$AV_TMP/3" 0 tier)/$(field "$AV_TMP/3" 0 stale)" origin/0 "$AV_TMP/3"
expect "round 1" "$(field "$AV_TMP/3" 1 tier)/$(field "$AV_TMP/3" 1 stale)" process/1 "$AV_TMP/3"
expect "round 1 status" "$(field "$AV_TMP/3" 1 origin_status)" 503 "$AV_TMP/3"
expect "round 2 still stale" "$(field "$AV_TMP/3" 2 stale)" 1 "$AV_TMP/3"
expect "content" "$(count "$AV_TMP/3" sha256="$D_SHA" content_ok=1)" 3 "$AV_TMP/3"
ok "stale from the process"

echo "4. Redis and origin down, nothing cached -> transient"
dead_redis=$(av_free_port)
dead_http=$(av_free_port)
fetch "$AV_TMP/4" --url "http://127.0.0.1:$dead_http/apiscout/x.json" --name x \
    --redis-port "$dead_redis" --retries 1 --backoff-base-ms 10
expect "exit" "$RC" 7 "$AV_TMP/4"
expect "status" "$(field "$AV_TMP/4" 0 status)" transient "$AV_TMP/4"
contains "names the artifact" "$AV_TMP/4" "test/x"
contains "says nothing cached" "$AV_TMP/4" "no cached copy"
contains "Redis outage logged" "$AV_TMP/4.err" "without Redis"
ok "both down -> transient"

echo "PASS test_fetch_degraded ($PASSED checks)"
