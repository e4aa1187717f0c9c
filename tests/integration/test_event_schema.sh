#!/usr/bin/env bash
# test_event_schema.sh - the C event code and the JSON schemas agree.
#
# 1. The error-code table (event-tool codes) is exactly the dead-letter schema's
#    error.code enum, in order, and its transient codes are the ones the schema
#    pins to transient=true.
# 2. The C parser accepts exactly what schemas/apivector.dump-ready.v1.json
#    accepts: every example under schemas/examples/, plus ~1500 documents made by
#    mutating the valid examples (deterministic seed), plus texts that are not
#    JSON. Every mismatch is listed.
# 3. Events built by event_out.c (event-tool samples) validate against their
#    schemas, and the derived fields (tag, hex addresses) say what they should.
# 4. Dead letters of hostile values (multi-byte text cut mid-character, invalid
#    UTF-8, NUL bytes, empty, 100 KiB) are valid JSON, validate, and keep a
#    prefix of the original bytes that decodes back exactly.
# Uses Debian's python3-jsonschema; needs the event-tool target.
source "$AV_SOURCE_DIR/tests/support/lib.sh"
av_tmpdir

TOOL="$AV_BUILD_DIR/tests/support/event-tool"
[ -x "$TOOL" ] || av_fail "missing $TOOL (build the event-tool target)"
export TOOL AV_TMP

"$AV_PYTHON" - <<'PY'
import base64, copy, glob, json, os, random, subprocess, sys
import jsonschema

src = os.environ["AV_SOURCE_DIR"]
tool = os.environ["TOOL"]
tmp = os.environ["AV_TMP"]
failures = []

def schema(name):
    with open(os.path.join(src, "schemas", name + ".json")) as f:
        s = json.load(f)
    return jsonschema.Draft202012Validator(s, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER), s

def check(cond, what):
    if not cond:
        failures.append(what)

# ---- 1. error codes
dlq_v, dlq_s = schema("apivector.dead-letter.v1")
codes = [l.split() for l in subprocess.run([tool, "codes"], check=True, capture_output=True,
                                           text=True).stdout.splitlines()]
enum = dlq_s["properties"]["error"]["properties"]["code"]["enum"]
transient = dlq_s["allOf"][0]["if"]["properties"]["error"]["properties"]["code"]["enum"]
check([c for c, _ in codes] == enum, "codes differ from the schema enum: %s vs %s" % (codes, enum))
check([c for c, t in codes if t == "transient"] == transient, "transient codes differ: %s" % transient)
print("codes: %d, transient: %s" % (len(codes), [c for c, t in codes if t == "transient"]))

# ---- 2. parser agreement
in_v, _ = schema("apivector.dump-ready.v1")
ex = os.path.join(src, "schemas", "examples", "apivector.dump-ready.v1")
cases = []  # (path, python_valid)
for kind in ("valid", "invalid"):
    for p in sorted(glob.glob(os.path.join(ex, kind, "*.json"))):
        with open(p, "rb") as f:
            doc = json.loads(f.read())
        check(in_v.is_valid(doc) == (kind == "valid"), "python disagrees with the folder: " + p)
        cases.append((p, kind == "valid"))

valid_docs = []
for p in sorted(glob.glob(os.path.join(ex, "valid", "*.json"))):
    with open(p) as f:
        valid_docs.append(json.load(f))

POOL = [None, True, False, 0, -1, 1.5, 2.0, 7, "", "x", "0x1F", "0x", "0xfffffffffffffffff", "a\u0000b",
        "http://h/y", "file:///srv/a", "ftp://x", "HTTPS://x", [], {}, ["1:2:A"], ["1:2:"], ["1:2:A", 3],
        9223372036854775807, 9223372036854775808, 1e300, -0.0, 65536.0, "A" * 300, "\u00e9" * 256,
        "\u00e9" * 257, "4:4:A16g\n", "4:4:A16g", "0x400000\n",
        "40c4ab3ac4b3ba2ad7323cdd4d50090b7bc99a157fb14752d44955b935b21342",
        "40C4AB3AC4B3BA2AD7323CDD4D50090B7BC99A157FB14752D44955B935B21342",
        {"vm_name": "w"}, {"vm_name": ""}, {"vm_name": 3}, {"other": [1, {"x": None}]},
        {"url": "http://h/x"}, {"url": "http://h/x", "size": -5}, "apivector.dump-ready.v1"]
KEYS = ["schema", "event_id", "dump", "vm_name", "submission", "file_type", "vectors", "url", "sha256",
        "size", "name", "base_address", "sid", "tags", "metadata", "extra", "Dump", "vm_name\u0000"]

def containers(node, out):
    if isinstance(node, dict):
        out.append(node)
        for v in node.values():
            containers(v, out)
    elif isinstance(node, list):
        out.append(node)
        for v in node:
            containers(v, out)
    return out

def mutate(doc, rnd):
    doc = copy.deepcopy(doc)
    for _ in range(rnd.choice([1, 1, 2, 3])):
        c = rnd.choice(containers(doc, []))
        op = rnd.random()
        if isinstance(c, dict):
            if c and op < 0.35:
                del c[rnd.choice(sorted(c))]
            elif c and op < 0.8:
                c[rnd.choice(sorted(c))] = copy.deepcopy(rnd.choice(POOL))
            else:
                c[rnd.choice(KEYS)] = copy.deepcopy(rnd.choice(POOL))
        else:
            if c and op < 0.4:
                c[rnd.randrange(len(c))] = copy.deepcopy(rnd.choice(POOL))
            elif c and op < 0.6:
                c.pop()
            else:
                c.append(copy.deepcopy(rnd.choice(POOL + ["9:9:Ab", "123456789:0:_"])))
    return doc

rnd = random.Random(20240501)
mdir = os.path.join(tmp, "mutants")
os.makedirs(mdir)
n = 0
for i in range(1500):
    doc = mutate(rnd.choice(valid_docs), rnd)
    if not isinstance(doc, dict) and rnd.random() < 0.5:
        doc = [doc]
    p = os.path.join(mdir, "m%04d.json" % i)
    with open(p, "w") as f:
        json.dump(doc, f, ensure_ascii=rnd.random() < 0.5)
    cases.append((p, in_v.is_valid(doc)))

# texts that are not JSON (or not UTF-8) and one that overflows 64 bits inside open tags
raw = {"empty": b"", "blank": b"  \n", "truncated": b'{"schema": "apivector.dump-ready.v1"',
       "trailing": b'{"schema": 1} x', "nan": b'{"event_id": NaN}', "bad_utf8": b'{"event_id": "\xff"}',
       "single_quotes": b"{'a': 1}", "comma": b"[1,]",
       "bigint_in_tags": b'{"schema": "apivector.dump-ready.v1", "event_id": "b", "dump": {"url": "http://h/x", '
                         b'"size": 12}, "submission": {"tags": {"n": 123456789012345678901234567890}}}',
       "bigint_size": b'{"schema": "apivector.dump-ready.v1", "event_id": "b", "dump": {"url": "http://h/x", '
                      b'"size": 123456789012345678901234567890}}'}
for name, data in raw.items():
    p = os.path.join(tmp, "raw_" + name + ".json")
    with open(p, "wb") as f:
        f.write(data)
    try:
        doc = json.loads(data, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        ok = in_v.is_valid(doc)
    except ValueError:
        ok = False
    cases.append((p, ok))

out = subprocess.run([tool, "parse"] + [p for p, _ in cases], check=True, capture_output=True).stdout
lines = [json.loads(l) for l in out.decode().splitlines()]
check(len(lines) == len(cases), "event-tool parse printed %d lines for %d files" % (len(lines), len(cases)))
agree = accepted = 0
for (p, ok), line in zip(cases, lines):
    check(line["file"] == p, "order differs at " + p)
    if line["ok"] == ok:
        agree += 1
    else:
        with open(p, "rb") as f:
            failures.append("disagree on %s: python %s, C %s (%s) %r" % (os.path.basename(p), ok, line["ok"],
                                                                         line["message"], f.read()[:300]))
    accepted += ok
    if not line["ok"]:
        check(line["code"] in ("invalid_json", "schema_violation") and line["message"],
              "bad rejection of %s: %s" % (p, line))
        if os.path.basename(p).startswith("raw_") and not ok and "bigint" not in p:
            check(line["code"] == "invalid_json", "%s: expected invalid_json, got %s" % (p, line["code"]))
print("parser agreement: %d/%d documents (%d accepted, %d rejected)" % (agree, len(cases), accepted,
                                                                       len(cases) - accepted))
check(accepted >= 100 and len(cases) - accepted >= 500, "mutants do not cover both outcomes enough")

# ---- 3. built events
validators = {n: schema(n)[0] for n in ("apivector.result.v1", "apivector.match.v1", "apivector.dead-letter.v1")}
out = subprocess.run([tool, "samples"], check=True, capture_output=True, text=True).stdout.splitlines()
kinds = {}
for l in out:
    ev = json.loads(l)
    kinds[ev["schema"]] = kinds.get(ev["schema"], 0) + 1
    errs = [e.message for e in validators[ev["schema"]].iter_errors(ev)]
    check(not errs, "sample %s invalid: %s" % (ev["schema"], errs))
    if ev["schema"] == "apivector.result.v1":
        check(ev["tag"] == "%d:%d:%s" % (ev["in_api_vector"], ev["num_unique_apis"], ev["vector"]), "tag " + ev["tag"])
        for a in ev.get("apis", []):
            check(a["address"] == hex(int(a["address"], 16)), "address " + a["address"])
    if ev["schema"] == "apivector.dead-letter.v1":
        check(ev["error"]["transient"] == (ev["error"]["code"] in transient), "transient flag")
print("samples: %s" % kinds)
check(kinds == {"apivector.result.v1": 3, "apivector.match.v1": 2, "apivector.dead-letter.v1": 4},
      "unexpected sample counts %s" % kinds)

# ---- 4. dead letters of hostile values
def is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False

big = ('{"event_id": "' + "\u20ac" * 40000 + '"}').encode()
dl_cases = [(b'{"a":1}', 100), (b'{"a":1}', 3), (("\u00e9" * 10).encode(), 5), (("\u20ac" * 3).encode(), 4),
            (b"\xff\xfeabc", 100), (b"abc\xff", 2), (b"abc\xff", 4), (b"a\x00b", 10), (b"", 10), (big, 65536),
            (b"x" * 10, 0), (b"\xc3", 1), (b"\xed\xa0\x80", 10), (b"\xf4\x90\x80\x80", 10),
            (b"\xe0\x80\x80", 10), (b"\xc0\xaf", 10)]
keyfile = os.path.join(tmp, "key")
with open(keyfile, "wb") as f:
    f.write(b"k\xffz")

def expected(value, limit):
    """The documented rule: cut to limit bytes, backing off to a character start; text if that is
    valid UTF-8, else the base64 of the first limit bytes."""
    keep = min(limit, len(value))
    tk = keep
    while 0 < tk < len(value) and (value[tk] & 0xC0) == 0x80:
        tk -= 1
    if is_utf8(value[:tk]) and b"\x00" not in value[:tk]:
        return "utf-8", value[:tk]
    return "base64", value[:keep]

for i, (value, limit) in enumerate(dl_cases):
    vf = os.path.join(tmp, "value%d" % i)
    with open(vf, "wb") as f:
        f.write(value)
    line = subprocess.run([tool, "dlq", vf, str(limit), keyfile], check=True, capture_output=True).stdout
    ev = json.loads(line.decode("utf-8"))  # strict: the record itself must be UTF-8 JSON
    errs = [e.message for e in validators["apivector.dead-letter.v1"].iter_errors(ev)]
    check(not errs, "dlq %d invalid: %s" % (i, errs))
    o = ev["original"]
    kept = o["value"].encode("utf-8") if o["encoding"] == "utf-8" else base64.b64decode(o["value"])
    what = "dlq case %d (%r, max %d): %s" % (i, value[:20], limit, o)
    check(value.startswith(kept) and len(kept) <= limit, what + ": not a prefix within the limit")
    check(o["size"] == len(value) and o["truncated"] == (len(kept) < len(value)), what + ": size/truncated")
    check((o["encoding"], kept) == expected(value, limit), what + ": expected %r" % (expected(value, limit),))
    if is_utf8(value) and b"\x00" not in value:
        check(o["encoding"] == "utf-8" and len(kept) >= min(limit, len(value)) - 3, what + ": text lost")
    check(ev["source"]["key"] == "k\ufffdz", what + ": key " + repr(ev["source"]["key"]))
print("dead letters: %d hostile values checked" % len(dl_cases))

for f in failures[:40]:
    print("FAIL:", f)
print("%d passed, %d failed" % (1 if not failures else 0, 1 if failures else 0))
sys.exit(1 if failures else 0)
PY
