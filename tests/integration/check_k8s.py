#!/usr/bin/python3
"""check_k8s.py - structural checks of the Kubernetes manifests in deploy/k8s/.

No cluster runs in CI, so this reads every object with python3-yaml and checks what
`kubectl apply` and the running pods would depend on:

- every object: apiVersion and kind known and matching, metadata.name a DNS label, the
  namespace of the Namespace object, the app.kubernetes.io/name label;
- kustomization.yaml lists every manifest except secret.yaml (which must never be
  overwritten with its placeholders) and nothing that does not exist;
- Deployment: selector matches the pod template labels; no spec.replicas (KEDA owns it);
  --config names a file a ConfigMap volume provides, and that JSON parses; liveness
  (/healthz), readiness (/readyz) and startup probes on the metrics port, which is the
  config's metrics_port; pod/container securityContext non-root with a non-zero UID,
  read-only root filesystem, no privilege escalation, capabilities drop ALL and none
  added, seccomp RuntimeDefault, not privileged; a writable /tmp volume; requests and
  limits, memory limit >= lru_budget_bytes + workers x max_dump_bytes + 512 MiB and workers
  equal to the CPU request (0 would mean every core of the node); grace period longer
  than shutdown_timeout_ms; service links off; every Secret/ConfigMap key referenced by
  env or volumes exists; malpedia_apikey_file is a file a Secret volume provides;
- Service and PodDisruptionBudget select the Deployment's pods; the Service's target port
  is the metrics port and its name cannot inject APIVECTOR_<KEY> variables;
- KEDA ScaledObject: scaleTargetRef names the Deployment; its kafka trigger names the
  ConfigMap's group_id, input_topic and bootstrap.servers, an offsetResetPolicy agreeing
  with auto.offset.reset, string metadata values; maxReplicaCount equals the partition
  count of the input topic (6), which must also be what deploy/docker-compose.yml's
  topic job creates.

Usage: check_k8s.py [--k8s DIR] [--compose FILE] [--dockerfile FILE]. Exit 0 when every
check passes, 1 with one line per failure otherwise.
"""
import argparse
import json
import os
import re
import shlex
import sys

import yaml

SOURCE = os.environ.get("AV_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# The documented partition count of the input topic (deploy/README.md, "Sizing").
INPUT_PARTITIONS = 6
# The defaults of common/config.h that the sizing rules need when the ConfigMap omits them.
DEFAULTS = {
    "metrics_port": 9464,
    "lru_budget_bytes": 1 << 30,
    "max_dump_bytes": 2 << 30,
    "shutdown_timeout_ms": 30000,
    "workers": 0,
    "group_id": "apivector",
    "input_topic": "apivector.dumps",
}
OVERHEAD_BYTES = 512 << 20

API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
    "ScaledObject": "keda.sh/v1alpha1",
    "Kustomization": "kustomize.config.k8s.io/v1beta1",
}
REQUIRED_ONCE = ["Namespace", "ConfigMap", "Secret", "Service", "Deployment", "PodDisruptionBudget", "ScaledObject"]
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class Checker:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failures.append(what)
        return cond


def load_objects(k8s_dir):
    """Returns [(file name, object)] of every YAML document in the folder."""
    out = []
    for name in sorted(os.listdir(k8s_dir)):
        if not name.endswith((".yaml", ".yml")):
            continue
        with open(os.path.join(k8s_dir, name), encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    out.append((name, doc))
    return out


def strict_json(text, origin):
    def pairs(items):
        keys = [k for k, _ in items]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise ValueError("%s: duplicate key %s" % (origin, sorted(dup)[0]))
        return dict(items)

    return json.loads(text, object_pairs_hook=pairs)


def parse_quantity(q):
    """Kubernetes quantity -> number (bytes for memory, cores for cpu)."""
    s = str(q)
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "m": 1e-3}
    for suffix in sorted(units, key=len, reverse=True):
        if s.endswith(suffix):
            return float(s[: -len(suffix)]) * units[suffix]
    return float(s)


def secret_keys(secret):
    return set((secret.get("data") or {}).keys()) | set((secret.get("stringData") or {}).keys())


def subset(small, big):
    return bool(small) and all(big.get(k) == v for k, v in small.items())


def compose_partitions(compose_path, topic):
    """Partitions the Compose topic job gives topic, or None."""
    with open(compose_path, encoding="utf-8") as f:
        compose = yaml.safe_load(f)
    job = (compose.get("services") or {}).get("kafka-init") or {}
    cmd = job.get("command")
    text = " ".join(cmd) if isinstance(cmd, list) else str(cmd or "")
    for part in text.split("&&"):
        words = shlex.split(part)
        if "--create" in words and "--topic" in words and "--partitions" in words:
            if words[words.index("--topic") + 1] == topic:
                return int(words[words.index("--partitions") + 1])
    return None


def dockerfile_winapi_path(dockerfile):
    """Absolute path of the WinApi1024 table in the image (COPY --from=winapi ... DEST/)."""
    with open(dockerfile, encoding="utf-8") as f:
        for line in f:
            words = line.split()
            if len(words) >= 3 and words[0] == "COPY" and words[1] == "--from=winapi":
                srcs = [os.path.basename(w) for w in words[2:-1]]
                if "winapi1024v1.txt" in srcs:
                    return os.path.join(words[-1], "winapi1024v1.txt")
    return None


def container_file_source(container, volumes, path):
    """(volume, item key) of the volume that provides file path in container, or (None, None)."""
    for m in container.get("volumeMounts") or []:
        mount = m.get("mountPath", "").rstrip("/")
        if not path.startswith(mount + "/"):
            continue
        rel = path[len(mount) + 1 :]
        vol = volumes.get(m.get("name"))
        if vol is None:
            return None, None
        src = vol.get("configMap") or vol.get("secret")
        if src is None:
            return vol, None
        items = src.get("items")
        if items is None:
            return vol, rel
        for it in items:
            if it.get("path") == rel:
                return vol, it.get("key")
        return vol, None
    return None, None


def check_objects(c, objs, k8s_dir):
    kinds = {}
    for fname, o in objs:
        where = "%s: %s/%s" % (fname, o.get("kind"), (o.get("metadata") or {}).get("name"))
        kind = o.get("kind")
        c.check(kind in API_VERSIONS, "%s: unknown kind %r" % (fname, kind))
        c.check(o.get("apiVersion") == API_VERSIONS.get(kind),
                "%s: apiVersion %r, expected %r" % (where, o.get("apiVersion"), API_VERSIONS.get(kind)))
        kinds.setdefault(kind, []).append((fname, o))
        if kind == "Kustomization":
            continue
        meta = o.get("metadata") or {}
        name = meta.get("name")
        c.check(isinstance(name, str) and DNS_SUBDOMAIN.match(name or ""),
                "%s: metadata.name %r is not a DNS name" % (where, name))
        if kind in ("Service", "Namespace", "Deployment"):
            c.check(isinstance(name, str) and DNS_LABEL.match(name or ""),
                    "%s: metadata.name must be a DNS label" % where)
        c.check((meta.get("labels") or {}).get("app.kubernetes.io/name") == "apivector",
                "%s: label app.kubernetes.io/name=apivector missing" % where)
    for kind in REQUIRED_ONCE:
        c.check(len(kinds.get(kind, [])) == 1, "exactly one %s expected, found %d" % (kind, len(kinds.get(kind, []))))
    ns = kinds.get("Namespace", [(None, {"metadata": {}})])[0][1]["metadata"].get("name")
    for fname, o in objs:
        if o.get("kind") in ("Namespace", "Kustomization"):
            continue
        c.check((o.get("metadata") or {}).get("namespace") == ns,
                "%s: %s namespace %r, expected %r" % (fname, o.get("kind"), (o.get("metadata") or {}).get("namespace"), ns))
    for fname, k in kinds.get("Kustomization", []):
        res = k.get("resources") or []
        manifests = sorted(f for f in os.listdir(k8s_dir) if f.endswith((".yaml", ".yml")) and f != fname)
        c.check("secret.yaml" not in res,
                "%s: must not list secret.yaml (its placeholders would overwrite the real Secret)" % fname)
        c.check(sorted(res) == sorted(m for m in manifests if m != "secret.yaml"),
                "%s: resources %s, expected every manifest but secret.yaml: %s" % (fname, res, manifests))
        c.check(k.get("namespace") == ns, "%s: namespace %r, expected %r" % (fname, k.get("namespace"), ns))
    return {k: [o for _, o in v] for k, v in kinds.items()}


def check_deployment(c, kinds, dockerfile):
    dep = kinds["Deployment"][0]
    cms = {o["metadata"]["name"]: o for o in kinds.get("ConfigMap", [])}
    secrets = {o["metadata"]["name"]: o for o in kinds.get("Secret", [])}
    spec = dep.get("spec") or {}
    tmpl = spec.get("template") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    c.check(subset(sel, labels), "Deployment: selector %s does not match template labels %s" % (sel, labels))
    c.check("replicas" not in spec, "Deployment: spec.replicas is set, but the ScaledObject owns the replica count")
    pod = tmpl.get("spec") or {}
    c.check(pod.get("enableServiceLinks") is False,
            "Deployment: enableServiceLinks must be false (injected <SERVICE>_* variables can collide with APIVECTOR_<KEY>)")
    c.check(pod.get("automountServiceAccountToken") is False,
            "Deployment: automountServiceAccountToken should be false (the consumer never calls the API)")
    containers = pod.get("containers") or []
    if not c.check(len(containers) == 1, "Deployment: expected one container, found %d" % len(containers)):
        return None
    ctr = containers[0]
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    c.check(bool(ctr.get("image")) and ":" in ctr.get("image", "") and not ctr["image"].endswith(":latest"),
            "Deployment: image must be pinned to a tag: %r" % ctr.get("image"))

    # The configuration file.
    argv = list(ctr.get("command") or []) + list(ctr.get("args") or [])
    cfg = None
    if c.check("consume" in argv and "--config" in argv and argv.index("--config") + 1 < len(argv),
               "Deployment: args must be consume --config FILE, got %s" % argv):
        cfg_path = argv[argv.index("--config") + 1]
        vol, key = container_file_source(ctr, volumes, cfg_path)
        cmname = ((vol or {}).get("configMap") or {}).get("name")
        if c.check(cmname in cms and key is not None,
                   "Deployment: --config %s is not provided by a ConfigMap volume" % cfg_path):
            text = (cms[cmname].get("data") or {}).get(key)
            if c.check(isinstance(text, str), "ConfigMap %s has no key %r" % (cmname, key)):
                try:
                    cfg = strict_json(text, "ConfigMap %s key %s" % (cmname, key))
                    c.check(isinstance(cfg, dict), "ConfigMap %s key %s: not a JSON object" % (cmname, key))
                except ValueError as e:
                    c.check(False, "ConfigMap %s key %s: bad JSON: %s" % (cmname, key, e))
    if not isinstance(cfg, dict):
        return None
    val = lambda k: cfg.get(k, DEFAULTS.get(k))  # noqa: E731

    # Ports and probes.
    port = val("metrics_port")
    ports = {p.get("name"): p.get("containerPort") for p in ctr.get("ports") or []}
    c.check(ports.get("metrics") == port,
            "Deployment: containerPort 'metrics' %s differs from metrics_port %s" % (ports.get("metrics"), port))
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        get = (ctr.get(probe) or {}).get("httpGet") or {}
        c.check(get.get("path") == path, "Deployment: %s path %r, expected %r" % (probe, get.get("path"), path))
        c.check(get.get("port") in ("metrics", port),
                "Deployment: %s port %r is not the metrics port" % (probe, get.get("port")))

    # Security context: the container's value, else the pod's.
    psc, csc = pod.get("securityContext") or {}, ctr.get("securityContext") or {}
    eff = lambda k: csc.get(k, psc.get(k))  # noqa: E731
    c.check(eff("runAsNonRoot") is True, "Deployment: runAsNonRoot must be true")
    c.check(isinstance(eff("runAsUser"), int) and eff("runAsUser") > 0,
            "Deployment: runAsUser must be a non-zero UID, got %r" % eff("runAsUser"))
    c.check(csc.get("readOnlyRootFilesystem") is True, "Deployment: readOnlyRootFilesystem must be true")
    c.check(csc.get("allowPrivilegeEscalation") is False, "Deployment: allowPrivilegeEscalation must be false")
    c.check(csc.get("privileged") in (None, False), "Deployment: privileged must not be true")
    caps = csc.get("capabilities") or {}
    c.check("ALL" in (caps.get("drop") or []), "Deployment: capabilities.drop must contain ALL")
    c.check(not caps.get("add"), "Deployment: capabilities.add must be empty, got %s" % caps.get("add"))
    c.check((eff("seccompProfile") or {}).get("type") == "RuntimeDefault",
            "Deployment: seccompProfile.type must be RuntimeDefault")
    tmp = [m for m in ctr.get("volumeMounts") or [] if m.get("mountPath") == "/tmp"]
    c.check(len(tmp) == 1 and "emptyDir" in volumes.get(tmp[0].get("name"), {}),
            "Deployment: /tmp must be an emptyDir (the only writable path)")

    # Resources and sizing.
    res = ctr.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    for k in ("cpu", "memory"):
        c.check(k in req, "Deployment: resources.requests.%s missing" % k)
    if c.check("memory" in lim, "Deployment: resources.limits.memory missing") and "memory" in req:
        mem_lim = parse_quantity(lim["memory"])
        c.check(parse_quantity(req["memory"]) <= mem_lim, "Deployment: memory request above limit")
        # Each worker holds one dump in a memfd (charged to the pod) while it scans it.
        need = val("lru_budget_bytes") + max(val("workers"), 1) * val("max_dump_bytes") + OVERHEAD_BYTES
        c.check(mem_lim >= need,
                "Deployment: memory limit %s below lru_budget_bytes + workers x max_dump_bytes + 512Mi = %d bytes" % (lim["memory"], need))
    workers = val("workers")
    c.check(workers > 0, "ConfigMap: workers must be set (0 = every core of the node, not the pod's CPU request)")
    if "cpu" in req:
        c.check(parse_quantity(req["cpu"]) == workers,
                "Deployment: requests.cpu %s differs from workers %s" % (req["cpu"], workers))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    c.check(grace * 1000 > val("shutdown_timeout_ms"),
            "Deployment: terminationGracePeriodSeconds %s is not longer than shutdown_timeout_ms %s" % (grace, val("shutdown_timeout_ms")))

    # Every referenced Secret / ConfigMap key exists.
    for e in ctr.get("env") or []:
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            c.check(ref.get("key") in secret_keys(secrets.get(ref.get("name"), {})),
                    "Deployment: env %s references missing Secret key %s/%s" % (e.get("name"), ref.get("name"), ref.get("key")))
        ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
        if ref:
            c.check(ref.get("key") in ((cms.get(ref.get("name")) or {}).get("data") or {}),
                    "Deployment: env %s references missing ConfigMap key %s/%s" % (e.get("name"), ref.get("name"), ref.get("key")))
    for name, v in volumes.items():
        if "secret" in v:
            sec = secrets.get(v["secret"].get("secretName"))
            if c.check(sec is not None, "Deployment: volume %s: no Secret %r" % (name, v["secret"].get("secretName"))):
                for it in v["secret"].get("items") or []:
                    c.check(it.get("key") in secret_keys(sec),
                            "Deployment: volume %s references missing Secret key %s" % (name, it.get("key")))
        if "configMap" in v:
            cm = cms.get(v["configMap"].get("name"))
            if c.check(cm is not None, "Deployment: volume %s: no ConfigMap %r" % (name, v["configMap"].get("name"))):
                for it in v["configMap"].get("items") or []:
                    c.check(it.get("key") in (cm.get("data") or {}),
                            "Deployment: volume %s references missing ConfigMap key %s" % (name, it.get("key")))

    # Files the configuration names exist in the pod.
    keyfile = cfg.get("malpedia_apikey_file")
    if keyfile:
        vol, key = container_file_source(ctr, volumes, keyfile)
        sec = secrets.get(((vol or {}).get("secret") or {}).get("secretName"))
        c.check(sec is not None and key in secret_keys(sec),
                "ConfigMap: malpedia_apikey_file %s is not provided by a Secret volume" % keyfile)
    c.check("malpedia_apikey" not in cfg and "redis_password" not in cfg,
            "ConfigMap: secrets belong in the Secret, not in the ConfigMap")
    winapi = cfg.get("winapi1024", "apiscout/winapi1024v1.txt")
    if winapi.startswith("/"):
        image_path = dockerfile_winapi_path(dockerfile)
        c.check(winapi == image_path,
                "ConfigMap: winapi1024 %s is not where the image puts the table (%s)" % (winapi, image_path))
    return {"deployment": dep, "labels": labels, "cfg": cfg, "port": port}


def check_service_pdb(c, kinds, dep):
    for svc in kinds.get("Service", []):
        name = svc["metadata"]["name"]
        spec = svc.get("spec") or {}
        c.check(subset(spec.get("selector") or {}, dep["labels"]),
                "Service %s: selector does not match the pods" % name)
        ports = spec.get("ports") or []
        c.check(any(p.get("targetPort") in ("metrics", dep["port"]) and p.get("port") == dep["port"] for p in ports),
                "Service %s: no port %s -> metrics" % (name, dep["port"]))
        # Service links would inject <NAME>_SERVICE_HOST, <NAME>_PORT...: only the name
        # "apivector" maps to variables the configuration ignores.
        prefix = name.upper().replace("-", "_")
        c.check(prefix == "APIVECTOR" or not prefix.startswith("APIVECTOR_"),
                "Service %s: its service-link variables (%s_*) would be read as APIVECTOR_<KEY> settings" % (name, prefix))
    for pdb in kinds.get("PodDisruptionBudget", []):
        spec = pdb.get("spec") or {}
        c.check(subset((spec.get("selector") or {}).get("matchLabels") or {}, dep["labels"]),
                "PodDisruptionBudget: selector does not match the pods")
        c.check(("maxUnavailable" in spec) != ("minAvailable" in spec),
                "PodDisruptionBudget: set exactly one of maxUnavailable/minAvailable")


RESET = {"earliest": "earliest", "smallest": "earliest", "beginning": "earliest", "latest": "latest", "largest": "latest", "end": "latest"}


def check_scaledobject(c, kinds, dep, compose):
    so = kinds["ScaledObject"][0]
    spec = so.get("spec") or {}
    cfg = dep["cfg"]
    ref = spec.get("scaleTargetRef") or {}
    c.check(ref.get("name") == dep["deployment"]["metadata"]["name"] and ref.get("kind", "Deployment") == "Deployment",
            "ScaledObject: scaleTargetRef %s does not name the Deployment" % ref)
    c.check(spec.get("maxReplicaCount") == INPUT_PARTITIONS,
            "ScaledObject: maxReplicaCount %s, expected the input topic's partition count %d" % (spec.get("maxReplicaCount"), INPUT_PARTITIONS))
    c.check(isinstance(spec.get("minReplicaCount"), int) and 1 <= spec["minReplicaCount"] <= (spec.get("maxReplicaCount") or 0),
            "ScaledObject: minReplicaCount must be 1..maxReplicaCount")
    topic = cfg.get("input_topic", DEFAULTS["input_topic"])
    parts = compose_partitions(compose, topic)
    c.check(parts == INPUT_PARTITIONS,
            "%s: topic job creates %s with %s partitions, documented %d" % (os.path.basename(compose), topic, parts, INPUT_PARTITIONS))
    kafka = [t for t in spec.get("triggers") or [] if t.get("type") == "kafka"]
    if not c.check(len(kafka) == 1, "ScaledObject: expected one kafka trigger, found %d" % len(kafka)):
        return
    md = kafka[0].get("metadata") or {}
    c.check(all(isinstance(v, str) for v in md.values()),
            "ScaledObject: trigger metadata values must all be strings: %s" % md)
    c.check(md.get("consumerGroup") == cfg.get("group_id", DEFAULTS["group_id"]),
            "ScaledObject: consumerGroup %r differs from group_id %r" % (md.get("consumerGroup"), cfg.get("group_id", DEFAULTS["group_id"])))
    c.check(md.get("topic") == topic, "ScaledObject: topic %r differs from input_topic %r" % (md.get("topic"), topic))
    kprops = cfg.get("kafka") or {}
    c.check(md.get("bootstrapServers") == kprops.get("bootstrap.servers"),
            "ScaledObject: bootstrapServers %r differs from kafka bootstrap.servers %r" % (md.get("bootstrapServers"), kprops.get("bootstrap.servers")))
    # consumer/kafka.c defaults auto.offset.reset to earliest (librdkafka's own default is latest).
    reset = RESET.get(str(kprops.get("auto.offset.reset", "earliest")))
    c.check(md.get("offsetResetPolicy", "latest") == reset,
            "ScaledObject: offsetResetPolicy %r disagrees with auto.offset.reset %r" % (md.get("offsetResetPolicy"), kprops.get("auto.offset.reset")))
    c.check(str(md.get("lagThreshold", "")).isdigit() and int(md["lagThreshold"]) > 0,
            "ScaledObject: lagThreshold must be a positive integer string")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k8s", default=os.path.join(SOURCE, "deploy", "k8s"))
    ap.add_argument("--compose", default=os.path.join(SOURCE, "deploy", "docker-compose.yml"))
    ap.add_argument("--dockerfile", default=os.path.join(SOURCE, "deploy", "Dockerfile"))
    args = ap.parse_args()

    c = Checker()
    try:
        objs = load_objects(args.k8s)
    except (OSError, yaml.YAMLError) as e:
        print("FAIL: %s" % e)
        return 1
    kinds = check_objects(c, objs, args.k8s)
    if all(len(kinds.get(k, [])) == 1 for k in REQUIRED_ONCE):
        dep = check_deployment(c, kinds, args.dockerfile)
        if dep is not None:
            check_service_pdb(c, kinds, dep)
            check_scaledobject(c, kinds, dep, args.compose)
    for f in c.failures:
        print("FAIL: %s" % f)
    print("check_k8s: %d objects, %d checks passed, %d failed" % (len(objs), c.passed, len(c.failures)))
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
