#!/usr/bin/python3
"""check_container.py - static checks of deploy/Dockerfile and deploy/docker-compose.yml.

No container engine runs in CI, so nothing here builds or starts an image. What is checked
instead, against this machine's real Debian 12 packages and the real build:

Dockerfile
- every stage is FROM debian:12-slim; the last stage is the runtime stage;
- the build stage installs the packages that own what CMake needs (the .pc files of rdkafka,
  jansson, libcurl, libmicrohttpd, hiredis.h, openssl/evp.h; found with dpkg -S) and
  configures Release with -DAPIVECTOR_TESTS=OFF and -DAPISCOUT_DATA_DIR where the runtime
  stage puts the WinApi1024 table;
- the runtime stage installs the package of every shared library the built binary needs
  (readelf NEEDED -> ldconfig -> dpkg -S; libc6 comes with the base image), no -dev package,
  and curl for the HEALTHCHECK;
- USER is a numeric non-root UID:GID; /tmp is a VOLUME; HEALTHCHECK requests /healthz on
  the EXPOSEd port, which is metrics_port of the config the image ships; ENTRYPOINT is the
  copied binary and CMD is `consume --config` on the copied deploy/config.example.json;
- the WinApi1024 table is fetched from the upstream ApiScout repository at ${APISCOUT_COMMIT}
  (hex) and checked with `sha256sum -c` against a 64-hex WINAPI1024_SHA256, which equals the
  sha256 of the reference copy the tests use (APISCOUT_DATA_DIR) when that copy exists; no
  file named winapi1024v1.txt is anywhere in the repository's source tree;
- deploy/Dockerfile.dockerignore admits every file the Dockerfile COPYs from the context.

Compose (`docker-compose config`, resolved)
- images pinned (a tag, never latest); host ports bound to 127.0.0.1;
- kafka: the official apache/kafka image in KRaft mode (broker and controller roles, a
  controller quorum, a valid CLUSTER_ID), no ZooKeeper, no topic auto-creation, a healthcheck;
- kafka-init: one-shot, waits for a healthy broker, creates input, results and DLQ topics
  named like the consumers' effective config, the input topic with 6 partitions;
- three consumer services built from deploy/Dockerfile with the repository as context, each
  waiting for kafka-init to complete successfully, read-only, /tmp tmpfs, non-root, all
  capabilities dropped, no-new-privileges, a stop grace period longer than
  shutdown_timeout_ms, explicit workers and a mem_limit of at least lru_budget_bytes +
  workers x max_dump_bytes + 512 MiB, and pointing at the kafka, redis and support services;
- support is nginx serving deploy/support read-only; prometheus mounts deploy/prometheus.yml,
  whose scrape targets are exactly the consumer services on their metrics port.
"""
import glob
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys

import yaml

SOURCE = os.path.abspath(os.environ.get("AV_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
DEPLOY = os.path.join(SOURCE, "deploy")
BINARY = os.environ.get("AV_APIVECTOR") or os.path.join(os.environ.get("AV_BUILD_DIR", ""), "consumer", "apivector")
DATA = os.environ.get("APISCOUT_DATA_DIR", os.path.join(SOURCE, "..", "shared", "apiscout"))
INPUT_PARTITIONS = 6
FAILURES = []
PASSED = [0]


def check(cond, msg):
    if cond:
        PASSED[0] += 1
    else:
        FAILURES.append(msg)
        print("FAIL: %s" % msg)
    return cond


def sh(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def dpkg_owner(path):
    for p in (path, os.path.realpath(path)):
        r = sh("dpkg", "-S", p)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


# ------------------------------------------------------------------ Dockerfile


def parse_dockerfile(path):
    """[(stage name, [(instruction, rest)])] with continuation lines joined."""
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"\\\n", " ", f.read())
    args, stages = {}, []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, rest = line.partition(" ")
        instr, rest = instr.upper(), rest.strip()
        if instr == "FROM":
            words = rest.split()
            stages.append((words[2] if len(words) > 2 and words[1].upper() == "AS" else None, [("FROM", words[0])]))
        elif stages:
            stages[-1][1].append((instr, rest))
        elif instr == "ARG":
            k, _, v = rest.partition("=")
            args[k] = v
    return args, stages


def stage_args(instrs):
    out = {}
    for instr, rest in instrs:
        if instr == "ARG" and "=" in rest:
            k, _, v = rest.partition("=")
            out[k] = v
    return out


def apt_packages(instrs):
    pkgs = []
    for instr, rest in instrs:
        if instr == "RUN" and "apt-get install" in rest:
            seg = rest.split("apt-get install", 1)[1].split("&&")[0]
            pkgs += [w for w in seg.split() if not w.startswith("-")]
    return pkgs


def check_dockerfile():
    path = os.path.join(DEPLOY, "Dockerfile")
    gargs, stages = parse_dockerfile(path)
    names = [n for n, _ in stages]
    check(names == ["build", "winapi", "runtime"], "Dockerfile: stages %s, expected build, winapi, runtime" % names)
    for n, instrs in stages:
        base = instrs[0][1].replace("${DEBIAN_IMAGE}", gargs.get("DEBIAN_IMAGE", "?"))
        check(base == "debian:12-slim", "Dockerfile: stage %s is FROM %s, expected debian:12-slim" % (n, base))
    st = dict(stages)
    if not all(k in st for k in ("build", "winapi", "runtime")):
        return None

    # Build stage: what CMake looks for, Release, no tests.
    build_pkgs = set(apt_packages(st["build"]))
    needs = {"cmake", "pkg-config"}
    for mod in ("rdkafka", "jansson", "libcurl", "libmicrohttpd"):
        pcdir = sh("pkg-config", "--variable=pcfiledir", mod).stdout.strip()
        needs.add(dpkg_owner(os.path.join(pcdir, mod + ".pc")))
    needs.add(dpkg_owner("/usr/include/hiredis/hiredis.h"))
    needs.add(dpkg_owner("/usr/include/openssl/evp.h"))
    check(None not in needs, "dpkg -S could not name the owner of a build input: %s" % sorted(map(str, needs)))
    check(needs <= build_pkgs, "Dockerfile build stage misses packages %s" % sorted(map(str, needs - build_pkgs)))
    check("build-essential" in build_pkgs or "gcc" in build_pkgs, "Dockerfile build stage installs no C compiler")
    cmake = " ".join(r for i, r in st["build"] if i == "RUN" and "cmake -S" in r)
    check("-DCMAKE_BUILD_TYPE=Release" in cmake and "-DAPIVECTOR_TESTS=OFF" in cmake,
          "Dockerfile: cmake must configure Release with -DAPIVECTOR_TESTS=OFF")

    # Runtime stage: a package for every NEEDED library.
    rt = st["runtime"]
    rt_pkgs = set(apt_packages(rt))
    check(not any(p.endswith("-dev") for p in rt_pkgs),
          "Dockerfile runtime stage installs -dev packages: %s" % sorted(p for p in rt_pkgs if p.endswith("-dev")))
    check({"curl", "ca-certificates"} <= rt_pkgs,
          "Dockerfile runtime stage needs curl (HEALTHCHECK) and ca-certificates")
    if check(os.access(BINARY, os.X_OK), "no built binary at %s" % BINARY):
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", sh("readelf", "-d", BINARY).stdout)
        cache = sh("ldconfig", "-p").stdout
        owners = {}
        for so in needed:
            m = re.search(r"^\s*%s \(.*x86-64.*\) => (\S+)$" % re.escape(so), cache, re.M) or re.search(r"^\s*%s \(.*\) => (\S+)$" % re.escape(so), cache, re.M)
            owners[so] = dpkg_owner(m.group(1)) if m else None
        print("binary needs: %s" % ", ".join("%s (%s)" % (k, v) for k, v in sorted(owners.items())))
        check(needed and None not in owners.values(), "could not map every NEEDED library to a package: %s" % owners)
        # Sanitizer runtimes appear only in an instrumented test build, never in the image.
        missing = {so: p for so, p in owners.items() if p and p != "libc6" and p not in rt_pkgs and not re.match(r"lib(a|ub|l|t)san", so)}
        check(not missing, "Dockerfile runtime stage misses the packages of %s" % missing)

    # User, volume, healthcheck, entrypoint, config.
    ins = lambda i: [r for x, r in rt if x == i]  # noqa: E731
    user = (ins("USER") or [""])[-1]
    check(re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", user) is not None,
          "Dockerfile: USER %r must be a numeric non-root UID:GID" % user)
    check(any("/tmp" in v for v in ins("VOLUME")), "Dockerfile: /tmp must be a VOLUME (the only writable path)")
    expose = [int(p.split("/")[0]) for e in ins("EXPOSE") for p in e.split()]
    health = " ".join(ins("HEALTHCHECK"))
    m = re.search(r"http://127\.0\.0\.1:(\d+)/healthz", health)
    check(m is not None and "curl" in health, "Dockerfile: HEALTHCHECK must curl http://127.0.0.1:<port>/healthz")
    copies = {}
    for r in ins("COPY"):
        words = r.split()
        frm = words[0][len("--from="):] if words[0].startswith("--from=") else None
        srcs = words[1:-1] if frm else words[:-1]
        for s in srcs:
            dest = words[-1]
            copies[os.path.join(dest, os.path.basename(s)) if dest.endswith("/") else dest] = (frm, s)
    entry = json.loads((ins("ENTRYPOINT") or ["[]"])[-1])
    cmd = json.loads((ins("CMD") or ["[]"])[-1])
    check(entry and copies.get(entry[0], (None,))[0] == "build",
          "Dockerfile: ENTRYPOINT %s is not the binary copied from the build stage" % entry)
    cfg = None
    if check(cmd[:2] == ["consume", "--config"] and len(cmd) == 3,
             "Dockerfile: CMD must be consume --config FILE, got %s" % cmd):
        src = copies.get(cmd[2], (None, None))
        if check(src == (None, "deploy/config.example.json"),
                 "Dockerfile: CMD's config %s is not a copy of deploy/config.example.json" % cmd[2]):
            with open(os.path.join(SOURCE, src[1]), encoding="utf-8") as f:
                cfg = json.load(f)
    port = (cfg or {}).get("metrics_port", 9464)
    check(m is not None and int(m.group(1)) == port and expose == [port],
          "Dockerfile: HEALTHCHECK port %s, EXPOSE %s and metrics_port %s must agree" % (m and m.group(1), expose, port))
    datadir = re.search(r"-DAPISCOUT_DATA_DIR=(\S+)", cmake)
    table = [dest for dest, (frm, _) in copies.items() if frm == "winapi" and dest.endswith("/winapi1024v1.txt")]
    check(datadir is not None and table == [datadir.group(1).rstrip("/") + "/winapi1024v1.txt"],
          "Dockerfile: -DAPISCOUT_DATA_DIR (the CLI's default table folder) must be where the table is copied: %s" % table)
    check(copies.get(cfg.get("winapi1024") if cfg else "", (None,))[0] == "winapi",
          "config.example.json: winapi1024 %r is not the table the image fetches" % (cfg or {}).get("winapi1024"))

    # The WinApi1024 table: upstream, pinned, checked.
    wargs = stage_args(st["winapi"])
    runs = " ".join(r for i, r in st["winapi"] if i == "RUN")
    check(re.fullmatch(r"[0-9a-f]{7,40}", wargs.get("APISCOUT_COMMIT", "")) is not None,
          "Dockerfile: APISCOUT_COMMIT must be a hex commit id")
    check(re.fullmatch(r"https://raw\.githubusercontent\.com/danielplohmann/apiscout", wargs.get("APISCOUT_RAW_BASE", "")) is not None,
          "Dockerfile: the table must come from the upstream ApiScout repository")
    check("${APISCOUT_COMMIT}" in runs and "sha256sum -c" in runs and "winapi1024v1.txt" in runs,
          "Dockerfile: the fetch must use ${APISCOUT_COMMIT} and verify with sha256sum -c")
    for arg, fname in (("WINAPI1024_SHA256", "winapi1024v1.txt"), ("APISCOUT_LICENSE_SHA256", "LICENSE")):
        want = wargs.get(arg, "")
        check(re.fullmatch(r"[0-9a-f]{64}", want) is not None, "Dockerfile: %s must be 64 hex digits" % arg)
        ref = os.path.join(DATA, fname)
        if os.path.isfile(ref):
            with open(ref, "rb") as f:
                have = hashlib.sha256(f.read()).hexdigest()
            check(have == want, "Dockerfile: %s %s differs from the reference copy %s (%s)" % (arg, want, ref, have))
            print("%s matches the reference copy %s" % (arg, ref))
    stray = [p for p in glob.glob(os.path.join(SOURCE, "**", "winapi1024v1.txt"), recursive=True)
             if not os.path.relpath(p, SOURCE).startswith(("build", ".git"))]
    check(not stray, "the WinApi1024 table must not be in the repository: %s" % stray)

    # The build context admits every COPY source.
    with open(os.path.join(DEPLOY, "Dockerfile.dockerignore"), encoding="utf-8") as f:
        pats = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    for n, instrs in stages:
        for instr, rest in instrs:
            words = rest.split()
            if instr != "COPY" or words[0].startswith("--from="):
                continue
            for src in words[:-1]:
                src = src.rstrip("/")
                check(pats[:1] == ["*"] and ("!" + src) in pats and os.path.exists(os.path.join(SOURCE, src)),
                      "Dockerfile.dockerignore does not admit COPY source %s (stage %s), or it does not exist" % (src, n))
    return cfg


# --------------------------------------------------------------------- Compose


def effective(cfg, env, key, default):
    return env.get("APIVECTOR_" + key.upper(), cfg.get(key, default))


def mem_bytes(v):
    """Compose memory value (bytes, or 3g/512m/...) -> bytes; 0 when unset."""
    m = re.fullmatch(r"(\d+)([bkmg]?)b?", str(v or "0").lower())
    return int(m.group(1)) * {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2)] if m else 0


def check_compose(cfg):
    r = sh("docker-compose", "-f", os.path.join(DEPLOY, "docker-compose.yml"), "config")
    if not check(r.returncode == 0, "docker-compose config: %s" % r.stderr.strip()):
        return
    svcs = yaml.safe_load(r.stdout)["services"]
    for name, s in svcs.items():
        if "build" not in s:
            img = s.get("image", "")
            check(re.fullmatch(r"[\w./-]+:[\w.-]+", img) is not None and not img.endswith(":latest"),
                  "compose %s: image %r must be pinned to a version tag" % (name, img))
        for p in s.get("ports") or []:
            check(str(p).startswith("127.0.0.1:"), "compose %s: host port %s must bind 127.0.0.1" % (name, p))
    check(not any("zookeeper" in (s.get("image", "") + n) for n, s in svcs.items()),
          "compose: KRaft mode needs no ZooKeeper service")

    k = svcs.get("kafka") or {}
    ke = k.get("environment") or {}
    check(k.get("image", "").startswith("apache/kafka:"), "compose kafka: must use the official apache/kafka image")
    check(set(str(ke.get("KAFKA_PROCESS_ROLES", "")).split(",")) == {"broker", "controller"},
          "compose kafka: KAFKA_PROCESS_ROLES must be broker,controller (KRaft)")
    check(bool(ke.get("KAFKA_CONTROLLER_QUORUM_VOTERS")), "compose kafka: KAFKA_CONTROLLER_QUORUM_VOTERS missing")
    check(re.fullmatch(r"[A-Za-z0-9_-]{22}", str(ke.get("CLUSTER_ID", ""))) is not None,
          "compose kafka: CLUSTER_ID must be a base64url UUID (22 characters)")
    check(str(ke.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")) == "false",
          "compose kafka: topics must come from kafka-init, not auto-creation")
    check("healthcheck" in k, "compose kafka: a healthcheck is needed for kafka-init to wait on")
    internal = re.search(r"INTERNAL://([^,]+)", str(ke.get("KAFKA_ADVERTISED_LISTENERS", "")))

    consumers = {n: s for n, s in svcs.items() if (s.get("build") or {}).get("dockerfile") == "deploy/Dockerfile"}
    check(len(consumers) == 3, "compose: expected three consumer replicas, found %s" % sorted(consumers))
    topics = None
    for name, s in sorted(consumers.items()):
        env = {a: str(b) for a, b in (s.get("environment") or {}).items()}
        check(os.path.realpath(s["build"].get("context", "")) == os.path.realpath(SOURCE),
              "compose %s: build context must be the repository root" % name)
        check((s.get("depends_on") or {}).get("kafka-init", {}).get("condition") == "service_completed_successfully",
              "compose %s: must depend on kafka-init with service_completed_successfully" % name)
        check(s.get("read_only") is True, "compose %s: read_only must be true" % name)
        check(any(str(t).split(":")[0] == "/tmp" for t in s.get("tmpfs") or []),
              "compose %s: /tmp must be a tmpfs" % name)
        check(re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", str(s.get("user", ""))) is not None,
              "compose %s: user must be a non-root UID" % name)
        check("ALL" in (s.get("cap_drop") or []), "compose %s: cap_drop must contain ALL" % name)
        check("no-new-privileges:true" in (s.get("security_opt") or []),
              "compose %s: security_opt no-new-privileges:true missing" % name)
        grace = re.fullmatch(r"(\d+)s", str(s.get("stop_grace_period", "10s")))
        check(grace and int(grace.group(1)) * 1000 > effective(cfg, env, "shutdown_timeout_ms", 30000),
              "compose %s: stop_grace_period must exceed shutdown_timeout_ms" % name)
        check(internal and env.get("APIVECTOR_KAFKA_BOOTSTRAP_SERVERS") == internal.group(1),
              "compose %s: bootstrap servers must be kafka's internal listener %s" % (name, internal and internal.group(1)))
        check(re.match(r"http://support[:/]", env.get("APIVECTOR_SUPPORT_URL", "")) is not None,
              "compose %s: APIVECTOR_SUPPORT_URL must point at the support service" % name)
        check(env.get("APIVECTOR_REDIS_HOST") == "redis",
              "compose %s: APIVECTOR_REDIS_HOST must be the redis service" % name)
        workers = int(effective(cfg, env, "workers", 0))
        check(workers > 0, "compose %s: set workers (0 = every core of the Docker host)" % name)
        need = int(effective(cfg, env, "lru_budget_bytes", 1 << 30)) + max(workers, 1) * int(effective(cfg, env, "max_dump_bytes", 2 << 30)) + (512 << 20)
        check(mem_bytes(s.get("mem_limit")) >= need,
              "compose %s: mem_limit %s below lru_budget_bytes + workers x max_dump_bytes + 512 MiB = %d" % (name, s.get("mem_limit"), need))
        t = tuple(effective(cfg, env, x, d) for x, d in (("input_topic", "apivector.dumps"), ("results_topic", "apivector.results"), ("dlq_topic", "apivector.dlq")))
        check(topics in (None, t), "compose %s: topics %s differ between replicas" % (name, t))
        topics = t

    job = svcs.get("kafka-init") or {}
    check(str(job.get("restart", "no")) == "no", "compose kafka-init: must be one-shot (restart: \"no\")")
    check((job.get("depends_on") or {}).get("kafka", {}).get("condition") == "service_healthy",
          "compose kafka-init: must wait for a healthy kafka")
    text = " ".join(job.get("command") or [])
    created = {}
    for part in text.split("&&"):
        w = shlex.split(part)
        if "--create" in w and "--topic" in w:
            created[w[w.index("--topic") + 1]] = int(w[w.index("--partitions") + 1]) if "--partitions" in w else None
    if topics:
        check(set(topics) <= set(created),
              "compose kafka-init: creates %s, the consumers use %s" % (sorted(created), list(topics)))
        check(created.get(topics[0]) == INPUT_PARTITIONS,
              "compose kafka-init: %s has %s partitions, documented %d" % (topics[0], created.get(topics[0]), INPUT_PARTITIONS))

    sup = svcs.get("support") or {}
    check(sup.get("image", "").startswith("nginx:"), "compose support: nginx expected")
    vols = [str(v) for v in sup.get("volumes") or []]
    check(any(v.startswith(os.path.join(DEPLOY, "support") + ":") and v.endswith(":ro") for v in vols),
          "compose support: ./support must be mounted read-only, got %s" % vols)
    check(os.path.isdir(os.path.join(DEPLOY, "support")),
          "deploy/support must exist (else Docker creates it root-owned)")

    prom = svcs.get("prometheus") or {}
    pvols = [str(v) for v in prom.get("volumes") or []]
    check(any(v.startswith(os.path.join(DEPLOY, "prometheus.yml") + ":") for v in pvols),
          "compose prometheus: must mount deploy/prometheus.yml")
    with open(os.path.join(DEPLOY, "prometheus.yml"), encoding="utf-8") as f:
        pcfg = yaml.safe_load(f)
    targets = {t for job in pcfg.get("scrape_configs") or [] if job.get("job_name") == "apivector"
               for sc in job.get("static_configs") or [] for t in sc.get("targets") or []}
    want = {"%s:%s" % (n, effective(cfg or {}, {}, "metrics_port", 9464)) for n in consumers}
    check(targets == want, "prometheus.yml: job apivector scrapes %s, expected %s" % (sorted(targets), sorted(want)))


def main():
    cfg = check_dockerfile()
    check_compose(cfg or {})
    print("check_container: %d checks passed, %d failed" % (PASSED[0], len(FAILURES)))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
