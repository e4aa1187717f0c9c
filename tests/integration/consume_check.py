#!/usr/bin/python3
"""consume_check.py - inputs and checks for tests/integration/test_consume_*.sh
(a helper, not a test: it is not named test_*).

  www DIR
      fills DIR (the support server's root) with copies (the server refuses
      symlinks leading out of its root): apiscout/<vm>.json
      for every conformance DB, apiscout/winapi1024v1.txt, dumps/<case>.bin,
      and writes apivector_lists/oracle.csv holding each usable case's expected
      primary vector as family "case.<name>".
  config OUT HTTP_URL REDIS_PORT [KEY=JSON ...]
      writes a consumer configuration (short timeouts, the oracle collection,
      the conformance dumps folder as dump_file_roots); KEY=JSON pairs override.
  events OUT N [--prefix P] [--via file|http --http URL] [--start K]
         [--skip CASE]
      N valid dump-ready events cycling through the usable conformance cases
      (but CASE), one "event_id<TAB>json" line each (kcat -K with a tab);
      event ids are P<k>.<case>.
  poison OUT CODES HTTP_URL CLOSED_PORT
      one event per permanent error class (OUT, "key<TAB>value" lines) and
      the error code each must get (CODES, one per line, same order); the
      last one names a dump on CLOSED_PORT: transient, dead-lettered after
      max_attempts.
  results OUT EVENTS [--exact]
      every event of EVENTS has a result event whose vector and counts equal
      its case's expected primary vector; with --exact exactly one each and no
      other result event. Prints "results=R distinct=D duplicates=U".
  matches OUT EVENTS
      the oracle collection's gate: each result above min_confidence (50) has
      a match event per distinct result whose top entry is its own family
      "case.<name>" at score 1.0; below it, match_skipped and no match event.
  same A B
      the result and match events of A and B are the same per event (apart
      from timings_ms and produced_at): vectors and matches do not depend on
      the thread count or the run.
  validate FILE...
      every record (kcat -J lines) validates against schemas/<schema>.json.
  dlq OUT [CODES_FILE]
      the DLQ file holds exactly the dead letters listed in CODES_FILE
      ("key code" lines, in input order on one partition): one each, with
      that error.code, in the order of their source offsets; none without a
      file.
  summary LINE KEY=VALUE...
      the --until-end summary (JSON) has these values.
Environment: CONFORMANCE_DIR, APISCOUT_DATA_DIR, AV_SOURCE_DIR.
"""
import collections
import json
import os
import shutil
import sys

import jsonschema

CONF = os.environ["CONFORMANCE_DIR"]
DATA = os.environ["APISCOUT_DATA_DIR"]
SRC = os.environ["AV_SOURCE_DIR"]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def usable_cases():
    """Cases a consumer with the default engine options reproduces: one DB,
    ASLR applied, neighbour filter 32, no address range."""
    out = []
    for name in sorted(os.listdir(os.path.join(CONF, "cases"))):
        with open(os.path.join(CONF, "cases", name)) as f:
            c = json.load(f)
        o = c["options"]
        if (len(c["dbs"]) == 1 and not o["ignore_aslr"] and o["filter_distance"] == 32
                and not o["from_address"] and not o["to_address"]):
            out.append(c)
    return out


def vm_of(case):
    return os.path.splitext(os.path.basename(case["dbs"][0]))[0]


def link(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)


def cmd_www(d):
    for db in os.listdir(os.path.join(CONF, "dbs")):
        link(os.path.join(CONF, "dbs", db), os.path.join(d, "apiscout", db))
    link(os.path.join(DATA, "winapi1024v1.txt"), os.path.join(d, "apiscout", "winapi1024v1.txt"))
    for dump in os.listdir(os.path.join(CONF, "dumps")):
        link(os.path.join(CONF, "dumps", dump), os.path.join(d, "dumps", dump))
    os.makedirs(os.path.join(d, "apivector_lists"), exist_ok=True)
    with open(os.path.join(d, "apivector_lists", "oracle.csv"), "w") as f:
        for c in usable_cases():
            p = c["expected"]["primary"]
            f.write("case.%s;%s;%d;%d;%s\n" % (c["name"], c["name"], p["in_api_vector"],
                                               p["num_unique_apis"], p["vector"]))


def cmd_config(out, http_url, redis_port, *pairs):
    cfg = {
        "support_url": http_url,
        "redis_host": "127.0.0.1",
        "redis_port": int(redis_port),
        "dump_file_roots": [os.path.realpath(os.path.join(CONF, "dumps"))],
        "apivector_lists": {"oracle.csv": {"classification": "TLP:GREEN"}},
        "http_retries": 0,
        "http_connect_timeout_ms": 1000,
        "http_timeout_ms": 5000,
        "max_attempts": 3,
        "retry_backoff_ms": 200,
        "retry_backoff_max_ms": 2000,
        "shutdown_timeout_ms": 15000,
        "workers": 2,
        "metrics_port": 0,
    }
    for p in pairs:
        k, v = p.split("=", 1)
        cfg[k] = json.loads(v)
    with open(out, "w") as f:
        json.dump(cfg, f, indent=1)


def cmd_events(out, n, *args):
    opts = {"--prefix": "e", "--via": "file", "--http": "", "--start": "0", "--skip": ""}
    for i in range(0, len(args), 2):
        opts[args[i]] = args[i + 1]
    cases = [c for c in usable_cases() if c["name"] != opts["--skip"]]
    start = int(opts["--start"])
    with open(out, "w") as f:
        for k in range(start, start + int(n)):
            c = cases[k % len(cases)]
            eid = "%s%d.%s" % (opts["--prefix"], k, c["name"])
            dump = {"name": c["dump_name"]}
            if opts["--via"] == "file":
                dump["url"] = "file://" + os.path.realpath(os.path.join(CONF, c["dump"]))
            else:
                dump["url"] = "%s/dumps/%s" % (opts["--http"], os.path.basename(c["dump"]))
                dump["sha256"] = c["dump_sha256"]
            if c["options"]["base_address"] is not None:
                dump["base_address"] = c["options"]["base_address"]
            ev = {"schema": "apivector.dump-ready.v1", "event_id": eid, "dump": dump,
                  "vm_name": vm_of(c)}
            f.write("%s\t%s\n" % (eid, json.dumps(ev)))


def cmd_poison(out, codes, http_url, closed_port):
    dumps = os.path.realpath(os.path.join(CONF, "dumps"))
    toy_file = "file://" + os.path.join(dumps, "toy.bin")
    toy_http = http_url + "/dumps/toy.bin"
    vm = "win7_x86_syn"

    def ev(eid, **kw):
        d = {"schema": "apivector.dump-ready.v1", "event_id": eid}
        d.update(kw)
        return json.dumps(d)

    rows = [
        ("p.badjson", '{"schema": "apivector.dump-ready.v1", "event_id": "oops', "invalid_json"),
        ("p.schema", ev("p.schema", dump={"url": "ftp://host/x"}), "schema_violation"),
        ("p.novm", ev("p.novm", dump={"url": toy_file}), "no_vm_name"),
        ("p.unknownvm", ev("p.unknownvm", vm_name="nosuchvm", dump={"url": toy_file}),
         "unknown_vm_name"),
        ("p.sha", ev("p.sha", vm_name="toy_db", dump={"url": toy_http, "sha256": "0" * 64}),
         "sha256_mismatch"),
        ("p.size", ev("p.size", vm_name="toy_db", dump={"url": toy_http, "size": 61}),
         "size_mismatch"),
        ("p.big", ev("p.big", vm_name=vm, dump={"url": "file://" + os.path.join(
            dumps, "x86_256k_scattered.bin")}), "dump_too_large"),
        ("p.etc", ev("p.etc", vm_name=vm, dump={"url": "file:///etc/passwd"}),
         "file_url_forbidden"),
        ("p.nodump", ev("p.nodump", vm_name=vm, dump={"url": http_url + "/dumps/missing.bin"}),
         "dump_not_found"),
        ("p.badurl", ev("p.badurl", vm_name=vm, dump={"url": "http://127.0.0.1:99999/x.bin"}),
         "invalid_dump_url"),
        ("p.badvec", ev("p.badvec", vm_name=vm, dump={"url": toy_file}, vectors=["3:3:AAAA"]),
         "invalid_vector"),
        ("p.down", ev("p.down", vm_name=vm, dump={
            "url": "http://127.0.0.1:%s/dumps/toy.bin" % closed_port}), "dump_unavailable"),
    ]
    with open(out, "w") as f:
        for key, value, _ in rows:
            f.write("%s\t%s\n" % (key, value))
    with open(codes, "w") as f:
        for key, _, code in rows:
            f.write("%s %s\n" % (key, code))


def read_records(path):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                r["value"] = json.loads(r["payload"])
                recs.append(r)
    return recs


def read_events(path):
    evs = collections.OrderedDict()
    with open(path) as f:
        for line in f:
            eid, js = line.rstrip("\n").split("\t", 1)
            evs[eid] = json.loads(js)
    return evs


def cmd_results(out, events, *flags):
    exact = "--exact" in flags
    cases = {c["name"]: c for c in usable_cases()}
    evs = read_events(events)
    got = collections.defaultdict(list)
    for r in read_records(out):
        v = r["value"]
        if v["schema"] == "apivector.result.v1":
            got[v["event_id"]].append(v)
    missing = [e for e in evs if e not in got]
    if missing:
        fail("%d event(s) without a result, e.g. %s" % (len(missing), missing[:5]))
    stray = [e for e in got if e not in evs]
    if stray:
        fail("result events for unknown event ids: %s" % stray[:5])
    for eid, results in got.items():
        case = cases[eid.split(".", 1)[1]]
        p = case["expected"]["primary"]
        for v in results:
            for k in ("vector", "in_api_vector", "num_unique_apis"):
                if v[k] != p[k]:
                    fail("%s: %s is %r, expected %r" % (eid, k, v[k], p[k]))
            if abs(v["confidence"] - case["expected"]["confidence"]) > 1e-9 * max(
                    1, case["expected"]["confidence"]):
                fail("%s: confidence %r, expected %r" % (eid, v["confidence"],
                                                         case["expected"]["confidence"]))
    total = sum(len(v) for v in got.values())
    dups = total - len(got)
    if exact and dups:
        fail("%d duplicate result event(s)" % dups)
    print("results=%d distinct=%d duplicates=%d" % (total, len(got), dups))


def cmd_matches(out, events):
    evs = read_events(events)
    recs = [r["value"] for r in read_records(out)]
    results = {v["event_id"]: v for v in recs if v["schema"] == "apivector.result.v1"}
    matches = collections.defaultdict(list)
    for v in recs:
        if v["schema"] == "apivector.match.v1":
            matches[v["event_id"]].append(v)
    checked = 0
    for eid in evs:
        res, case = results[eid], eid.split(".", 1)[1]
        if res["confidence"] > 50.0:
            if not matches[eid]:
                fail("%s: confidence %.2f but no match event" % (eid, res["confidence"]))
            for m in matches[eid]:
                own = [t for t in m["top"] if t["family"] == "case." + case]
                if (m["collection"]["name"] != "oracle.csv" or m["top"][0]["score"] != 1.0
                        or not own or own[0]["score"] != 1.0):
                    fail("%s: its own family is not first at 1.0: %s" % (eid, json.dumps(m)[:300]))
            checked += 1
        elif matches[eid] or "match_skipped" not in res:
            fail("%s: confidence %.2f without match_skipped, or with match events" %
                 (eid, res["confidence"]))
    print("matched=%d" % checked)


def comparable(path):
    out = collections.defaultdict(list)
    for r in read_records(path):
        v = dict(r["value"])
        v.pop("timings_ms", None)
        v.pop("produced_at", None)
        out[v["event_id"]].append(json.dumps(v, sort_keys=True))
    return {k: sorted(v) for k, v in out.items()}


def cmd_same(a, b):
    ra, rb = comparable(a), comparable(b)
    if ra.keys() != rb.keys():
        fail("different event ids: %s" % sorted(set(ra) ^ set(rb))[:5])
    for k in ra:
        if ra[k] != rb[k]:
            fail("%s differs:\n%s\n%s" % (k, ra[k], rb[k]))
    print("same=%d" % len(ra))


def cmd_validate(*paths):
    schemas = {}
    n = 0
    for path in paths:
        for r in read_records(path):
            v = r["value"]
            name = v.get("schema")
            if name not in schemas:
                with open(os.path.join(SRC, "schemas", "%s.json" % name)) as f:
                    schemas[name] = json.load(f)
            try:
                jsonschema.Draft202012Validator(
                    schemas[name], format_checker=jsonschema.FormatChecker()).validate(v)
            except jsonschema.ValidationError as e:
                fail("%s offset %s: %s" % (path, r["offset"], e.message))
            n += 1
    print("validated=%d" % n)


def cmd_dlq(out, codes=None):
    want = []
    if codes:
        with open(codes) as f:
            want = [tuple(line.split()) for line in f if line.strip()]
    # workers finish out of order: order by the input offset, not the DLQ's
    recs = sorted(read_records(out), key=lambda r: r["value"]["source"]["offset"])
    got = []
    for r in recs:
        v = r["value"]
        got.append((r["key"], v["error"]["code"]))
        if v["source"]["key"] != r["key"]:
            fail("dead letter key %r but source.key %r" % (r["key"], v["source"]["key"]))
    if got != want:
        fail("dead letters %s, expected %s" % (got, want))
    print("dead_letters=%d" % len(recs))


def cmd_summary(line, *pairs):
    s = json.loads(line)
    for p in pairs:
        k, v = p.split("=", 1)
        if str(s.get(k)).lower() != v.lower():
            fail("summary %s=%s, expected %s (%s)" % (k, s.get(k), v, line))


def main():
    if len(sys.argv) < 2:
        fail(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"www": cmd_www, "config": cmd_config, "events": cmd_events, "results": cmd_results,
     "validate": cmd_validate, "matches": cmd_matches,
     "poison": cmd_poison, "same": cmd_same, "dlq": cmd_dlq, "summary": cmd_summary}[cmd](*args)


if __name__ == "__main__":
    main()
