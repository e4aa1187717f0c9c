#!/usr/bin/env bash
# test_fetch_malpedia.sh - the Malpedia collection path, with the test HTTP
# server standing in for Malpedia (the URL is configurable).
#
# Proves: the API key is sent as "Authorization: apitoken <key>" (the server
# answers 403 without exactly that header), read from an environment variable
# or a file; a wrong key is a permanent error; an answer under 20 bytes or not
# in the collection CSV format is an error, not a new collection, and when a
# good copy exists it keeps being served, marked stale; the key never appears
# in anything the tool prints (stdout, stderr, error messages, logs).
set -euo pipefail
source "$AV_SOURCE_DIR/tests/integration/fetch_common.sh"

KEY="mpk-$RANDOM$RANDOM-secret"
WRONG="mpk-wrong-$RANDOM"
mkdir -p "$WWW/api/list/apiscout"
CSV="$WWW/api/list/apiscout/csv"
{
    echo "# family;sample;version;bitness;vector"
    for i in 1 2 3; do echo "win.fam$i;abc$i;1;32;A3gAB4Cg"; done
} >"$CSV"
CSV_SHA=$(sha_of "$CSV")
av_start_redis
av_start_http "$WWW"
URL="$HTTP_URL/api/list/apiscout/csv"
control "{\"path\": \"/api/list/apiscout/csv\", \"require_header\": [\"Authorization\", \"apitoken $KEY\"]}"
M=(--url "$URL" --name malpedia --kind collection --malpedia --redis-port "$REDIS_PORT")

echo "1. key from the environment, header accepted"
MP_KEY="$KEY" fetch "$AV_TMP/1" "${M[@]}" --malpedia-key-env MP_KEY --ttl 1
expect "exit" "$RC" 0 "$AV_TMP/1"
expect "content" "$(count "$AV_TMP/1" status=ok sha256="$CSV_SHA" tier=origin)" 1 "$AV_TMP/1"
expect "bodies" "$(served /api/list/apiscout/csv bodies)" 1
ok "Authorization header sent"

echo "2. wrong key -> permanent error naming the artifact"
sleep 1.1
MP_KEY="$WRONG" fetch "$AV_TMP/2" "${M[@]}" --name malpedia2 --malpedia-key-env MP_KEY
expect "exit" "$RC" 8 "$AV_TMP/2"
expect "origin status" "$(field "$AV_TMP/2" 0 origin_status)" 403 "$AV_TMP/2"
contains "names the artifact" "$AV_TMP/2" "collection/malpedia2"
ok "wrong key refused"

echo "3. key from a file"
printf '%s\n' "$KEY" >"$AV_TMP/keyfile"
fetch "$AV_TMP/3" "${M[@]}" --name malpedia3 --malpedia-key-file "$AV_TMP/keyfile"
expect "exit" "$RC" 0 "$AV_TMP/3"
expect "content" "$(count "$AV_TMP/3" status=ok sha256="$CSV_SHA")" 1 "$AV_TMP/3"
ok "key file"

echo "4. bad answers are not collections"
mkdir -p "$WWW/bad"
printf 'short\n' >"$WWW/bad/tiny"
printf '<html><body>maintenance</body></html>\n' >"$WWW/bad/html"
for b in tiny html; do
    MP_KEY="$KEY" fetch "$AV_TMP/4$b" --url "$HTTP_URL/bad/$b" --name "bad$b" \
        --kind collection --malpedia --malpedia-key-env MP_KEY --redis-port "$REDIS_PORT"
    expect "$b exit" "$RC" 8 "$AV_TMP/4$b"
    contains "$b message" "$AV_TMP/4$b" "not a collection"
done
ok "under 20 bytes and non-CSV refused"

echo "5. a bad answer after a good one -> the good copy, stale"
printf '<html>Service Unavailable, try later</html>\n' >"$CSV"
sleep 0.2
MP_KEY="$KEY" fetch "$AV_TMP/5" "${M[@]}" --malpedia-key-env MP_KEY --ttl 1
expect "exit" "$RC" 0 "$AV_TMP/5"
expect "stale" "$(field "$AV_TMP/5" 0 stale)" 1 "$AV_TMP/5"
expect "old content" "$(field "$AV_TMP/5" 0 sha256)" "$CSV_SHA" "$AV_TMP/5"
contains "log says why" "$AV_TMP/5.err" "not a collection"
ok "previous collection kept"

echo "6. the key never appears in any output"
for f in "$AV_TMP"/[0-9]*; do
    ! grep -qF -- "$KEY" "$f" || av_fail "key leaked into $f"
    ! grep -qF -- "$WRONG" "$f" || av_fail "wrong key leaked into $f"
done
ok "no key in $(ls "$AV_TMP"/[0-9]* | wc -l) output files"

echo "PASS test_fetch_malpedia ($PASSED checks)"
