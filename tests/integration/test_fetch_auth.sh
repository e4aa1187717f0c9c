#!/usr/bin/env bash
# test_fetch_auth.sh - the artifact store against a Redis that requires a
# password (AUTH).
#
# Proves: with the right password the value goes through Redis (a second
# process is served from Redis, no second origin body); a wrong password, or
# none, fails at store creation with a permanent error that names the Redis
# endpoint and "AUTH" but not the password.
set -euo pipefail
source "$AV_SOURCE_DIR/tests/integration/fetch_common.sh"

PW="rpw-$RANDOM$RANDOM"
head -c 10000 /dev/urandom | base64 >"$WWW/apiscout/a.json"
av_start_redis --requirepass "$PW"
av_start_http "$WWW"
T=(--url "$HTTP_URL/apiscout/a.json" --name a --redis-port "$REDIS_PORT"
    --redis-password-env RPW)

echo "1. right password"
RPW="$PW" fetch "$AV_TMP/1" "${T[@]}"
expect "exit" "$RC" 0 "$AV_TMP/1"
expect "tier" "$(field "$AV_TMP/1" 0 tier)" origin "$AV_TMP/1"
expect "redis errors" "$(stat "$AV_TMP/1" redis_errors)" 0 "$AV_TMP/1"
RPW="$PW" fetch "$AV_TMP/1b" "${T[@]}"
expect "second process" "$(field "$AV_TMP/1b" 0 tier)" redis "$AV_TMP/1b"
expect "bodies" "$(served /apiscout/a.json bodies)" 1
key=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning -a "$PW" --scan \
    --pattern 'apivector:v1:test:a')
expect "versioned key" "$key" "apivector:v1:test:a"
ok "AUTH with the right password"

echo "2. wrong password"
RPW="not-$PW" fetch "$AV_TMP/2" "${T[@]}"
expect "exit" "$RC" 8 "$AV_TMP/2"
contains "names AUTH" "$AV_TMP/2" "AUTH rejected"
contains "names the endpoint" "$AV_TMP/2" "127.0.0.1:$REDIS_PORT"
! grep -qF -- "not-$PW" "$AV_TMP/2" "$AV_TMP/2.err" || av_fail "password leaked"
ok "wrong password fails clearly"

echo "3. no password"
fetch "$AV_TMP/3" --url "$HTTP_URL/apiscout/a.json" --name a --redis-port "$REDIS_PORT"
expect "exit" "$RC" 8 "$AV_TMP/3"
contains "says NOAUTH" "$AV_TMP/3" "NOAUTH"
ok "missing password fails clearly"

echo "PASS test_fetch_auth ($PASSED checks)"
