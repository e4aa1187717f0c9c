#!/usr/bin/env bash
# test_broker.sh - the test Kafka broker (tests/support/kafka-broker) behaves like
# a Kafka cluster for a real, independent client (kcat), including an outage.
#
# Phases, each asserting on counts and exit codes:
#   1. metadata: topic t1 exists with exactly the 3 partitions asked for
#   2. produce: 20 keyed messages are acknowledged
#   3. group consume: a balanced consumer in group1 receives all 20, each once
#   4. outage (SIGUSR1): the ports refuse connections but stay reserved, a
#      produce fails and a consume gets nothing
#   5. recovery (SIGUSR2): same ports serve again, a fresh produce succeeds,
#      group1 resumes after its committed offsets (only the new messages) and
#      all pre-outage messages are still stored
#   6. command line: bad arguments and a busy --port are rejected; --port is
#      honoured
#   7. SIGTERM stops the broker with exit status 0
source "$AV_SOURCE_DIR/tests/support/lib.sh"

N=20
NEW=5
av_tmpdir

# Prints the host:port entries of a bootstrap list, one per line.
bootstrap_ports() {
    tr ',' '\n' <<<"$1" | sed 's/.*://'
}

# Succeeds when every port of the bootstrap list accepts a TCP connection (want=up)
# or every one refuses (want=down); waits up to ~5 s.
wait_ports() {
    local want=$1 i port state all
    for i in $(seq 1 50); do
        all=1
        for port in $(bootstrap_ports "$KAFKA_BOOTSTRAP"); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then state=up; else state=down; fi
            [ "$state" = "$want" ] || all=0
        done
        [ "$all" = 1 ] && return 0
        sleep 0.1
    done
    av_fail "broker ports did not become $want"
}

# Group consume of exactly $2 messages from t1 in group $1 into file $3.
# The mock coordinator holds a group whose last member left in its join phase for
# session.timeout.ms - 1 s before it admits a new member (45 s with the default),
# so the consumers use a short session. kcat commits its offsets on close.
group_consume() {
    timeout 30 kcat -b "$KAFKA_BOOTSTRAP" -G "$1" -X auto.offset.reset=earliest \
        -X session.timeout.ms=3000 -X heartbeat.interval.ms=500 -c "$2" -q -f '%k=%s\n' t1 >"$3"
}

# Plain consume of everything stored in t1 into file $1, exits at end of partitions.
consume_all() {
    timeout 20 kcat -b "$KAFKA_BOOTSTRAP" -C -t t1 -o beginning -e -q -f '%k=%s\n' >"$1"
}

av_start_broker t1:3
echo "broker pid $BROKER_PID at $KAFKA_BOOTSTRAP"
for host in $(tr ',' '\n' <<<"$KAFKA_BOOTSTRAP" | sed 's/:[0-9]*$//'); do
    [ "$host" = 127.0.0.1 ] || av_fail "broker advertises $host, expected 127.0.0.1"
done
for port in $(bootstrap_ports "$KAFKA_BOOTSTRAP"); do
    # Column 4 of ss is the local address: every listener on the port must be 127.0.0.1.
    locals=$(ss -Hltn "sport = :$port" | awk '{print $4}' | sort -u)
    [ "$locals" = "127.0.0.1:$port" ] || av_fail "port $port listens on: ${locals:-nothing}"
done

echo "1. metadata: t1 has 3 partitions"
kcat -b "$KAFKA_BOOTSTRAP" -L -J -t t1 >"$AV_TMP/meta.json"
parts=$("$AV_PYTHON" -c '
import json, sys
md = json.load(open(sys.argv[1]))
print(sum(len(t["partitions"]) for t in md["topics"] if t["topic"] == "t1" and not t.get("error")))
' "$AV_TMP/meta.json")
[ "$parts" = 3 ] || av_fail "t1 has $parts partitions, expected 3"

echo "2. produce: $N keyed messages"
for i in $(seq 1 $N); do echo "key$i:before$i"; done >"$AV_TMP/before.txt"
kcat -b "$KAFKA_BOOTSTRAP" -P -t t1 -K: -X message.timeout.ms=10000 <"$AV_TMP/before.txt" ||
    av_fail "produce of $N messages failed"

echo "3. group consume: group1 receives all $N"
group_consume group1 $N "$AV_TMP/got1.txt" || av_fail "group consume exited $?"
sed 's/:/=/' "$AV_TMP/before.txt" | sort >"$AV_TMP/want1.txt"
sort "$AV_TMP/got1.txt" >"$AV_TMP/got1.sorted"
diff -u "$AV_TMP/want1.txt" "$AV_TMP/got1.sorted" || av_fail "group1 did not get the $N messages"

echo "4. outage: SIGUSR1 takes the brokers down"
kill -USR1 "$BROKER_PID"
wait_ports down
for port in $(bootstrap_ports "$KAFKA_BOOTSTRAP"); do
    # The broker keeps its ports reserved through the outage, so the same
    # addresses can come back; a plain bind must be refused.
    if "$AV_PYTHON" -c 'import socket, sys
socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; then
        av_fail "port $port was free for others during the outage"
    fi
done
if echo "k:during" | kcat -b "$KAFKA_BOOTSTRAP" -P -t t1 -K: -X message.timeout.ms=2000 \
    2>"$AV_TMP/down-produce.err"; then
    av_fail "produce succeeded while the brokers were down"
fi
grep -q 'Connection refused\|brokers are down' "$AV_TMP/down-produce.err" ||
    av_fail "produce failed for another reason: $(cat "$AV_TMP/down-produce.err")"
rc=0
timeout 3 kcat -b "$KAFKA_BOOTSTRAP" -C -t t1 -o beginning -e -q >"$AV_TMP/down-consume.txt" \
    2>/dev/null || rc=$?
[ "$rc" != 0 ] || av_fail "consume exited 0 while the brokers were down"
[ ! -s "$AV_TMP/down-consume.txt" ] || av_fail "consume got data while the brokers were down"
kill -0 "$BROKER_PID" || av_fail "broker died during the outage"

echo "5. recovery: SIGUSR2, fresh produce, committed offsets and old data survive"
kill -USR2 "$BROKER_PID"
wait_ports up
for i in $(seq 1 $NEW); do echo "new$i:after$i"; done >"$AV_TMP/after.txt"
kcat -b "$KAFKA_BOOTSTRAP" -P -t t1 -K: -X message.timeout.ms=10000 <"$AV_TMP/after.txt" ||
    av_fail "produce after recovery failed"
group_consume group1 $NEW "$AV_TMP/got2.txt" || av_fail "group consume after recovery exited $?"
sed 's/:/=/' "$AV_TMP/after.txt" | sort >"$AV_TMP/want2.txt"
sort "$AV_TMP/got2.txt" >"$AV_TMP/got2.sorted"
diff -u "$AV_TMP/want2.txt" "$AV_TMP/got2.sorted" ||
    av_fail "group1 did not resume at its committed offsets"
consume_all "$AV_TMP/all.txt" || av_fail "consume of all stored messages exited $?"
total=$(wc -l <"$AV_TMP/all.txt")
[ "$total" = $((N + NEW)) ] || av_fail "t1 holds $total messages, expected $((N + NEW))"
sort "$AV_TMP/all.txt" | comm -23 "$AV_TMP/want1.txt" - >"$AV_TMP/lost.txt"
[ ! -s "$AV_TMP/lost.txt" ] || av_fail "messages lost in the outage: $(cat "$AV_TMP/lost.txt")"
! grep -q during "$AV_TMP/all.txt" || av_fail "the produce during the outage was stored"

echo "6. command line: bad arguments rejected, --port honoured"
broker="$AV_BUILD_DIR/tests/support/kafka-broker"
for args in "t1:0" "t1" ":3" "t1:2 t1:3" "--brokers 0" "--port 70000" "--nope"; do
    rc=0
    # shellcheck disable=SC2086 # word splitting of the argument list is intended
    timeout 10 "$broker" $args >/dev/null 2>"$AV_TMP/bad.err" || rc=$?
    [ "$rc" = 2 ] || av_fail "kafka-broker $args exited $rc, expected 2"
    grep -q 'kafka-broker:' "$AV_TMP/bad.err" || av_fail "kafka-broker $args printed no reason"
done
first_pid=$BROKER_PID
first_bootstrap=$KAFKA_BOOTSTRAP
busy=$(bootstrap_ports "$first_bootstrap" | head -n 1)
rc=0
timeout 10 "$broker" --port "$busy" >/dev/null 2>"$AV_TMP/busy.err" || rc=$?
[ "$rc" = 1 ] || av_fail "kafka-broker on busy port $busy exited $rc, expected 1"
grep -q "cannot use port 127.0.0.1:$busy" "$AV_TMP/busy.err" ||
    av_fail "busy port not named: $(cat "$AV_TMP/busy.err")"
port=$(av_free_port)
av_start_broker --port "$port" t2:2
[ "$KAFKA_BOOTSTRAP" = "127.0.0.1:$port" ] ||
    av_fail "--port $port gave bootstrap $KAFKA_BOOTSTRAP"
echo "k:v" | kcat -b "$KAFKA_BOOTSTRAP" -P -t t2 -K: -X message.timeout.ms=10000 ||
    av_fail "produce to the --port broker failed"
av_stop "$BROKER_PID"

echo "7. SIGTERM stops the broker with status 0"
kill -TERM "$first_pid"
rc=0
wait "$first_pid" || rc=$?
[ "$rc" = 0 ] || av_fail "broker exited $rc on SIGTERM"
for port in $(bootstrap_ports "$first_bootstrap"); do
    ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || av_fail "port $port still open after stop"
done

echo "PASS test_broker"
