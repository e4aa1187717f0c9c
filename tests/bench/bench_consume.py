#!/usr/bin/env python3
"""bench_consume.py - inputs and figures for bench_consume.sh.

  dumps DIR N SIZE_MIB   N distinct dumps of SIZE_MIB: the conformance dump
                         x86_256k_scattered (a 32-bit image with ~190 API
                         references) followed by seeded random bytes, so each
                         dump is realistic at the front and costs a full crawl
  events OUT N URL VM    N dump-ready events (key<TAB>value lines) cycling
                         through the dumps served at URL/bench/, with the
                         dump's sha256 and size, and vm_name VM
  report RESULTS LOG N BYTES RSS_KB
                         prints dumps/s and MB/s (from the first event's start,
                         its result's produced_at minus its processing time,
                         to the last acknowledgement in the consumer's log),
                         p50/p99 event latency and peak RSS
"""
import datetime
import hashlib
import json
import os
import random
import sys

CONF = os.environ.get("CONFORMANCE_DIR", "../shared/conformance")


def cmd_dumps(d, n, size_mib):
    os.makedirs(d, exist_ok=True)
    head = open(os.path.join(CONF, "dumps", "x86_256k_scattered.bin"), "rb").read()
    size = int(size_mib) << 20
    for i in range(int(n)):
        rnd = random.Random(1000 + i)
        body = head + rnd.randbytes(size - len(head))
        with open(os.path.join(d, "dump%03d_0x00400000" % i), "wb") as f:
            f.write(body)


def cmd_events(out, n, url, vm):
    d = os.path.join(os.path.dirname(out), "www", "bench")
    names = sorted(os.listdir(d))
    meta = {}
    for name in names:
        data = open(os.path.join(d, name), "rb").read()
        meta[name] = (hashlib.sha256(data).hexdigest(), len(data))
    with open(out, "w") as f:
        for i in range(int(n)):
            name = names[i % len(names)]
            sha, size = meta[name]
            ev = {"schema": "apivector.dump-ready.v1", "event_id": "bench-%04d" % i,
                  "vm_name": vm,
                  "dump": {"url": "%s/bench/%s" % (url, name), "sha256": sha, "size": size}}
            f.write("bench-%04d\t%s\n" % (i, json.dumps(ev, separators=(",", ":"))))


def percentile(values, p):
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def stamp(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def cmd_report(results, log, n, total_bytes, rss_kb):
    lat, starts = [], []
    for line in open(results):
        v = json.loads(json.loads(line)["payload"])
        if v.get("schema") == "apivector.result.v1":
            lat.append(v["timings_ms"]["total"])
            starts.append(stamp(v["produced_at"]) - v["timings_ms"]["total"] / 1000.0)
    acks = [stamp(json.loads(l)["ts"]) for l in open(log) if '"msg":"processed' in l]
    n = int(n)
    if len(lat) != n or len(acks) != n:
        sys.exit("expected %d results, found %d (%d acknowledged)" % (n, len(lat), len(acks)))
    seconds = max(acks) - min(starts)
    print("events: %d dumps of %.1f MiB" % (n, int(total_bytes) / n / 1048576.0))
    print("throughput: %.1f dumps/s, %.0f MB/s (%.2f s from the first event's start to the "
          "last result acknowledged)" % (n / seconds, int(total_bytes) / seconds / 1e6, seconds))
    print("event latency (fetch + crawl + match + events): p50 %.1f ms, p99 %.1f ms"
          % (percentile(lat, 50), percentile(lat, 99)))
    print("peak RSS of the consumer: %.0f MB" % (int(rss_kb) / 1024.0))


if __name__ == "__main__":
    cmds = {"dumps": cmd_dumps, "events": cmd_events, "report": cmd_report}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
