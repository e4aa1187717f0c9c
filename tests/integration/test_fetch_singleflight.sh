#!/usr/bin/env bash
# test_fetch_singleflight.sh - single flight across processes through the
# Redis lock.
#
# Proves: 20 concurrent cold requests for one artifact, from 4 separate
# fetch-tool processes with 5 threads each, all released on the same
# wall-clock millisecond, cause exactly 1 origin download (counted by the
# HTTP server). The origin is made slow (600 ms) so the other processes really
# find the lock taken and wait for the holder's value (lock_waits > 0) rather
# than arriving after it is stored. All 20 get the same content.
set -euo pipefail
source "$AV_SOURCE_DIR/tests/integration/fetch_common.sh"

head -c 3000000 /dev/urandom >"$WWW/apiscout/sf.bin"
SHA=$(sha_of "$WWW/apiscout/sf.bin")
av_start_redis
av_start_http "$WWW"
control '{"path": "/apiscout/sf.bin", "delay_ms": 600, "times": 1}'

start_at=$(($(date +%s%3N) + 800))
pids=()
for p in 1 2 3 4; do
    "$FETCH_TOOL" --url "$HTTP_URL/apiscout/sf.bin" --name sf --redis-port "$REDIS_PORT" \
        --threads 5 --start-at "$start_at" >"$AV_TMP/p$p" 2>"$AV_TMP/p$p.err" &
    pids+=($!)
    av_track $!
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { cat "$AV_TMP/p$((i + 1))"*; av_fail "fetch-tool $((i + 1)) failed"; }
done
cat "$AV_TMP"/p1 "$AV_TMP"/p2 "$AV_TMP"/p3 "$AV_TMP"/p4 >"$AV_TMP/all"

expect "ok answers" "$(count "$AV_TMP/all" status=ok sha256="$SHA" content_ok=1)" 20 "$AV_TMP/all"
expect "origin answers" "$(count "$AV_TMP/all" tier=origin)" 1 "$AV_TMP/all"
expect "origin bodies" "$(served /apiscout/sf.bin bodies)" 1
expect "origin requests" "$(served /apiscout/sf.bin requests)" 1
ok "20 requests from 4 processes -> 1 origin download"

redis_processes=0
waits=0
for p in 1 2 3 4; do
    [ "$(count "$AV_TMP/p$p" tier=redis)" = 1 ] && redis_processes=$((redis_processes + 1))
    waits=$((waits + $(stat "$AV_TMP/p$p" lock_waits)))
done
expect "processes served by Redis" "$redis_processes" 3
[ "$waits" -ge 1 ] || { cat "$AV_TMP/all"; av_fail "no process waited on the lock"; }
ok "the 3 other processes waited on the lock ($waits waits) and loaded from Redis"

echo "PASS test_fetch_singleflight ($PASSED checks)"
