#!/usr/bin/python3
"""check_deploy_config.py - every configuration the deployment files give the consumer is one it accepts.

Each deployment is reduced to what the process would see: a config file and a set of
APIVECTOR_* environment variables.

  image      deploy/Dockerfile: the copy of deploy/config.example.json at the CMD's --config
             path, plus any APIVECTOR_* the Dockerfile sets with ENV.
  compose/S  every consumer service S of `docker-compose config` (resolved): the image's
             file and ENV plus the service's environment.
  k8s        the ConfigMap's JSON at the Deployment's --config path plus the container's env,
             secretKeyRef/configMapKeyRef resolved from the Secret and ConfigMap manifests.
  k8s+links  the same plus the variables Kubernetes injects for each Service of the
             namespace when service links are on (they are off; this proves that the
             Service's name is one the configuration ignores).
  systemd    the unit's --config file (installed from deploy/config.example.json) plus its
             Environment= lines.

Each is checked with the binary: `apivector consume --config FILE --check-config` under
exactly that environment must exit 0. Paths that exist only inside the container
(malpedia_apikey_file, an absolute winapi1024) are pointed at local stand-ins in a temp
copy of the file, and each such rewrite is printed. Until the `consume` subcommand exists
the binary answers "unknown command"; the script then says so and checks the same inputs
against the key table parsed from common/config.c instead (names, types, ranges, the
environment rules of common/config.h, cross-key rules). AV_REQUIRE_CHECK_CONFIG=1 turns
that fallback into a failure.

Independently of the binary, every APIVECTOR_* name written anywhere under deploy/
(comments and README included) must be a key, a Kafka property variable, APIVECTOR_CONFIG
or a name the configuration deliberately ignores.

Environment: AV_SOURCE_DIR, AV_APIVECTOR (the binary) or AV_BUILD_DIR, APISCOUT_DATA_DIR.
"""
import base64
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

SOURCE = os.path.abspath(os.environ.get("AV_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
DEPLOY = os.path.join(SOURCE, "deploy")
BUILD = os.environ.get("AV_BUILD_DIR", "")
BINARY = os.environ.get("AV_APIVECTOR") or os.path.join(BUILD, "consumer", "apivector")
DATA = os.environ.get("APISCOUT_DATA_DIR", os.path.join(SOURCE, "..", "shared", "apiscout"))
LEVELS = ("debug", "info", "warn", "error")
IGNORED_ENV = re.compile(r"^APIVECTOR_(CONFIG|SERVICE_.*|PORT|PORT_[0-9]+_(TCP|UDP|SCTP).*)$")
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: %s" % msg)


# ------------------------------------------------------------------ key table


def load_key_table():
    """{name: {"type", "flags", "default", "min", "max"}} from common/config.c's configKeys[]."""
    with open(os.path.join(SOURCE, "common", "config.c"), encoding="utf-8") as f:
        text = f.read()
    body = re.search(r"configKeys\[\]\s*=\s*\{(.*?)\n\};", text, re.S).group(1)
    consts = {"I31": 2147483647.0, "I63": 9223372036854775807.0, "NULL": None}
    num = lambda s: consts[s] if s in consts else float(s)  # noqa: E731
    table = {}
    for m in re.finditer(r"^\s*(KSTR|KINT|KNUM|KBOOL|K)\((.*)\),\s*$", body, re.M):
        macro, args = m.group(1), [a.strip() for a in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", m.group(2))]
        name = args[0]
        if macro == "KSTR":
            default = None if args[2] == "NULL" else json.loads(args[2])
            table[name] = {"type": "CT_STR", "flags": args[1], "default": default}
        elif macro in ("KINT", "KNUM"):
            table[name] = {"type": "CT_" + macro[1:], "flags": "", "default": num(args[1]), "min": num(args[2]), "max": num(args[3])}
        elif macro == "KBOOL":
            table[name] = {"type": "CT_BOOL", "flags": "", "default": bool(int(args[1]))}
        else:
            table[name] = {"type": args[1], "flags": args[2], "default": None}
    with open(os.path.join(SOURCE, "common", "config.h"), encoding="utf-8") as f:
        nkeys = int(re.search(r"#define CONFIG_NKEYS (\d+)", f.read()).group(1))
    if len(table) != nkeys:
        raise SystemExit("FAIL: parsed %d keys from common/config.c, config.h says CONFIG_NKEYS %d" % (len(table), nkeys))
    return table


def kafka_prop_of_env(name):
    """APIVECTOR_KAFKA_SASL_PASSWORD -> sasl.password (config.h's rule)."""
    rest = name[len("APIVECTOR_KAFKA_"):]
    return "log_level" if rest == "LOG_LEVEL" else rest.lower().replace("_", ".")


def env_to_json(spec, raw):
    """Converts an environment value by the key's type, as config_env.c does; raises ValueError."""
    t, v = spec["type"], raw.strip()
    if t in ("CT_INT", "CT_NUM"):
        if not re.fullmatch(r"[-+0-9.eE]+", v):
            raise ValueError("expected a number, got %r" % raw)
        return int(v, 10) if t == "CT_INT" else float(v)
    if t == "CT_BOOL":
        if v.lower() in ("true", "1", "false", "0"):
            return v.lower() in ("true", "1")
        raise ValueError("expected true, false, 1 or 0, got %r" % raw)
    if t == "CT_STR":
        return None if raw == "" and "CF_EMPTYNULL" in spec["flags"] else raw
    if t == "CT_LIST":
        return json.loads(v) if v.startswith("[") else [i.strip() for i in raw.split(",") if i.strip()]
    if t in ("CT_LISTS", "CT_KAFKA"):
        return json.loads(raw)
    if t == "CT_LEVEL":
        return v
    raise ValueError("unknown type %s" % t)


def check_value(name, spec, v, origin):
    """Type and range of one value, as configSetValue() checks them; returns an error or None."""
    t, flags = spec["type"], spec["flags"]
    if t == "CT_STR":
        if v is None:
            return None if "CF_NULLABLE" in flags else "%s: %s: must not be null" % (origin, name)
        if not isinstance(v, str):
            return "%s: %s: expected a string" % (origin, name)
        if v == "" and "CF_NONEMPTY" in flags:
            return "%s: %s: must not be empty" % (origin, name)
        if "CF_TOPIC" in flags and not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", v):
            return "%s: %s: %r is not a topic name" % (origin, name, v)
        if "CF_HTTP" in flags and v and not re.match(r"^https?://[^/]", v):
            return "%s: %s: %r is not an http(s) URL" % (origin, name, v)
        return None
    if t in ("CT_INT", "CT_NUM"):
        ok = isinstance(v, int) if t == "CT_INT" else isinstance(v, (int, float))
        if not ok or isinstance(v, bool):
            return "%s: %s: expected %s" % (origin, name, "an integer" if t == "CT_INT" else "a number")
        if not spec["min"] <= v <= spec["max"]:
            return "%s: %s: %s is out of range %s..%s" % (origin, name, v, spec["min"], spec["max"])
        return None
    if t == "CT_BOOL":
        return None if isinstance(v, bool) else "%s: %s: expected a boolean" % (origin, name)
    if t == "CT_LIST":
        if not isinstance(v, list) or not all(isinstance(i, str) for i in v):
            return "%s: %s: expected a list of strings" % (origin, name)
        if "CF_ABSPATHS" in flags and not all(i.startswith("/") for i in v):
            return "%s: %s: items must be absolute paths" % (origin, name)
        return None
    if t == "CT_LISTS":
        ok = isinstance(v, dict) and all(isinstance(c, dict) and isinstance(c.get("classification"), str) and set(c) == {"classification"} for c in v.values())
        return None if ok else "%s: %s: expected {name: {\"classification\": string}}" % (origin, name)
    if t == "CT_LEVEL":
        return None if v in LEVELS else "%s: %s: expected one of %s" % (origin, name, "/".join(LEVELS))
    if t == "CT_KAFKA":
        ok = isinstance(v, dict) and all(isinstance(p, str) and p and isinstance(x, (str, int, bool)) for p, x in v.items())
        return None if ok else "%s: %s: expected an object of librdkafka properties" % (origin, name)
    return "%s: %s: unknown type %s" % (origin, name, t)


def static_check(table, cfg, env, label):
    """The fallback: defaults < file < env, per-key checks, then configValidate()'s rules."""
    errors = []
    eff = {k: s["default"] for k, s in table.items()}
    for k, v in cfg.items():
        if k not in table:
            errors.append("%s: file: unknown key %r" % (label, k))
            continue
        e = check_value(k, table[k], v, label + ": file")
        if e:
            errors.append(e)
        else:
            eff[k] = v
    kafka = dict(cfg.get("kafka") or {})
    for name, raw in sorted(env.items()):
        if not name.startswith("APIVECTOR_") or IGNORED_ENV.match(name):
            continue
        if name == "APIVECTOR_KAFKA":
            try:
                obj = json.loads(raw)
                e = check_value("kafka", table["kafka"], obj, "%s: env %s" % (label, name))
                if e:
                    errors.append(e)
                else:
                    kafka.update(obj)
            except ValueError as ex:
                errors.append("%s: env %s: %s" % (label, name, ex))
            continue
        if name.startswith("APIVECTOR_KAFKA_"):
            prop = kafka_prop_of_env(name)
            if not re.fullmatch(r"[a-z0-9._]+", prop) or prop.startswith(".") or prop.endswith("."):
                errors.append("%s: env %s: %r is not a librdkafka property name" % (label, name, prop))
            kafka[prop] = raw
            continue
        key = name[len("APIVECTOR_"):].lower()
        if key not in table or key == "kafka":
            errors.append("%s: env %s: unknown variable (no key %r)" % (label, name, key))
            continue
        try:
            v = env_to_json(table[key], raw)
        except ValueError as ex:
            errors.append("%s: env %s: %s: %s" % (label, name, key, ex))
            continue
        e = check_value(key, table[key], v, "%s: env %s" % (label, name))
        if e:
            errors.append(e)
        else:
            eff[key] = v
    if not errors:
        rules = [
            (eff["retry_backoff_max_ms"] >= eff["retry_backoff_ms"], "retry_backoff_max_ms < retry_backoff_ms"),
            (eff["http_connect_timeout_ms"] <= eff["http_timeout_ms"], "http_connect_timeout_ms > http_timeout_ms"),
            (eff["input_topic"] not in (eff["results_topic"], eff["dlq_topic"]), "input_topic equals results_topic or dlq_topic"),
            (not (eff["malpedia_apikey"] and eff["malpedia_apikey_file"]), "both malpedia_apikey and malpedia_apikey_file"),
            (bool(eff["support_url"]), "support_url is not set (required by consume)"),
            (bool(kafka.get("bootstrap.servers")), "kafka bootstrap.servers is not set"),
        ]
        errors += ["%s: %s" % (label, msg) for ok, msg in rules if not ok]
    return errors


# ----------------------------------------------------------------- extraction


def dockerfile_info():
    """(config path of the CMD, repo file copied there, {APIVECTOR_* ENV})."""
    with open(os.path.join(DEPLOY, "Dockerfile"), encoding="utf-8") as f:
        lines = re.sub(r"\\\n", " ", f.read()).splitlines()
    env, copies, cmd = {}, {}, None
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0] == "ENV":
            for w in shlex.split(line[3:]):
                if "=" in w and w.startswith("APIVECTOR_"):
                    env[w.split("=", 1)[0]] = w.split("=", 1)[1]
        elif words[0] == "COPY" and not words[1].startswith("--from"):
            copies[words[-1]] = os.path.join(SOURCE, words[1])
        elif words[0] == "CMD":
            cmd = json.loads(line[3:].strip())
    path = cmd[cmd.index("--config") + 1]
    return path, copies.get(path), env


def compose_targets(img_path, img_file, img_env):
    out = subprocess.run(["docker-compose", "-f", os.path.join(DEPLOY, "docker-compose.yml"), "config"],
                         capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, timeout=60)
    if out.returncode != 0:
        fail("docker-compose config: %s" % out.stderr.strip())
        return []
    targets = []
    for name, svc in sorted(yaml.safe_load(out.stdout)["services"].items()):
        if (svc.get("build") or {}).get("dockerfile") != "deploy/Dockerfile":
            continue
        if svc.get("command") or svc.get("entrypoint"):
            fail("compose/%s: overrides the image's command; this check assumes the image's --config %s" % (name, img_path))
        env = dict(img_env)
        env.update({k: "" if v is None else str(v) for k, v in (svc.get("environment") or {}).items()})
        targets.append(("compose/" + name, img_file, env, {}))
    if not targets:
        fail("docker-compose.yml: no service builds deploy/Dockerfile")
    return targets


def k8s_targets(img_env):
    objs = []
    for p in sorted(glob.glob(os.path.join(DEPLOY, "k8s", "*.yaml"))):
        with open(p, encoding="utf-8") as f:
            objs += [o for o in yaml.safe_load_all(f) if o]
    by = lambda kind: {o["metadata"]["name"]: o for o in objs if o.get("kind") == kind}  # noqa: E731
    secrets, cms = by("Secret"), by("ConfigMap")

    def secret_value(name, key):
        s = secrets[name]
        if key in (s.get("stringData") or {}):
            return s["stringData"][key]
        return base64.b64decode(s["data"][key]).decode()

    dep = list(by("Deployment").values())[0]
    pod = dep["spec"]["template"]["spec"]
    ctr = pod["containers"][0]
    argv = list(ctr.get("command") or []) + list(ctr.get("args") or [])
    cfg_path = argv[argv.index("--config") + 1]
    mount = [m for m in ctr["volumeMounts"] if cfg_path.startswith(m["mountPath"].rstrip("/") + "/")][0]
    vol = [v for v in pod["volumes"] if v["name"] == mount["name"]][0]
    rel = cfg_path[len(mount["mountPath"].rstrip("/")) + 1:]
    key = next((i["key"] for i in vol["configMap"].get("items") or [] if i["path"] == rel), rel)
    cfg_text = cms[vol["configMap"]["name"]]["data"][key]
    env = dict(img_env)
    for e in ctr.get("env") or []:
        vf = e.get("valueFrom") or {}
        if "secretKeyRef" in vf:
            env[e["name"]] = secret_value(vf["secretKeyRef"]["name"], vf["secretKeyRef"]["key"])
        elif "configMapKeyRef" in vf:
            env[e["name"]] = cms[vf["configMapKeyRef"]["name"]]["data"][vf["configMapKeyRef"]["key"]]
        else:
            env[e["name"]] = str(e.get("value", ""))
    # Files the config names, with the content the pod would see there.
    files = {}
    for m in ctr["volumeMounts"]:
        v = [x for x in pod["volumes"] if x["name"] == m["name"]][0]
        if "secret" in v:
            for it in v["secret"].get("items") or []:
                files[m["mountPath"].rstrip("/") + "/" + it["path"]] = secret_value(v["secret"]["secretName"], it["key"])
    links = dict(env)
    for svc in by("Service").values():
        prefix = svc["metadata"]["name"].upper().replace("-", "_")
        links[prefix + "_SERVICE_HOST"] = "10.96.0.10"
        for p in svc["spec"]["ports"]:
            proto = p.get("protocol", "TCP")
            links[prefix + "_SERVICE_PORT"] = str(p["port"])
            if p.get("name"):
                links["%s_SERVICE_PORT_%s" % (prefix, p["name"].upper().replace("-", "_"))] = str(p["port"])
            links[prefix + "_PORT"] = "%s://10.96.0.10:%d" % (proto.lower(), p["port"])
            base = "%s_PORT_%d_%s" % (prefix, p["port"], proto)
            links[base] = "%s://10.96.0.10:%d" % (proto.lower(), p["port"])
            links[base + "_PROTO"], links[base + "_PORT"], links[base + "_ADDR"] = proto.lower(), str(p["port"]), "10.96.0.10"
    return [("k8s", cfg_text, env, files), ("k8s+links", cfg_text, links, files)]


def systemd_target():
    with open(os.path.join(DEPLOY, "systemd", "apivector.service"), encoding="utf-8") as f:
        lines = [l.strip() for l in f]
    env, cfg_path = {}, None
    for line in lines:
        if line.startswith("Environment="):
            for w in shlex.split(line[len("Environment="):]):
                env[w.split("=", 1)[0]] = w.split("=", 1)[1]
        elif line.startswith("ExecStart="):
            argv = shlex.split(line[len("ExecStart="):])
            cfg_path = argv[argv.index("--config") + 1]
    if cfg_path != "/etc/apivector/config.json":
        fail("systemd: --config %s is not where deploy/README.md installs config.example.json" % cfg_path)
    return ("systemd", os.path.join(DEPLOY, "config.example.json"), env, {})


# ------------------------------------------------------------------- running


def local_copy(tmp, label, cfg, env, files):
    """Writes the config for a local run, pointing in-container paths at stand-ins."""
    cfg, env = dict(cfg), dict(env)

    def standin(path, what):
        if os.path.exists(path):
            return path
        if path in files or what == "key":
            local = os.path.join(tmp, "%s.%s" % (label.replace("/", "_"), os.path.basename(path)))
            with open(local, "w", encoding="utf-8") as f:
                f.write(files.get(path, "placeholder-key"))
        else:
            local = os.path.join(DATA, os.path.basename(path))
        print("  %s: %s %s -> local stand-in %s" % (label, what, path, local))
        return local

    if cfg.get("malpedia_apikey_file"):
        cfg["malpedia_apikey_file"] = standin(cfg["malpedia_apikey_file"], "key")
    if env.get("APIVECTOR_MALPEDIA_APIKEY_FILE"):
        env["APIVECTOR_MALPEDIA_APIKEY_FILE"] = standin(env["APIVECTOR_MALPEDIA_APIKEY_FILE"], "key")
    if str(cfg.get("winapi1024", "")).startswith("/"):
        cfg["winapi1024"] = standin(cfg["winapi1024"], "winapi1024")
    path = os.path.join(tmp, label.replace("/", "_") + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f)
    return path, env


def run_binary(cfg_path, env):
    # Nothing of the caller's environment but PATH and the sanitizers' options.
    full = {k: v for k, v in os.environ.items() if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}
    full["PATH"] = "/usr/bin:/bin"
    full.update(env)
    return subprocess.run([BINARY, "consume", "--config", cfg_path, "--check-config"], capture_output=True, text=True, env=full, timeout=30)


def scan_names(table):
    """Every APIVECTOR_* name written under deploy/ must mean something to the config."""
    n = 0
    for path in sorted(glob.glob(os.path.join(DEPLOY, "**", "*"), recursive=True) + glob.glob(os.path.join(DEPLOY, ".*"))):
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for m in re.finditer(r"APIVECTOR_[A-Z0-9_]*[A-Z0-9]", text):
            name, nxt = m.group(0), text[m.end():m.end() + 1]
            if nxt in ("<", "*") or text[m.end() - 1:m.end() + 1] == "_<":
                continue  # a pattern such as APIVECTOR_<KEY> or APIVECTOR_SERVICE_*
            if text[max(0, m.start() - 2):m.start()] == "-D":
                continue  # a CMake option (-DAPIVECTOR_TESTS=OFF), not the environment
            n += 1
            key = name[len("APIVECTOR_"):].lower()
            ok = (key in table and key != "kafka") or name == "APIVECTOR_KAFKA" or name.startswith("APIVECTOR_KAFKA_") or IGNORED_ENV.match(name)
            if not ok:
                fail("%s: %s is not a configuration variable" % (os.path.relpath(path, SOURCE), name))
    print("names: %d APIVECTOR_* mentions under deploy/ checked against the key table" % n)


def main():
    table = load_key_table()
    print("key table: %d keys from common/config.c" % len(table))
    img_path, img_file, img_env = dockerfile_info()
    if img_file is None:
        fail("Dockerfile: nothing is copied to the CMD's --config %s" % img_path)
        return 1
    targets = [("image", img_file, img_env, {})] + compose_targets(img_path, img_file, img_env) + k8s_targets(img_env) + [systemd_target()]
    scan_names(table)

    use_binary = os.access(BINARY, os.X_OK)
    if not use_binary:
        fail("no executable apivector at %s (set AV_BUILD_DIR or AV_APIVECTOR)" % BINARY)
    path_used = "binary"
    with tempfile.TemporaryDirectory(prefix="apivector-deploycfg.") as tmp:
        for label, src, env, files in targets:
            try:
                if isinstance(src, str) and os.path.isfile(src):
                    with open(src, encoding="utf-8") as f:
                        cfg = json.load(f)
                else:
                    cfg = json.loads(src)
            except ValueError as e:
                fail("%s: config JSON: %s" % (label, e))
                continue
            keys = sorted(k for k in env if k.startswith("APIVECTOR_"))
            errors = static_check(table, cfg, env, label)
            for e in errors:
                fail("static: " + e)
            if use_binary:
                cfg_path, run_env = local_copy(tmp, label, cfg, env, files)
                r = run_binary(cfg_path, run_env)
                if r.returncode != 0 and "unknown command" in r.stderr:
                    use_binary = False
                    path_used = "static"
                elif r.returncode != 0:
                    fail("%s: apivector consume --check-config exited %d: %s" % (label, r.returncode, (r.stderr or r.stdout).strip()[:600]))
                    continue
            print("%-22s %d file keys, %d env keys (%s): %s" % (label, len(cfg), len(keys), " ".join(keys) or "-", "ok" if not errors else "errors"))
    if not os.access(BINARY, os.X_OK):
        path_used = "static"
    if path_used == "binary":
        print("PATH USED: binary - `%s consume --check-config` accepted every deployment (exit 0), plus the static key-table check" % BINARY)
    else:
        print("PATH USED: STATIC ONLY - `apivector consume` does not exist in this build yet; inputs were checked against the key table "
              "parsed from common/config.c (names, types, ranges, env rules, cross-key rules), not by the binary")
        if os.environ.get("AV_REQUIRE_CHECK_CONFIG") == "1":
            fail("AV_REQUIRE_CHECK_CONFIG=1 but the binary check could not run")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
