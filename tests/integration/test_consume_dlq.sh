#!/usr/bin/env bash
# test_consume_dlq.sh - poison messages go to the dead-letter topic with the
# right code, and the partition keeps flowing past them.
#
# One input partition, so "after" means after: 6 poison events, 8 valid ones,
# a tombstone (null value), 6 more poison events, 8 more valid ones. One event
# per permanent error class (invalid_json twice: bad JSON and the tombstone,
# schema_violation, no_vm_name, unknown_vm_name, sha256_mismatch,
# size_mismatch, dump_too_large, file_url_forbidden, dump_not_found,
# invalid_dump_url, invalid_vector) and one transient failure that never heals
# (a dump on a closed port): retried with backoff while the partition is paused,
# then dead-lettered as dump_unavailable after max_attempts = 3.
#   - exactly one dead letter per poison event, with its code, in input order,
#     keyed like the input, valid against the dead-letter schema;
#   - every valid event, before and after the poison, has exactly one result;
#   - the retries show in the log (attempts 1 and 2 failed, the third gave up);
#   - the offsets were committed past the poison: --until-end consumes nothing;
#   - a result too large for the broker (-X message.max.bytes=2000) is
#     published without its API list (apis_omitted says why), not lost;
#   - outputs the broker refuses anyway (-X message.max.bytes=1000): produced
#     again with backoff, and after max_attempts the event is dead-lettered as
#     "internal" instead of being dropped or blocking the partition; every
#     event ends with exactly one result or one such dead letter.
source "$AV_SOURCE_DIR/tests/integration/consume_common.sh"

av_start_broker apivector.dumps:1 apivector.results:1 apivector.dlq:1 big.dumps:1 big.results:1 \
    big.dlq:1 huge.dumps:1 huge.results:1 huge.dlq:1
consume_env max_dump_bytes=250000 max_attempts=3 retry_backoff_ms=200 retry_backoff_max_ms=1000
closed=$(av_free_port)
$CHECK poison "$AV_TMP/poison.tsv" "$AV_TMP/poison.codes" "$HTTP_URL" "$closed"
$CHECK events "$AV_TMP/valid1.tsv" 8 --prefix a --skip x86_256k_scattered
$CHECK events "$AV_TMP/valid2.tsv" 8 --prefix b --start 8 --skip x86_256k_scattered
cat "$AV_TMP/valid1.tsv" "$AV_TMP/valid2.tsv" >"$AV_TMP/valid.tsv"
{
    head -n 6 "$AV_TMP/poison.codes"
    echo "p.tomb invalid_json"
    tail -n +7 "$AV_TMP/poison.codes"
} >"$AV_TMP/expect.codes"
npoison=$(wc -l <"$AV_TMP/expect.codes")

echo "1. produce: poison, valid, tombstone, poison, valid"
head -n 6 "$AV_TMP/poison.tsv" >"$AV_TMP/p1.tsv"
tail -n +7 "$AV_TMP/poison.tsv" >"$AV_TMP/p2.tsv"
produce apivector.dumps "$AV_TMP/p1.tsv"
produce apivector.dumps "$AV_TMP/valid1.tsv"
printf 'p.tomb\t\n' | kcat -b "$KAFKA_BOOTSTRAP" -P -t apivector.dumps -K $'\t' -Z ||
    av_fail "producing the tombstone failed"
produce apivector.dumps "$AV_TMP/p2.tsv"
produce apivector.dumps "$AV_TMP/valid2.tsv"

echo "2. consume: $npoison dead letters, 16 results"
consume_start c1
wait_count apivector.dlq apivector.dead-letter.v1 "$npoison" 60
wait_count apivector.results apivector.result.v1 16 30
sleep 2
read_topic apivector.results "$AV_TMP/results.json"
read_topic apivector.dlq "$AV_TMP/dlq.json"
$CHECK dlq "$AV_TMP/dlq.json" "$AV_TMP/expect.codes"
$CHECK results "$AV_TMP/results.json" "$AV_TMP/valid.tsv" --exact
$CHECK validate "$AV_TMP/results.json" "$AV_TMP/dlq.json"
"$AV_PYTHON" - "$AV_TMP/dlq.json" <<'PY' || av_fail "dead letter fields"
import json, sys
recs = [json.loads(json.loads(l)["payload"]) for l in open(sys.argv[1])]
by = {r["source"]["key"]: r for r in recs}
down = by["p.down"]
assert down["error"]["transient"] is True and down["attempts"] == 3, down
assert "gave up after 3 attempts" in down["error"]["message"], down["error"]["message"]
assert by["p.tomb"]["event_id"] is None and by["p.tomb"]["original"]["size"] == 0
assert by["p.sha"]["event_id"] == "p.sha" and by["p.sha"]["attempts"] == 1
assert all(r["source"]["topic"] == "apivector.dumps" for r in recs)
PY
retries=$(grep '"error_code":"dump_unavailable"' "$AV_TMP/c1.log" | grep -c 'will retry' || true)
[ "$retries" = 2 ] || av_fail "expected 2 retries of p.down, saw $retries"
assert_no_errors c1

echo "3. committed past the poison: --until-end consumes nothing"
stop_consumer "$CONSUMER_PID" 20
[ "$RC" = 0 ] || av_fail "consumer exited $RC on SIGTERM"
consume_run c2 60 --until-end
[ "$RC" = 0 ] || av_fail "--until-end exited $RC"
$CHECK summary "$(cat "$AV_TMP/c2.out")" consumed=0 complete=true

echo "4. results too large for the broker keep their vector: the API list is omitted"
$CHECK events "$AV_TMP/big.tsv" 16 --prefix g --skip x86_256k_scattered
produce big.dumps "$AV_TMP/big.tsv"
consume_run big 60 --until-end --input-topic big.dumps --results-topic big.results \
    --dlq-topic big.dlq --group-id big -X message.max.bytes=2000
[ "$RC" = 0 ] || av_fail "--until-end exited $RC"
read_topic big.results "$AV_TMP/big.results.json"
read_topic big.dlq "$AV_TMP/big.dlq.json"
$CHECK validate "$AV_TMP/big.results.json" "$AV_TMP/big.dlq.json"
"$AV_PYTHON" - "$AV_TMP/big.tsv" "$AV_TMP/big.results.json" "$AV_TMP/big.dlq.json" <<'PY' ||
import collections, json, sys
events = [l.split("\t", 1)[0] for l in open(sys.argv[1])]
outcome = collections.Counter()
for line in open(sys.argv[2]):
    v = json.loads(json.loads(line)["payload"])
    if v["schema"] != "apivector.result.v1":
        continue
    outcome[v["event_id"]] += 1
    assert len(line) < 2000, "a %d-byte record passed a 2000-byte limit" % len(line)
    if "apis_omitted" in v:
        assert "apis" not in v and v["apis_omitted"]["count"] > 0, v
        assert "message.max.bytes" in v["apis_omitted"]["reason"], v
        outcome["omitted"] += 1
assert all(outcome[e] == 1 for e in events), outcome
assert outcome["omitted"] > 0, outcome
assert sum(1 for _ in open(sys.argv[3])) == 0, "dead letters written"
print("   %d results, %d without their API list" % (len(events), outcome["omitted"]))
PY
    av_fail "oversized results were not shrunk"
assert_no_errors big

echo "5. outputs the broker refuses anyway: dead-lettered as internal after max_attempts"
$CHECK events "$AV_TMP/huge.tsv" 8 --prefix h --skip x86_256k_scattered
produce huge.dumps "$AV_TMP/huge.tsv"
consume_run huge 60 --until-end --input-topic huge.dumps --results-topic huge.results \
    --dlq-topic huge.dlq --group-id huge -X message.max.bytes=1000
[ "$RC" = 0 ] || av_fail "--until-end exited $RC"
read_topic huge.results "$AV_TMP/huge.results.json"
read_topic huge.dlq "$AV_TMP/huge.dlq.json"
"$AV_PYTHON" - "$AV_TMP/huge.tsv" "$AV_TMP/huge.results.json" "$AV_TMP/huge.dlq.json" <<'PY' ||
import collections, json, sys
events = [l.split("\t", 1)[0] for l in open(sys.argv[1])]
outcome = collections.Counter()
for path in sys.argv[2:]:
    for line in open(path):
        v = json.loads(json.loads(line)["payload"])
        if v["schema"] == "apivector.dead-letter.v1":
            assert v["error"]["code"] == "internal", v["error"]
            assert "could not be produced after 3 attempts" in v["error"]["message"], v["error"]
            outcome[v["event_id"]] += 1
            outcome["dlq"] += 1
        elif v["schema"] == "apivector.result.v1":
            outcome[v["event_id"]] += 1
assert all(outcome[e] == 1 for e in events), outcome
assert outcome["dlq"] > 0, outcome
print("   %d events, %d dead letters" % (len(events), outcome["dlq"]))
PY
    av_fail "refused outputs were not handled"
[ "$(grep -c 'outputs not acknowledged' "$AV_TMP/huge.log")" -gt 0 ] || av_fail "no retry logged"
assert_no_errors huge

echo "PASS test_consume_dlq"
