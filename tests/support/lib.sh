# tests/support/lib.sh - start and always stop the real processes a test needs.
#
# Source it from a bash test script. Every process started here is recorded by
# PID and killed by the EXIT trap, so a failing test (set -e, assertion, signal)
# never leaves a broker, redis-server or HTTP server behind. All servers bind to
# 127.0.0.1 on a port found free at start.
#
#   av_tmpdir                 -> $AV_TMP, removed at exit
#   av_free_port              -> prints a free loopback TCP port
#   av_start_redis            -> sets REDIS_PORT, REDIS_PID
#   av_start_broker T:P ...   -> sets KAFKA_BOOTSTRAP, BROKER_PID (topics as name:partitions)
#   av_start_http DIR [args]  -> sets HTTP_PORT, HTTP_PID, HTTP_URL (tests/support/http_server.py)
#   av_stop PID               -> TERM, wait up to 5 s, then KILL
#   av_fail MSG               -> prints MSG and exits 1
#
# Expects AV_BUILD_DIR (the CMake build folder) and AV_SOURCE_DIR in the environment;
# ctest sets both.

set -euo pipefail

AV_PYTHON=${AV_PYTHON:-/usr/bin/python3}
AV_PIDS=()
AV_TMP=""

av_cleanup() {
    local rc=$?
    local pid
    for pid in "${AV_PIDS[@]:-}"; do
        [ -n "$pid" ] && av_stop "$pid" >/dev/null 2>&1 || true
    done
    if [ -n "$AV_TMP" ] && [ -d "$AV_TMP" ]; then
        rm -rf "$AV_TMP"
    fi
    exit "$rc"
}
trap av_cleanup EXIT
trap 'exit 130' INT TERM

av_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

av_tmpdir() {
    AV_TMP=$(mktemp -d "${TMPDIR:-/tmp}/apivector-test.XXXXXX")
}

av_free_port() {
    "$AV_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

av_track() {
    AV_PIDS+=("$1")
}

av_stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Waits until a TCP port on 127.0.0.1 accepts connections (max ~10 s).
av_wait_port() {
    local port=$1 i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    av_fail "nothing listens on 127.0.0.1:$port"
}

av_start_redis() {
    [ -n "$AV_TMP" ] || av_tmpdir
    REDIS_PORT=$(av_free_port)
    mkdir -p "$AV_TMP/redis"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --dir "$AV_TMP/redis" --daemonize no --logfile "$AV_TMP/redis/redis.log" "$@" &
    REDIS_PID=$!
    av_track "$REDIS_PID"
    av_wait_port "$REDIS_PORT"
}

av_start_broker() {
    [ -n "$AV_TMP" ] || av_tmpdir
    local out="$AV_TMP/broker.$RANDOM.out" i
    "$AV_BUILD_DIR/tests/support/kafka-broker" "$@" >"$out" 2>"$out.err" &
    BROKER_PID=$!
    av_track "$BROKER_PID"
    for i in $(seq 1 100); do
        KAFKA_BOOTSTRAP=$(sed -n 's/^bootstrap=//p' "$out" | head -n 1)
        [ -n "$KAFKA_BOOTSTRAP" ] && return 0
        kill -0 "$BROKER_PID" 2>/dev/null || { cat "$out.err" >&2; av_fail "kafka-broker exited"; }
        sleep 0.1
    done
    av_fail "kafka-broker printed no bootstrap line"
}

av_start_http() {
    [ -n "$AV_TMP" ] || av_tmpdir
    local root=$1
    shift
    HTTP_PORT=$(av_free_port)
    "$AV_PYTHON" "$AV_SOURCE_DIR/tests/support/http_server.py" --port "$HTTP_PORT" \
        --root "$root" "$@" >"$AV_TMP/http.$HTTP_PORT.log" 2>&1 &
    HTTP_PID=$!
    av_track "$HTTP_PID"
    av_wait_port "$HTTP_PORT"
    HTTP_URL="http://127.0.0.1:$HTTP_PORT"
}
