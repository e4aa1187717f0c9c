#!/usr/bin/env bash
# test_dumpsrc.sh - the dump source against real HTTP servers on loopback.
#
# Runs tests/support/dump-tool (one dumpsrcOpen per call, one JSON line out)
# against tests/support/http_server.py, steering failures through its control
# API: digests vs sha256sum, memfd and O_TMPFILE spooling, empty dumps, 404 ->
# permanent, 500 / truncated body / timeout / refused connect -> transient,
# redirect limit, expected size and sha256, concurrency. The size limit is
# checked two ways: a 50 MB file with a Content-Length is refused before its
# body is sent (the server never completes it), and a second, tiny server that
# streams an endless body with no Content-Length counts how much it could
# write before the client hung up at the limit.
set -euo pipefail
source "$AV_SOURCE_DIR/tests/support/lib.sh"

TOOL="$AV_BUILD_DIR/tests/support/dump-tool"
[ -x "$TOOL" ] || av_fail "dump-tool not built: $TOOL"
av_tmpdir
WWW="$AV_TMP/www"
mkdir -p "$WWW" "$AV_TMP/spool" "$AV_TMP/files"
head -c 300000 /dev/urandom >"$WWW/small.bin"
head -c 4000000 /dev/urandom >"$WWW/mid.bin"
head -c 50000000 /dev/zero >"$WWW/big.bin"
: >"$WWW/empty.bin"
cp "$WWW/small.bin" "$AV_TMP/files/local.bin"
SMALL_SHA=$(sha256sum "$WWW/small.bin" | cut -d' ' -f1)
MID_SHA=$(sha256sum "$WWW/mid.bin" | cut -d' ' -f1)
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

av_start_http "$WWW"
PASSED=0

# field JSON NAME -> prints the value (booleans as true/false)
field() {
    "$AV_PYTHON" -c 'import json,sys
v = json.loads(sys.argv[1])[sys.argv[2]]
print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2"
}

control() {
    curl -fsS -X POST -d "$1" "$HTTP_URL/_control" >/dev/null
}

# check NAME JSON STATUS [NEEDLE]: the tool's result has error_status STATUS
# and, if given, NEEDLE in its error message.
check() {
    local name=$1 out=$2 want=$3 needle=${4:-}
    local got
    got=$(field "$out" error_status)
    [ "$got" = "$want" ] || av_fail "$name: error_status $got, want $want: $out"
    if [ -n "$needle" ]; then
        case "$(field "$out" error)" in
            *"$needle"*) ;;
            *) av_fail "$name: error lacks \"$needle\": $out" ;;
        esac
    fi
    PASSED=$((PASSED + 1))
    echo "ok - $name"
}

# run ARGS: the tool's JSON line; exit 0 (ok) or 1 (dump failed) only, anything
# else is a crash or a sanitizer report and fails the test (set -e).
run() {
    local rc=0
    "$TOOL" "$@" || rc=$?
    [ "$rc" -le 1 ] || av_fail "dump-tool exited $rc for: $*"
}

# --- success paths ---------------------------------------------------------
out=$(run "$HTTP_URL/small.bin")
check "http ok" "$out" ok
[ "$(field "$out" sha256)" = "$SMALL_SHA" ] || av_fail "http sha256 differs from sha256sum: $out"
[ "$(field "$out" size)" = 300000 ] || av_fail "http size: $out"
case "$(field "$out" backing)" in
    /memfd:apivector-dump*) echo "ok - spooled in a memfd" ;;
    *) av_fail "dump not held in a memfd: $out" ;;
esac
# F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE (2|4|8): nothing can change it under the crawl.
[ $(($(field "$out" seals) & 14)) = 14 ] || av_fail "memfd not sealed: $out"

out=$(run --no-memfd --tmp-dir "$AV_TMP/spool" "$HTTP_URL/mid.bin")
check "http ok via O_TMPFILE" "$out" ok
[ "$(field "$out" sha256)" = "$MID_SHA" ] || av_fail "O_TMPFILE sha256: $out"
case "$(field "$out" backing)" in
    "$AV_TMP/spool/"*"(deleted)") ;;
    *) av_fail "dump not held in an unnamed O_TMPFILE under the spool dir: $out" ;;
esac
[ -z "$(ls -A "$AV_TMP/spool")" ] || av_fail "spool folder not empty after the run"

out=$(run --size 0 --sha256 "$EMPTY_SHA" "$HTTP_URL/empty.bin")
check "http 0-byte dump" "$out" ok
[ "$(field "$out" size)" = 0 ] && [ "$(field "$out" first_byte)" = -1 ] || av_fail "empty: $out"

UPPER=$(echo "$SMALL_SHA" | tr a-f A-F)
out=$(run --size 300000 --sha256 "$UPPER" --max-bytes 300000 "$HTTP_URL/small.bin")
check "expected size+sha256 (upper case), limit == size" "$out" ok

out=$(run --threads 8 "$HTTP_URL/mid.bin")
check "8 concurrent opens agree" "$out" ok
[ "$(field "$out" sha256)" = "$MID_SHA" ] || av_fail "threads sha256: $out"

out=$(run --root "$AV_TMP/files" "file://$AV_TMP/files/local.bin")
check "file:// ok" "$out" ok
[ "$(field "$out" sha256)" = "$SMALL_SHA" ] || av_fail "file sha256: $out"
out=$(run --root "$AV_TMP/files" "file://$AV_TMP/files/../www/small.bin")
check "file:// escape refused" "$out" permanent "outside the allowed file roots"

# --- errors named and classified ------------------------------------------
out=$(run "http://bob:pa55word@127.0.0.1:$HTTP_PORT/missing.bin")
check "404 is permanent" "$out" permanent "GET $HTTP_URL/missing.bin: HTTP 404"
case "$out" in *pa55word* | *bob:*) av_fail "credentials leaked: $out" ;; esac

control '{"path": "/small.bin", "status": 500, "times": 1}'
out=$(run "$HTTP_URL/small.bin")
check "500 is transient" "$out" transient "GET $HTTP_URL/small.bin: HTTP 500"

control '{"path": "/small.bin", "truncate": 1000, "times": 1}'
out=$(run "$HTTP_URL/small.bin")
check "truncated body is transient" "$out" transient "$HTTP_URL/small.bin"

control '{"path": "/small.bin", "delay_ms": 3000, "times": 1}'
out=$(run --timeout-ms 500 "$HTTP_URL/small.bin")
check "timeout is transient" "$out" transient "$HTTP_URL/small.bin"
[ "$(field "$out" elapsed_ms)" -lt 2500 ] || av_fail "timeout not enforced: $out"

out=$(run "http://127.0.0.1:$(av_free_port)/x.bin")
check "refused connect is transient" "$out" transient "127.0.0.1"

if [ "${SMALL_SHA:0:1}" = 0 ]; then BAD_SHA=1${SMALL_SHA:1}; else BAD_SHA=0${SMALL_SHA:1}; fi
out=$(run --sha256 "$BAD_SHA" "$HTTP_URL/small.bin")
check "sha256 mismatch is permanent" "$out" permanent "sha256 mismatch"

out=$(run --size 300001 "$HTTP_URL/small.bin")
check "expected size larger than body" "$out" permanent "size mismatch"
out=$(run --size 1000 "$HTTP_URL/mid.bin")
check "body longer than expected size" "$out" permanent "size mismatch"

out=$(run "ftp://127.0.0.1:$HTTP_PORT/small.bin")
check "unsupported scheme" "$out" permanent "unsupported URL scheme"

# --- redirects ------------------------------------------------------------
control '{"path": "/r1", "redirect": "/r2"}'
control '{"path": "/r2", "redirect": "/r3"}'
control '{"path": "/r3", "redirect": "/small.bin"}'
control '{"path": "/r0", "redirect": "/r1"}'
out=$(run --max-redirects 3 "$HTTP_URL/r1")
check "3 redirects with limit 3" "$out" ok
[ "$(field "$out" sha256)" = "$SMALL_SHA" ] || av_fail "redirected sha256: $out"
out=$(run --max-redirects 3 "$HTTP_URL/r0")
check "4 redirects with limit 3" "$out" permanent "$HTTP_URL/r0"
out=$(run --max-redirects 0 "$HTTP_URL/r3")
check "no redirects allowed" "$out" permanent "redirect"

# --- size limit enforced while streaming ----------------------------------
curl -fsS -X POST "$HTTP_URL/_control/reset" >/dev/null
out=$(run --max-bytes 1048576 "$HTTP_URL/big.bin")
check "50 MB dump over a 1 MiB limit" "$out" limit "exceeds the limit of 1048576 bytes"
[ "$(field "$out" elapsed_ms)" -lt 2000 ] || av_fail "oversized dump took too long: $out"
sleep 0.3
stats=$(curl -fsS "$HTTP_URL/_stats")
"$AV_PYTHON" -c 'import json,sys
s = json.loads(sys.argv[1])
assert s["requests"].get("/big.bin") == 1, s
assert s["bodies"].get("/big.bin", 0) == 0, s' "$stats" || av_fail "big.bin body was sent in full: $stats"
echo "ok - server never completed the 50 MB body"

# An endless body without Content-Length: only the streaming check can stop it.
cat >"$AV_TMP/endless.py" <<'EOF'
import socket, sys
port, report = int(sys.argv[1]), sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(4)
while True:  # skip av_wait_port's probe connections, which send nothing
    conn, _ = srv.accept()
    if conn.recv(65536):
        break
    conn.close()
conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
sent, chunk = 0, b"\0" * 65536
try:
    while sent < 200 * 1024 * 1024:
        conn.sendall(chunk)
        sent += len(chunk)
except OSError:
    pass
with open(report, "w") as f:
    f.write(str(sent))
conn.close()
EOF
EPORT=$(av_free_port)
"$AV_PYTHON" "$AV_TMP/endless.py" "$EPORT" "$AV_TMP/endless.sent" &
av_track $!
av_wait_port "$EPORT"
out=$(run --max-bytes 1048576 "http://127.0.0.1:$EPORT/endless.bin")
check "endless body cut at 1 MiB" "$out" limit "exceeds the limit of 1048576 bytes"
for _ in $(seq 1 50); do
    [ -s "$AV_TMP/endless.sent" ] && break
    sleep 0.1
done
sent=$(cat "$AV_TMP/endless.sent" 2>/dev/null || echo missing)
[ "$sent" != missing ] || av_fail "endless server did not see the client hang up"
# 1 MiB read plus what the loopback socket buffers absorb; 200 MiB if not cut.
[ "$sent" -lt $((32 * 1024 * 1024)) ] || av_fail "server wrote $sent bytes before the abort"
echo "ok - endless server wrote only $sent bytes before the client hung up"
PASSED=$((PASSED + 1))

echo "$PASSED passed, 0 failed"
