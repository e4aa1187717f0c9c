#!/usr/bin/env python3
"""check_cli.py - conformance of `apivector scan --json` and `apivector match`.

Runs every case in $CONFORMANCE_DIR/cases (discovered by listing the folder)
through the binary with the case's options and compares every field of the
case's "expected" object: integers and strings exactly, floats within 1e-9
relative, JSON null/bool exactly. Then runs the vector-level entries of
vectors.json that the CLI exposes (jaccard, confidence, collection_queries)
through `apivector match --json`. Prints one line per mismatch and a closing
"N passed, N failed" line.
"""
import json
import math
import os
import subprocess
import sys

CONF = os.environ.get("CONFORMANCE_DIR", os.path.join(os.path.dirname(__file__), "../../../shared/conformance"))
APIVECTOR = os.environ.get("AV_APIVECTOR", "apivector")
WINAPI = os.path.join(os.environ.get("APISCOUT_DATA_DIR", os.path.join(CONF, "../apiscout")), "winapi1024v1.txt")


def same(exp, got, path, errors):
    if isinstance(exp, bool) or isinstance(got, bool) or exp is None or got is None:
        if exp is not got and exp != got or type(exp) is not type(got):
            errors.append("%s: expected %r, got %r" % (path, exp, got))
        return
    if isinstance(exp, (int, float)) and isinstance(got, (int, float)):
        if isinstance(exp, int) and isinstance(got, int):
            ok = exp == got
        else:
            ok = math.isclose(exp, got, rel_tol=1e-9, abs_tol=0.0) or exp == got
        if not ok:
            errors.append("%s: expected %r, got %r" % (path, exp, got))
        return
    if isinstance(exp, dict):
        if not isinstance(got, dict):
            errors.append("%s: expected an object, got %r" % (path, type(got).__name__))
            return
        if set(exp) != set(got):
            errors.append("%s: keys differ: expected %s, got %s" % (path, sorted(exp), sorted(got)))
        for k in exp:
            if k in got:
                same(exp[k], got[k], "%s.%s" % (path, k), errors)
        return
    if isinstance(exp, list):
        if not isinstance(got, list) or len(exp) != len(got):
            errors.append("%s: expected a list of %d, got %s" % (path, len(exp), len(got) if isinstance(got, list) else type(got).__name__))
            return
        for i, (a, b) in enumerate(zip(exp, got)):
            same(a, b, "%s[%d]" % (path, i), errors)
        return
    if exp != got:
        errors.append("%s: expected %r, got %r" % (path, exp, got))


def run(args):
    p = subprocess.run([APIVECTOR] + args + ["--winapi", WINAPI], cwd=CONF, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("exit %d: %s" % (p.returncode, p.stderr.strip()))
    return json.loads(p.stdout)


def scan_args(case):
    o = case["options"]
    args = ["scan", case["dump"], "--name", case["dump_name"], "--json",
            "--filter", str(o["filter_distance"])]
    for db in case["dbs"]:
        args += ["--db", db]
    if o["ignore_aslr"]:
        args.append("--ignore-aslr")
    if o["base_address"] is not None:
        args += ["--base-address", hex(o["base_address"])]
    if o["from_address"]:
        args += ["--from-address", hex(o["from_address"])]
    if o["to_address"]:
        args += ["--to-address", hex(o["to_address"])]
    if o["collection"]:
        args += ["--collection", o["collection"]]
    return args


def check_cases(results):
    names = sorted(f for f in os.listdir(os.path.join(CONF, "cases")) if f.endswith(".json"))
    if not names:
        raise SystemExit("no cases found in %s" % CONF)
    for name in names:
        case = json.load(open(os.path.join(CONF, "cases", name)))
        errors = []
        try:
            got = run(scan_args(case))
            same(case["expected"], got, "expected", errors)
        except Exception as e:  # a crash or bad JSON is a failure, not a skip
            errors.append("run failed: %s" % e)
        results.append(("case " + name, errors))


def check_vectors(results):
    vec = json.load(open(os.path.join(CONF, "vectors.json")))
    for i, j in enumerate(vec["jaccard"]):
        errors = []
        try:
            got = run(["match", j["a"], "--vector", j["b"], "--json"])
            same(j["score"], got["score"], "score", errors)
        except Exception as e:
            errors.append("run failed: %s" % e)
        results.append(("jaccard[%d]" % i, errors))
    for i, c in enumerate(vec["confidence"]):
        errors = []
        try:
            got = run(["match", c["vector"], "--vector", c["vector"], "--json"])
            same(c["confidence"], got["confidence_a"], "confidence", errors)
        except Exception as e:
            errors.append("run failed: %s" % e)
        results.append(("confidence[%d]" % i, errors))
    for i, q in enumerate(vec["collection_queries"]):
        errors = []
        try:
            got = run(["match", q["vector"], "--collection", q["collection"], "--json"])
            for k in ("vector", "confidence", "families_in_collection", "vectors_in_collection", "results"):
                same(q[k], got[k], k, errors)
        except Exception as e:
            errors.append("run failed: %s" % e)
        results.append(("collection_queries[%d]" % i, errors))


def main():
    results = []
    check_cases(results)
    check_vectors(results)
    failed = 0
    for name, errors in results:
        if errors:
            failed += 1
            print("FAIL %s" % name)
            for e in errors[:10]:
                print("     %s" % e)
            if len(errors) > 10:
                print("     ... %d more" % (len(errors) - 10))
        else:
            print("ok   %s" % name)
    print("%d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
