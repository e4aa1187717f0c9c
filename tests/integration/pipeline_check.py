#!/usr/bin/python3
"""pipeline_check.py - builds the inputs of test_pipeline.sh and checks what
pipeline-tool printed (a helper, not a test: it is not named test_*).

  prepare DIR HTTP_URL REDIS_PORT
      fills DIR/www (the support server's root: DBs under vm names, the
      WinApi1024 table, collections, dumps), writes one config and one event
      file per configuration group and DIR/cases.json (event_id -> case). Every
      conformance case that cannot be expressed as an event is printed with the
      reason it is skipped.
  prepare-errors DIR HTTP_URL REDIS_PORT
      DIR/{config,events,expect}.errors.*: one event per permanent error class
      (and default_db resolution), with the outcome each must have; and
      DIR/config.transient.json for the transient runs
  check-cases DIR GROUP OUT
      every event of the group gave exactly one result event whose fields equal
      the case's expected values, the gate was applied (match events when
      confidence > min_confidence, match_skipped otherwise), and every match
      event equals the engine's matcher (`apivector match V --collection C
      --json`, conformance-tested): top, families, counts, sha256, confidence;
      for the oracle collection, the case's own family comes first at 1.0.
  check-vectors DIR OUT      the vectors-only events (see prepare): match
                             events with vector.source "event", checked the same way
  check-outcomes OUT EXPECT  per offset: error code, dead letter, failed, the
                             dead letter's fields (EXPECT: JSON list)
  same OUT_A OUT_B           the same records apart from timings and produced_at
  stat OUT KEY               a counter of pipeline-tool's --stats line
  validate OUT...            every record validates against its JSON schema
Environment: CONFORMANCE_DIR, APISCOUT_DATA_DIR, AV_SOURCE_DIR, AV_APIVECTOR.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import jsonschema

CONF = os.environ["CONFORMANCE_DIR"]
DATA = os.environ["APISCOUT_DATA_DIR"]
SRC = os.environ["AV_SOURCE_DIR"]
MIN_CONFIDENCE = 50.0
MIN_JACCARD = 0.40
TOP_N = 10
MALPEDIA_KEY = "pipeline-test-key"

# Configuration groups: the engine options a case needs that a consumer can
# only get from its configuration.
GROUPS = {
    "aslr32": {"ignore_aslr": False, "filter_distance": 32},
    "noaslr32": {"ignore_aslr": True, "filter_distance": 32},
    "aslr0": {"ignore_aslr": False, "filter_distance": 0},
}
COLLECTIONS = {"syn200.csv": "TLP:GREEN", "oracle.csv": "TLP:AMBER"}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def load_cases():
    out = []
    for name in sorted(os.listdir(os.path.join(CONF, "cases"))):
        if name.endswith(".json"):
            with open(os.path.join(CONF, "cases", name)) as f:
                out.append(json.load(f))
    return out


def case_group(case):
    """The group a case runs in, or (None, reason)."""
    opt = case["options"]
    if len(case["dbs"]) != 1:
        return None, "%d DBs: an event's vm_name names exactly one DB" % len(case["dbs"])
    if opt.get("from_address") or opt.get("to_address"):
        return None, "from/to address range: no event field or config key sets it"
    for g, o in GROUPS.items():
        if o["ignore_aslr"] == opt["ignore_aslr"] and o["filter_distance"] == opt["filter_distance"]:
            return g, None
    return None, "ignore_aslr %s with filter_distance %d: no configuration group" % (
        opt["ignore_aslr"], opt["filter_distance"])


def vm_of(case):
    return os.path.splitext(os.path.basename(case["dbs"][0]))[0]


def sha_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_out(path):
    lines = []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if "stats" not in d:
                lines.append(d)
    return lines


def base_config(http_url, redis_port, dump_root):
    return {
        "support_url": http_url,
        "redis_host": "127.0.0.1",
        "redis_port": int(redis_port),
        "dump_file_roots": [dump_root],
        "http_retries": 0,
        "http_connect_timeout_ms": 2000,
        "http_timeout_ms": 10000,
        "max_attempts": 3,
        "min_confidence": MIN_CONFIDENCE,
        "min_jaccard": MIN_JACCARD,
        "top_n": TOP_N,
    }


def prepare(d, http_url, redis_port):
    www = os.path.join(d, "www")
    for sub in ("apiscout", "apivector_lists", "dumps", "malpedia"):
        os.makedirs(os.path.join(www, sub), exist_ok=True)
    for db in os.listdir(os.path.join(CONF, "dbs")):
        shutil.copyfile(os.path.join(CONF, "dbs", db), os.path.join(www, "apiscout", db))
    # the same DB under a second name, for the tests that break its URL
    for vm in ("flaky", "coldvm"):
        shutil.copyfile(os.path.join(CONF, "dbs", "win7_x86_syn.json"),
                        os.path.join(www, "apiscout", vm + ".json"))
    shutil.copyfile(os.path.join(DATA, "winapi1024v1.txt"),
                    os.path.join(www, "apiscout", "winapi1024v1.txt"))
    syn = os.path.join(CONF, "collections", "syn200.csv")
    shutil.copyfile(syn, os.path.join(www, "apivector_lists", "syn200.csv"))
    shutil.copyfile(syn, os.path.join(www, "malpedia", "csv"))
    for dump in os.listdir(os.path.join(CONF, "dumps")):
        shutil.copyfile(os.path.join(CONF, "dumps", dump), os.path.join(www, "dumps", dump))

    cases, oracle, events = {}, [], {g: [] for g in GROUPS}
    for case in load_cases():
        group, why = case_group(case)
        if group is None:
            print("skip %s: %s" % (case["name"], why))
            continue
        p = case["expected"]["primary"]
        oracle.append("case.%s;%s;%d;%d;%s" % (case["name"], case["name"], p["in_api_vector"],
                                               p["num_unique_apis"], p["vector"]))
        dump_path = os.path.join(CONF, case["dump"])
        for via in ("file", "http"):
            eid = "%s.%s" % (case["name"], via)
            dump = {"name": case["dump_name"]}
            if via == "file":
                dump["url"] = "file://" + os.path.realpath(dump_path)
            else:
                dump["url"] = "%s/dumps/%s" % (http_url, os.path.basename(dump_path))
                dump["sha256"] = case["dump_sha256"]
                dump["size"] = os.path.getsize(dump_path)
            base = case["options"]["base_address"]
            if base is not None:  # both forms: an integer, or a "0x..." string
                dump["base_address"] = base if via == "file" else "0x%X" % base
            ev = {"schema": "apivector.dump-ready.v1", "event_id": eid, "dump": dump}
            # each way of naming the vm_name, in turn
            n = len(events[group])
            if n % 3 == 0:
                ev["vm_name"] = vm_of(case)
            elif n % 3 == 1:
                ev["submission"] = {"sid": "1", "tags": {"vm_name": vm_of(case)}}
            else:
                ev["submission"] = {"metadata": {"vm_name": vm_of(case), "other": [1]}}
            events[group].append(json.dumps(ev))
            cases[eid] = {"case": case["name"], "group": group}
    with open(os.path.join(www, "apivector_lists", "oracle.csv"), "w") as f:
        f.write("# expected primary vectors of the conformance cases\n" + "\n".join(oracle) + "\n")
    with open(os.path.join(d, "cases.json"), "w") as f:
        json.dump(cases, f)
    for g, opts in GROUPS.items():
        cfg = base_config(http_url, redis_port, os.path.realpath(os.path.join(CONF, "dumps")))
        cfg.update(opts)
        cfg["apivector_lists"] = {k: {"classification": v} for k, v in COLLECTIONS.items()}
        if g == "aslr32":
            cfg["malpedia_apikey"] = MALPEDIA_KEY
            cfg["malpedia_url"] = http_url + "/malpedia/csv"
            cfg["apiscout_dbs"] = ["win7_x86_syn", "toy_db"]
        with open(os.path.join(d, "config.%s.json" % g), "w") as f:
            json.dump(cfg, f, indent=1)
        with open(os.path.join(d, "events.%s.jsonl" % g), "w") as f:
            f.write("\n".join(events[g]) + "\n")
    prepare_vectors(d)
    print("prepared %d events in %d groups" % (len(cases), len(GROUPS)))


def prepare_vectors(d):
    """Vector-only events: one high-confidence case vector (with a dump but no
    vm_name: the dump must not be pulled), one low-confidence vector."""
    hi = lo = None
    for case in load_cases():
        p = case["expected"]["primary"]
        tag = "%d:%d:%s" % (p["in_api_vector"], p["num_unique_apis"], p["vector"])
        if case["expected"]["confidence"] > MIN_CONFIDENCE and hi is None:
            hi = (case["name"], tag)
        if 0 < case["expected"]["confidence"] <= MIN_CONFIDENCE and lo is None:
            lo = (case["name"], tag)
    evs = [
        {"schema": "apivector.dump-ready.v1", "event_id": "vec.hi", "vectors": [hi[1], lo[1]],
         "dump": {"url": "http://127.0.0.1:1/never-pulled.bin"}},
        {"schema": "apivector.dump-ready.v1", "event_id": "vec.lo", "vectors": [lo[1]]},
    ]
    with open(os.path.join(d, "events.vectors.jsonl"), "w") as f:
        f.write("\n".join(json.dumps(e) for e in evs) + "\n")
    with open(os.path.join(d, "vectors.json"), "w") as f:
        json.dump({"hi": hi[0], "lo": lo[0]}, f)


def ev(eid, **kw):
    d = {"schema": "apivector.dump-ready.v1", "event_id": eid}
    d.update(kw)
    return json.dumps(d)


def prepare_errors(d, http_url, redis_port):
    """One event per permanent error class, plus default_db resolution."""
    dumps = os.path.realpath(os.path.join(CONF, "dumps"))
    toy_file = "file://" + os.path.join(dumps, "toy.bin")
    toy_http = http_url + "/dumps/toy.bin"
    big = "x86_256k_scattered.bin"
    long_sid = "s" * 256
    vm = "win7_x86_syn"
    cases = [
        ("invalid JSON", '{"schema": "apivector.dump-ready.v1", "event_id": "bad', 
         {"code": "invalid_json", "event_id": None}),
        ("tombstone", "@tombstone", {"code": "invalid_json", "event_id": None,
                                     "message_has": ["tombstone"]}),
        ("schema violation", ev("sv", dump={"url": "ftp://host/x"}),
         {"code": "schema_violation", "event_id": "sv", "message_has": ["dump.url"]}),
        ("schema violation, value truncated in the dead letter",
         ev("trunc", vm_name=vm, dump={"url": toy_file}, submission={"sid": long_sid + "x"}),
         {"code": "schema_violation", "event_id": "trunc", "truncated": True}),
        ("no vm_name", ev("novm", dump={"url": toy_file}, file_type="text/plain"),
         {"code": "no_vm_name", "event_id": "novm"}),
        ("unknown vm_name (404)", ev("unknownvm", vm_name="nosuchvm", dump={"url": toy_file}),
         {"code": "unknown_vm_name", "event_id": "unknownvm", "message_has": ["HTTP 404"]}),
        ("vm_name with a path", ev("pathvm", vm_name="../secret/leak", dump={"url": toy_file}),
         {"code": "unknown_vm_name", "event_id": "pathvm", "message_has": ["vm_name"]}),
        ("vm_name with a control character",
         ev("ctlvm", submission={"tags": {"vm_name": "toy_db\u0001"}}, dump={"url": toy_file}),
         {"code": "unknown_vm_name", "event_id": "ctlvm"}),
        ("sha256 mismatch (http)", ev("shahttp", vm_name="toy_db",
                                      dump={"url": toy_http, "sha256": "0" * 64}),
         {"code": "sha256_mismatch", "event_id": "shahttp"}),
        ("sha256 mismatch (file)", ev("shafile", vm_name="toy_db",
                                      dump={"url": toy_file, "sha256": "a" * 64}),
         {"code": "sha256_mismatch", "event_id": "shafile"}),
        ("size mismatch", ev("size", vm_name="toy_db", dump={"url": toy_http, "size": 61}),
         {"code": "size_mismatch", "event_id": "size"}),
        ("dump too large (file)", ev("bigfile", vm_name=vm,
                                     dump={"url": "file://" + os.path.join(dumps, big)}),
         {"code": "dump_too_large", "event_id": "bigfile"}),
        ("dump too large (http)", ev("bighttp", vm_name=vm,
                                     dump={"url": http_url + "/dumps/" + big}),
         {"code": "dump_too_large", "event_id": "bighttp"}),
        ("file:// outside the roots", ev("etc", vm_name=vm, dump={"url": "file:///etc/passwd"}),
         {"code": "file_url_forbidden", "event_id": "etc"}),
        ("file:// escaping the root with ..",
         ev("dotdot", vm_name=vm, dump={"url": "file://" + dumps + "/../cases/toy.json"}),
         {"code": "file_url_forbidden", "event_id": "dotdot"}),
        ("dump not found (http 404)", ev("nodump", vm_name=vm,
                                         dump={"url": http_url + "/dumps/missing.bin"}),
         {"code": "dump_not_found", "event_id": "nodump"}),
        ("dump not found (file)", ev("nofile", vm_name=vm,
                                     dump={"url": "file://" + dumps + "/missing.bin"}),
         {"code": "dump_not_found", "event_id": "nofile"}),
        ("invalid dump URL", ev("badurl", vm_name=vm,
                                dump={"url": "http://127.0.0.1:99999/x.bin"}),
         {"code": "invalid_dump_url", "event_id": "badurl"}),
        ("invalid vector", ev("badvec", vm_name=vm, dump={"url": toy_file},
                              vectors=["3:3:AAAA"]),
         {"code": "invalid_vector", "event_id": "badvec", "message_has": ["vectors[0]"]}),
        ("default_db for executable/windows", ev("defaultdb", dump={"url": toy_file},
                                                 file_type="executable/windows/pe32"),
         {"result": True, "apis": False}),
    ]
    cfg = base_config(http_url, redis_port, dumps)
    cfg.update({"max_dump_bytes": 100000, "default_db": "toy_db", "dlq_max_value_bytes": 200,
                "include_apis": False})
    with open(os.path.join(d, "config.errors.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    with open(os.path.join(d, "events.errors.jsonl"), "w") as f:
        f.write("\n".join(c[1] for c in cases) + "\n")
    expect = []
    for what, _, want in cases:
        want = dict(want, what=what)
        if "code" in want:
            want["dlq"] = True
        expect.append(want)
    with open(os.path.join(d, "expect.errors.json"), "w") as f:
        json.dump(expect, f, indent=1)
    # the transient runs: no collections, WinApi1024 from disk, a 1 s TTL
    cfg = base_config(http_url, redis_port, dumps)
    cfg.update({"winapi1024": os.path.join(DATA, "winapi1024v1.txt"), "cache_ttl_seconds": 1,
                "cache_check_interval_ms": 0})
    with open(os.path.join(d, "config.transient.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    print("prepared %d error events" % len(cases))


# ------------------------------------------------------------------ checks

MATCH_CACHE = {}


def engine_matches(vector, collection_path):
    key = (vector, collection_path)
    if key not in MATCH_CACHE:
        out = subprocess.run(
            [os.environ["AV_APIVECTOR"], "match", vector, "--collection", collection_path,
             "--json", "--winapi", os.path.join(DATA, "winapi1024v1.txt")],
            check=True, capture_output=True, text=True).stdout
        MATCH_CACHE[key] = json.loads(out)
    return MATCH_CACHE[key]


def collection_path(d, name):
    if name == "malpedia.csv":
        return os.path.join(d, "www", "malpedia", "csv")
    return os.path.join(d, "www", "apivector_lists", name)


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def check_match(d, m, eid, want_source):
    where = "%s: match event for %s" % (eid, m["collection"]["name"])
    if m["event_id"] != eid or m["vector"]["source"] != want_source:
        fail("%s: event_id/source %s/%s" % (where, m["event_id"], m["vector"]["source"]))
    path = collection_path(d, m["collection"]["name"])
    ref = engine_matches(m["vector"]["value"], path)
    col = m["collection"]
    if col["sha256"] != sha_file(path):
        fail("%s: collection sha256 %s" % (where, col["sha256"]))
    if (col["families"], col["vectors"]) != (ref["families_in_collection"],
                                             ref["vectors_in_collection"]):
        fail("%s: collection counts %s" % (where, col))
    want_cls = COLLECTIONS.get(col["name"], "")
    if col["classification"] != want_cls:
        fail("%s: classification %r, want %r" % (where, col["classification"], want_cls))
    if m["vector"]["confidence"] != ref["confidence"]:
        fail("%s: confidence %r, engine %r" % (where, m["vector"]["confidence"], ref["confidence"]))
    top = [[t["family"], t["sample"], t["score"]] for t in m["top"]]
    if top != ref["results"][:TOP_N]:
        fail("%s: top %s\n  engine %s" % (where, top, ref["results"][:TOP_N]))
    fams, seen = [], set()
    for fam, _, score in ref["results"]:
        if fam not in seen:
            seen.add(fam)
            if score > MIN_JACCARD:
                fams.append([fam, score])
    got = [[f["family"], f["score"]] for f in m["families"]]
    if got != fams:
        fail("%s: families %s\n  engine %s" % (where, got, fams))


def check_oracle(m, case_name, eid):
    fams = m["families"]
    own = "case." + case_name
    if not fams or fams[0]["score"] != 1.0:
        fail("%s: oracle: first family %s is not at score 1.0" % (eid, fams[:1]))
    for f in fams:
        if f["family"] == own:
            if f["score"] != 1.0:
                fail("%s: oracle: own family at %r" % (eid, f["score"]))
            return
        if f["score"] != 1.0:
            break  # another family ranks above ours without an identical vector
    fail("%s: oracle: %s is not among the leading families at 1.0: %s" % (eid, own, fams))


def engine_info():
    if "engine" not in MATCH_CACHE:
        version = subprocess.run([os.environ["AV_APIVECTOR"], "version"], check=True,
                                 capture_output=True, text=True).stdout.split()[-1]
        MATCH_CACHE["engine"] = {"version": version, "winapi1024_sha256": sha_file(
            os.path.join(DATA, "winapi1024v1.txt"))}
    return MATCH_CACHE["engine"]


def check_result(case, r, eid, offset):
    e, p = case["expected"], case["expected"]["primary"]
    if r["engine"] != engine_info():
        fail("%s: engine %s, want %s" % (eid, r["engine"], engine_info()))
    if r["source"] != {"topic": "apivector.dumps", "partition": 0, "offset": offset}:
        fail("%s: source %s" % (eid, r["source"]))
    if r["stale"] is not False:
        fail("%s: stale with every server up" % eid)
    db = p["db"]
    want = {
        "vector": p["vector"], "num_unique_apis": p["num_unique_apis"],
        "in_api_vector": p["in_api_vector"], "db": db,
        "tag": "%d:%d:%s" % (p["in_api_vector"], p["num_unique_apis"], p["vector"]),
    }
    for k, v in want.items():
        if r[k] != v:
            fail("%s: %s = %r, want %r" % (eid, k, r[k], v))
    for k, v in (("percentage", p["percentage"]), ("confidence", e["confidence"])):
        if not close(r[k], v):
            fail("%s: %s = %r, want %r" % (eid, k, r[k], v))
    dump = r["dump"]
    if dump["sha256"] != case["dump_sha256"] or dump["name"] != case["dump_name"] or \
            dump["base_address"] != hex(e["base_address_used"]) or \
            dump["size"] != os.path.getsize(os.path.join(CONF, case["dump"])):
        fail("%s: dump %s" % (eid, dump))
    rows = [[a["offset"], int(a["address"], 16), a["dll"], a["api"], a["bitness"],
             a["in_import_table"], a["refs"]] for a in r["apis"]]
    want_rows = [row[:7] for row in e["filtered"][db]]
    if rows != want_rows:
        fail("%s: apis differ from filtered[%s]:\n got  %s\n want %s" % (eid, db, rows[:5],
                                                                          want_rows[:5]))


def check_cases(d, group, out_path):
    with open(os.path.join(d, "cases.json")) as f:
        cases = {k: v for k, v in json.load(f).items() if v["group"] == group}
    by_name = {c["name"]: c for c in load_cases()}
    lines = read_out(out_path)
    ncoll = len(COLLECTIONS) + (1 if group == "aslr32" else 0)
    seen, matched = set(), 0
    for line in lines:
        if line["failed"] or line["dead_lettered"]:
            fail("offset %d failed: %s %s" % (line["offset"], line["error_code"],
                                              line["error_message"]))
        recs = line["records"]
        r = recs[0]["value"]
        eid = r["event_id"]
        if eid not in cases or eid in seen or r["schema"] != "apivector.result.v1":
            fail("unexpected or repeated first record %s" % eid)
        seen.add(eid)
        case = by_name[cases[eid]["case"]]
        check_result(case, r, eid, line["offset"])
        if any(x["key"] != eid or x["dest"] != "results" for x in recs):
            fail("%s: a record has another key or destination" % eid)
        matches = [x["value"] for x in recs[1:]]
        if r["confidence"] > MIN_CONFIDENCE:
            if "match_skipped" in r or len(matches) != ncoll or line["match_events"] != ncoll:
                fail("%s: confidence %r: want %d match events, got %d (%s)" % (
                    eid, r["confidence"], ncoll, len(matches), r.get("match_skipped")))
            for m in matches:
                check_match(d, m, eid, "dump")
                if m["collection"]["name"] == "oracle.csv":
                    check_oracle(m, case["name"], eid)
            matched += 1
        else:
            want = "confidence %.2f is not above min_confidence %.2f" % (r["confidence"],
                                                                        MIN_CONFIDENCE)
            if matches or r.get("match_skipped", {}).get("reason") != want:
                fail("%s: want no match events and match_skipped %r, got %s" % (
                    eid, want, r.get("match_skipped")))
    if seen != set(cases):
        fail("%s: no result for %s" % (group, sorted(set(cases) - seen)))
    print("ok - %s: %d events equal their conformance cases, %d matched against %d "
          "collections" % (group, len(seen), matched, ncoll))


def check_vectors(d, out_path):
    with open(os.path.join(d, "vectors.json")) as f:
        names = json.load(f)
    lines = read_out(out_path)
    hi, lo = lines
    if hi["failed"] or hi["dead_lettered"] or hi["bytes_scanned"] != 0:
        fail("vec.hi: %s" % hi)
    recs = [x["value"] for x in hi["records"]]
    if len(recs) != 2 or any(m["schema"] != "apivector.match.v1" for m in recs):
        fail("vec.hi: want 2 match events (high-confidence vector x 2 collections), got %s" %
             [m["schema"] for m in recs])
    for m in recs:
        check_match(d, m, "vec.hi", "event")
        if m["collection"]["name"] == "oracle.csv":
            check_oracle(m, names["hi"], "vec.hi")
    if lo["failed"] or lo["records"]:
        fail("vec.lo: a vector at or below min_confidence gives no record, got %s" % lo)
    print("ok - vectors-only events: %d match events with source \"event\", the dump was not "
          "pulled, a low-confidence vector gives nothing" % len(recs))


def check_outcomes(out_path, expect_path):
    with open(expect_path) as f:
        expect = json.load(f)
    lines = read_out(out_path)
    if len(lines) != len(expect):
        fail("%d outcomes, want %d" % (len(lines), len(expect)))
    for line, want in zip(lines, expect):
        what = "%s (offset %d)" % (want["what"], line["offset"])
        if line["error_code"] != want.get("code", ""):
            fail("%s: error_code %r, want %r (%s)" % (what, line["error_code"], want.get("code"),
                                                     line["error_message"]))
        if line["failed"] != want.get("failed", 0):
            fail("%s: failed %r" % (what, line["failed"]))
        recs = line["records"]
        if want.get("dlq"):
            if len(recs) != 1 or recs[0]["dest"] != "dlq" or not line["dead_lettered"]:
                fail("%s: want exactly one dead letter, got %s" % (what, recs))
            dl = recs[0]["value"]
            if dl["error"]["code"] != want["code"] or \
                    dl["error"]["transient"] != want.get("transient", False) or \
                    dl["attempts"] != want.get("attempts", 1) or \
                    dl["event_id"] != want.get("event_id") or \
                    recs[0]["key"] != want.get("key", want.get("event_id")) or \
                    dl["source"]["offset"] != line["offset"]:
                fail("%s: dead letter %s" % (what, json.dumps(dl)))
            if "truncated" in want and dl["original"]["truncated"] != want["truncated"]:
                fail("%s: original.truncated %r" % (what, dl["original"]["truncated"]))
            for needle in want.get("message_has", []):
                if needle not in dl["error"]["message"]:
                    fail("%s: message %r lacks %r" % (what, dl["error"]["message"], needle))
        elif want.get("result"):
            if not recs or recs[0]["value"]["schema"] != "apivector.result.v1":
                fail("%s: want a result event, got %s" % (what, line))
            if "stale" in want and recs[0]["value"]["stale"] != want["stale"]:
                fail("%s: stale %r" % (what, recs[0]["value"]["stale"]))
            if "apis" in want and ("apis" in recs[0]["value"]) != want["apis"]:
                fail("%s: want apis %s" % (what, "present" if want["apis"] else "absent"))
        elif recs:
            fail("%s: want no records, got %s" % (what, recs))
        print("ok - %s: %s" % (what, want.get("code") or "result"))


def strip(v):
    v = dict(v)
    v.pop("produced_at", None)
    v.pop("timings_ms", None)
    return v


def same(a_path, b_path):
    a = [[(x["dest"], x["key"], strip(x["value"])) for x in l["records"]] for l in read_out(a_path)]
    b = [[(x["dest"], x["key"], strip(x["value"])) for x in l["records"]] for l in read_out(b_path)]
    if a != b:
        fail("%s and %s differ beyond timings and produced_at" % (a_path, b_path))
    print("ok - %s = %s (%d events, timings and produced_at aside)" % (
        os.path.basename(a_path), os.path.basename(b_path), len(a)))


def stat(path, key):
    with open(path) as f:
        stats = [json.loads(l)["stats"] for l in f if l.startswith('{"stats"')]
    if not stats:
        fail("%s has no stats line" % path)
    print(stats[-1][key])


def validate(paths):
    validators = {}
    for name in ("result", "match", "dead-letter"):
        with open(os.path.join(SRC, "schemas", "apivector.%s.v1.json" % name)) as f:
            schema = json.load(f)
        validators["apivector.%s.v1" % name] = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    n = 0
    for path in paths:
        for line in read_out(path):
            for rec in line["records"]:
                v = rec["value"]
                errors = list(validators[v["schema"]].iter_errors(v))
                if errors:
                    fail("%s offset %d: %s breaks its schema: %s" % (
                        path, line["offset"], v["schema"], errors[0].message))
                n += 1
    if n == 0:
        fail("no records to validate")
    print("ok - %d records validate against their JSON schemas" % n)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "prepare":
        prepare(*args)
    elif cmd == "prepare-errors":
        prepare_errors(*args)
    elif cmd == "check-cases":
        check_cases(*args)
    elif cmd == "check-vectors":
        check_vectors(*args)
    elif cmd == "check-outcomes":
        check_outcomes(*args)
    elif cmd == "same":
        same(*args)
    elif cmd == "stat":
        stat(*args)
    elif cmd == "validate":
        validate(args)
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main()
