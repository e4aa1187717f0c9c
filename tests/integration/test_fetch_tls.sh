#!/usr/bin/env bash
# test_fetch_tls.sh - certificate verification of origin fetches over HTTPS.
#
# The test HTTP server serves HTTPS with a self-signed certificate for
# 127.0.0.1 made here with the openssl tool. Proves: verification is on by
# default (the self-signed server is refused with a transient error that says
# why), a configured CA bundle that holds the certificate makes the same fetch
# work, and host name verification holds (the certificate is for 127.0.0.1,
# so "localhost" is refused even with the bundle).
set -euo pipefail
source "$AV_SOURCE_DIR/tests/integration/fetch_common.sh"

command -v openssl >/dev/null || av_fail "the openssl tool is needed to make a test certificate"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$AV_TMP/key.pem" -out "$AV_TMP/cert.pem" \
    2>"$AV_TMP/openssl.log" || { cat "$AV_TMP/openssl.log"; av_fail "openssl req failed"; }
head -c 10000 /dev/urandom >"$WWW/apiscout/a.bin"
av_start_http "$WWW" --tls-cert "$AV_TMP/cert.pem" --tls-key "$AV_TMP/key.pem"
URL="https://127.0.0.1:$HTTP_PORT/apiscout/a.bin"

echo "1. verification on by default: self-signed refused"
fetch "$AV_TMP/1" --url "$URL" --name a --retries -1
expect "exit" "$RC" 7 "$AV_TMP/1"
contains "says certificate" "$AV_TMP/1" "certificate"
ok "self-signed certificate refused"

echo "2. CA bundle configured: accepted"
fetch "$AV_TMP/2" --url "$URL" --name a --ca-bundle "$AV_TMP/cert.pem"
expect "exit" "$RC" 0 "$AV_TMP/2"
expect "content" "$(count "$AV_TMP/2" status=ok tier=origin sha256="$(sha_of "$WWW/apiscout/a.bin")")" 1 \
    "$AV_TMP/2"
ok "CA bundle"

echo "3. host name checked"
fetch "$AV_TMP/3" --url "https://localhost:$HTTP_PORT/apiscout/a.bin" --name a \
    --ca-bundle "$AV_TMP/cert.pem" --retries -1
expect "exit" "$RC" 7 "$AV_TMP/3"
contains "says host name" "$AV_TMP/3" "host name"
ok "wrong host name refused"

echo "PASS test_fetch_tls ($PASSED checks)"
