#!/usr/bin/env bash
# test_redis.sh - the redis-server helper of tests/support/lib.sh starts a real
# server on a free loopback port, and av_stop really stops it.
#
# Proves: av_start_redis gives a server that answers PING and keeps a SET value
# for GET, it listens on 127.0.0.1 only, and after av_stop the PID is gone and
# nothing listens on the port any more.
source "$AV_SOURCE_DIR/tests/support/lib.sh"

# shellcheck disable=SC2119 # no extra redis-server arguments
av_start_redis
echo "redis pid $REDIS_PID on 127.0.0.1:$REDIS_PORT"

echo "1. PING answers PONG"
reply=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping)
[ "$reply" = PONG ] || av_fail "PING answered '$reply'"

echo "2. SET/GET round trip"
value="apivector-$$-$RANDOM"
reply=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" set av:test "$value")
[ "$reply" = OK ] || av_fail "SET answered '$reply'"
reply=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" get av:test)
[ "$reply" = "$value" ] || av_fail "GET answered '$reply', expected '$value'"

echo "3. listens on 127.0.0.1 only"
locals=$(ss -Hltn "sport = :$REDIS_PORT" | awk '{print $4}' | sort -u)
[ "$locals" = "127.0.0.1:$REDIS_PORT" ] || av_fail "port $REDIS_PORT listens on: ${locals:-nothing}"

echo "4. av_stop ends the process and frees the port"
av_stop "$REDIS_PID"
! kill -0 "$REDIS_PID" 2>/dev/null || av_fail "redis-server $REDIS_PID still runs after av_stop"
! (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null ||
    av_fail "port $REDIS_PORT still accepts connections after av_stop"

echo "PASS test_redis"
