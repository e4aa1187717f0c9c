#!/usr/bin/env bash
# test_fetch_tiers.sh - the artifact store's three tiers and its error classes,
# against a real redis-server and the test HTTP server on loopback.
#
# Proves: a cold fetch downloads once and every other thread of the process
# is served from memory; a second process gets the value from Redis with no
# origin body; after the TTL a revalidation is a conditional request answered
# 304 (request counted, no body) in the process and through Redis; changed
# content gives a new sha256; 404 is permanent, names the artifact and is not
# retried; an oversized artifact is a limit error; a truncated body is
# transient and is retried; a redirect is followed.
set -euo pipefail
source "$AV_SOURCE_DIR/tests/integration/fetch_common.sh"

head -c 200000 /dev/urandom | base64 >"$WWW/apiscout/a.json"
head -c 50000 /dev/urandom | base64 >"$WWW/apiscout/b.json"
head -c 5000 /dev/urandom >"$WWW/apiscout/big.bin"
av_start_redis
av_start_http "$WWW"
R=(--redis-port "$REDIS_PORT")
A_URL="$HTTP_URL/apiscout/a.json"
A_SHA=$(sha_of "$WWW/apiscout/a.json")

echo "1. cold fetch: one origin download, the other threads from the process"
fetch "$AV_TMP/1" --url "$A_URL" --name a "${R[@]}" --threads 4 --repeat 2
expect "exit" "$RC" 0 "$AV_TMP/1"
expect "ok lines" "$(count "$AV_TMP/1" status=ok sha256="$A_SHA" content_ok=1)" 8 "$AV_TMP/1"
expect "origin lines" "$(count "$AV_TMP/1" tier=origin origin_status=200)" 1 "$AV_TMP/1"
expect "process lines" "$(count "$AV_TMP/1" tier=process)" 7 "$AV_TMP/1"
expect "origin bodies" "$(served /apiscout/a.json bodies)" 1
ok "cold fetch + warm process hits"

echo "2. a second process is served by Redis, the origin sends nothing"
fetch "$AV_TMP/2" --url "$A_URL" --name a "${R[@]}" --threads 3
expect "redis lines" "$(count "$AV_TMP/2" tier=redis sha256="$A_SHA" content_ok=1)" 1 "$AV_TMP/2"
expect "process lines" "$(count "$AV_TMP/2" tier=process sha256="$A_SHA")" 2 "$AV_TMP/2"
expect "origin fetches" "$(stat "$AV_TMP/2" origin_fetches)" 0 "$AV_TMP/2"
expect "origin requests" "$(served /apiscout/a.json requests)" 1
expect "origin bodies" "$(served /apiscout/a.json bodies)" 1
ok "redis tier"

echo "3. TTL expiry: revalidation with 304, no new body"
B_URL="$HTTP_URL/apiscout/b.json"
B_SHA=$(sha_of "$WWW/apiscout/b.json")
fetch "$AV_TMP/3" --url "$B_URL" --name b "${R[@]}" --ttl 1 --repeat 2 --sleep-ms 1300
expect "exit" "$RC" 0 "$AV_TMP/3"
expect "first from origin" "$(field "$AV_TMP/3" 0 tier)" origin "$AV_TMP/3"
expect "second revalidated" "$(field "$AV_TMP/3" 1 origin_status)" 304 "$AV_TMP/3"
expect "second from process" "$(field "$AV_TMP/3" 1 tier)" process "$AV_TMP/3"
expect "same sha" "$(field "$AV_TMP/3" 1 sha256)" "$B_SHA" "$AV_TMP/3"
expect "not_modified" "$(stat "$AV_TMP/3" not_modified)" 1 "$AV_TMP/3"
expect "requests" "$(served /apiscout/b.json requests)" 2
expect "bodies" "$(served /apiscout/b.json bodies)" 1
sleep 1.2
fetch "$AV_TMP/3b" --url "$B_URL" --name b "${R[@]}" --ttl 1
expect "new process revalidated" "$(field "$AV_TMP/3b" 0 origin_status)" 304 "$AV_TMP/3b"
expect "new process got Redis data" "$(field "$AV_TMP/3b" 0 tier)" redis "$AV_TMP/3b"
expect "content" "$(count "$AV_TMP/3b" sha256="$B_SHA" content_ok=1)" 1 "$AV_TMP/3b"
expect "requests" "$(served /apiscout/b.json requests)" 3
expect "bodies" "$(served /apiscout/b.json bodies)" 1
ok "304 revalidation in process and through Redis"

echo "4. changed content -> new content and sha256"
head -c 50000 /dev/urandom | base64 >"$WWW/apiscout/b.json"
B2_SHA=$(sha_of "$WWW/apiscout/b.json")
[ "$B2_SHA" != "$B_SHA" ] || av_fail "test file did not change"
sleep 1.1
fetch "$AV_TMP/4" --url "$B_URL" --name b "${R[@]}" --ttl 1
expect "tier" "$(field "$AV_TMP/4" 0 tier)" origin "$AV_TMP/4"
expect "status" "$(field "$AV_TMP/4" 0 origin_status)" 200 "$AV_TMP/4"
expect "new sha" "$(count "$AV_TMP/4" sha256="$B2_SHA" content_ok=1)" 1 "$AV_TMP/4"
expect "bodies" "$(served /apiscout/b.json bodies)" 2
ok "changed ETag gives new content"

echo "5. 404 -> permanent error naming the artifact, never retried"
fetch "$AV_TMP/5" --url "$HTTP_URL/apiscout/missing.json" --name missing "${R[@]}" --retries 3
expect "exit" "$RC" 8 "$AV_TMP/5"
expect "status" "$(field "$AV_TMP/5" 0 status)" permanent "$AV_TMP/5"
expect "origin_status" "$(field "$AV_TMP/5" 0 origin_status)" 404 "$AV_TMP/5"
contains "names kind/name" "$AV_TMP/5" "test/missing"
contains "names the URL" "$AV_TMP/5" "/apiscout/missing.json"
expect "requests (no retry)" "$(served /apiscout/missing.json requests)" 1
ok "404 is permanent"

echo "6. oversized artifact -> limit error"
fetch "$AV_TMP/6" --url "$HTTP_URL/apiscout/big.bin" --name big "${R[@]}" --max-bytes 1000
expect "exit" "$RC" 5 "$AV_TMP/6"
expect "status" "$(field "$AV_TMP/6" 0 status)" limit "$AV_TMP/6"
contains "says limit" "$AV_TMP/6" "exceeds the limit of 1000 bytes"
expect "requests (no retry)" "$(served /apiscout/big.bin requests)" 1
ok "size limit"

echo "7. truncated body -> transient; retried when allowed"
control '{"path": "/apiscout/big.bin", "truncate": 100}'
fetch "$AV_TMP/7" --url "$HTTP_URL/apiscout/big.bin" --name trunc "${R[@]}" --retries -1
expect "exit" "$RC" 7 "$AV_TMP/7"
expect "status" "$(field "$AV_TMP/7" 0 status)" transient "$AV_TMP/7"
contains "names the artifact" "$AV_TMP/7" "test/trunc"
control '{"path": "/apiscout/big.bin", "truncate": 100, "times": 1}'
fetch "$AV_TMP/7b" --url "$HTTP_URL/apiscout/big.bin" --name trunc "${R[@]}" --retries 2 \
    --backoff-base-ms 20
expect "exit after retry" "$RC" 0 "$AV_TMP/7b"
expect "sha" "$(field "$AV_TMP/7b" 0 sha256)" "$(sha_of "$WWW/apiscout/big.bin")" "$AV_TMP/7b"
expect "requests" "$(served /apiscout/big.bin requests)" 4
ok "truncated body"

echo "8. a redirect is followed (default limit 3)"
control '{"path": "/apiscout/moved.json", "redirect": "/apiscout/a.json"}'
fetch "$AV_TMP/8" --url "$HTTP_URL/apiscout/moved.json" --name moved "${R[@]}"
expect "exit" "$RC" 0 "$AV_TMP/8"
expect "content" "$(count "$AV_TMP/8" tier=origin sha256="$A_SHA" content_ok=1)" 1 "$AV_TMP/8"
ok "redirect"

echo "PASS test_fetch_tiers ($PASSED checks)"
