#!/usr/bin/env bash
# bench_fetch.sh - runs tests/bench/bench_fetch against a real redis-server and
# the test HTTP server on loopback, both started here and stopped at exit.
#
#   AV_BUILD_DIR=build AV_SOURCE_DIR=. tests/bench/bench_fetch.sh [FILE|SIZE_MB] [CODEC] [RUNS]
#
# FILE is served as the artifact (e.g. a real ApiScout DB JSON, with CODEC db
# once that codec is in the table); a number instead makes a random file of
# that many MiB (default 32, about the size of a 40k-export DB). The process
# tier figure uses the default freshness check interval (5 s), so it is the
# steady state a consumer sees between checks.
set -euo pipefail
: "${AV_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${AV_BUILD_DIR:=$AV_SOURCE_DIR/build}"
export AV_SOURCE_DIR AV_BUILD_DIR
source "$AV_SOURCE_DIR/tests/support/lib.sh"

BENCH="$AV_BUILD_DIR/tests/bench/bench_fetch"
[ -x "$BENCH" ] || av_fail "not built: $BENCH"
what=${1:-32}
codec=${2:-blob}
runs=${3:-5}
av_tmpdir
mkdir -p "$AV_TMP/www"
if [ -f "$what" ]; then
    cp "$what" "$AV_TMP/www/artifact" # a copy: the server refuses links leading out of its root
else
    head -c $((what * 1048576)) /dev/urandom >"$AV_TMP/www/artifact"
fi
echo "artifact: $(stat -L -c %s "$AV_TMP/www/artifact") bytes, codec $codec"
av_start_redis
av_start_http "$AV_TMP/www"
"$BENCH" "$HTTP_URL/artifact" "$REDIS_PORT" "$codec" "$runs"
