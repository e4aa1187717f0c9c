# fetch_common.sh - helpers for tests/integration/test_fetch_*.sh (sourced, not a test).
#
# Sets FETCH_TOOL and WWW (the HTTP server's root, with apiscout/ inside) and
# gives small assertions over fetch-tool's JSON lines, parsed with Debian's
# python3 so the tests need nothing beyond the packages in scripts/deps.sh.
source "$AV_SOURCE_DIR/tests/support/lib.sh"

FETCH_TOOL="$AV_BUILD_DIR/tests/support/fetch-tool"
[ -x "$FETCH_TOOL" ] || av_fail "fetch-tool not built: $FETCH_TOOL"
av_tmpdir
WWW="$AV_TMP/www"
mkdir -p "$WWW/apiscout"
PASSED=0

ok() {
    PASSED=$((PASSED + 1))
    echo "ok - $*"
}

# fetch OUT args...: runs fetch-tool, stdout to OUT, stderr to OUT.err; sets RC.
fetch() {
    local out=$1
    shift
    RC=0
    "$FETCH_TOOL" "$@" >"$out" 2>"$out.err" || RC=$?
}

# count OUT key=value ...: request lines of OUT whose fields all match.
count() {
    "$AV_PYTHON" - "$@" <<'PY'
import json, sys
out, conds = sys.argv[1], [c.split("=", 1) for c in sys.argv[2:]]
n = 0
for line in open(out):
    line = line.strip()
    if not line.startswith("{"):
        continue
    d = json.loads(line)
    if "stats" in d:
        continue
    if all(str(d.get(k)).lower() == v.lower() for k, v in conds):
        n += 1
print(n)
PY
}

# field OUT N KEY: KEY of the N-th (0-based) request line of OUT.
field() {
    "$AV_PYTHON" - "$@" <<'PY'
import json, sys
out, n, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = [json.loads(l) for l in open(out) if l.startswith("{")]
lines = [d for d in lines if "stats" not in d]
print(lines[n].get(key, ""))
PY
}

# stat OUT KEY: KEY of the last stats line of OUT.
stat() {
    "$AV_PYTHON" - "$@" <<'PY'
import json, sys
out, key = sys.argv[1], sys.argv[2]
stats = [json.loads(l)["stats"] for l in open(out) if l.startswith('{"stats"')]
print(stats[-1][key] if stats else "nostats")
PY
}

# served PATH requests|bodies: the HTTP server's counter for PATH.
served() {
    curl -fsS "$HTTP_URL/_stats" | "$AV_PYTHON" -c '
import json, sys
print(json.load(sys.stdin)[sys.argv[2]].get(sys.argv[1], 0))' "$1" "$2"
}

control() {
    curl -fsS -X POST -d "$1" "$HTTP_URL/_control" >/dev/null
}

# expect NAME GOT WANT [OUT]: fails with OUT's content when GOT != WANT.
expect() {
    if [ "$2" != "$3" ]; then
        [ -n "${4:-}" ] && { cat "$4" >&2; cat "$4.err" >&2 2>/dev/null || true; }
        av_fail "$1: got '$2', want '$3'"
    fi
}

# contains NAME FILE NEEDLE
contains() {
    grep -qF -- "$3" "$2" || { cat "$2" >&2; av_fail "$1: '$3' not found"; }
}

sha_of() {
    sha256sum "$1" | cut -d' ' -f1
}
