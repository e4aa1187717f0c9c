#!/usr/bin/env bash
# test_deploy.sh - everything under deploy/ that can be validated without a
# container engine or a cluster.
#
# CI has neither Docker nor Kubernetes, so the image is never built, Compose
# never started and the manifests never applied. What this proves instead:
#
#  1. yamllint --strict (deploy/.yamllint) passes on every YAML file under
#     deploy/, and the same config does reject a broken file.
#  2. `docker-compose config -q` (Debian's docker-compose 1.29 parses and
#     validates against the Compose schema without an engine) accepts
#     deploy/docker-compose.yml, and rejects a copy with an invalid
#     depends_on condition.
#  3. `promtool check config` accepts deploy/prometheus.yml.
#  4. The build stage's own COPY and cmake lines, run here on a folder
#     holding only what it copies, build a Release binary that runs.
#  4b. check_container.py: Dockerfile and Compose structure, the runtime
#     packages against the NEEDED libraries of that binary, the pinned and
#     sha256-checked WinApi1024 fetch (see its docstring); a runtime stage
#     without libhiredis0.14 is rejected.
#  5. check_k8s.py: structure and cross-references of deploy/k8s/, and it
#     rejects copies with a wrong KEDA consumer group, a writable root
#     filesystem, a wrong readiness path, maxReplicaCount != partitions and a
#     Secret key that does not exist.
#  6. systemd-analyze verify: the unit with only ExecStart's binary path
#     pointed at the built binary (verify insists that the binary exists)
#     loads without a single message about it; a copy with a misspelt
#     directive does produce one; `systemd-analyze security --offline`
#     rates its exposure at most 1.5.
#  7. check_deploy_config.py: every config file and APIVECTOR_* variable the
#     image, Compose, Kubernetes and systemd give the consumer is accepted by
#     `apivector consume --check-config` (or, until that subcommand exists,
#     by the key table of common/config.c - it prints which); a copy of the
#     Compose file with a misspelt variable, a README naming a variable that
#     does not exist and a Service whose injected names would collide with a
#     key are rejected.
#
# Environment: AV_SOURCE_DIR, AV_BUILD_DIR (ctest sets both).
source "$AV_SOURCE_DIR/tests/support/lib.sh"

src=$AV_SOURCE_DIR
deploy=$src/deploy
bin=${AV_APIVECTOR:-$AV_BUILD_DIR/consumer/apivector}
py=/usr/bin/python3
[ -x "$bin" ] || av_fail "no built binary at $bin"
for tool in yamllint docker-compose promtool systemd-analyze readelf dpkg; do
    command -v "$tool" >/dev/null || av_fail "$tool is missing (scripts/deps.sh installs it)"
done
av_tmpdir
# A private copy of the sources the checkers read, for the negative controls.
mutant_tree() {
    rm -rf "$AV_TMP/src"
    mkdir -p "$AV_TMP/src"
    cp -r "$deploy" "$AV_TMP/src/deploy"
    ln -s "$src/common" "$AV_TMP/src/common"
    ln -s "$src/consumer" "$AV_TMP/src/consumer"
    cp "$src/CMakeLists.txt" "$AV_TMP/src/"
}

echo "1. yamllint on every YAML file under deploy/"
files=$(cd "$src" && yamllint --list-files -c deploy/.yamllint deploy)
echo "$files" | sed 's/^/   /'
nfiles=$(echo "$files" | grep -c .)
expected=$(find "$deploy" -type f \( -name '*.yml' -o -name '*.yaml' -o -name .yamllint \) | wc -l)
[ "$nfiles" -eq "$expected" ] || av_fail "yamllint lists $nfiles files, deploy/ has $expected YAML files"
(cd "$src" && yamllint --strict -c deploy/.yamllint deploy) || av_fail "yamllint found problems"
printf 'a: [1, 2\nb: yes\n' >"$AV_TMP/broken.yaml"
! yamllint --strict -c "$deploy/.yamllint" "$AV_TMP/broken.yaml" >/dev/null 2>&1 ||
    av_fail "yamllint accepted a broken file: the lint step proves nothing"

echo "2. docker-compose config -q"
env -i PATH=/usr/bin:/bin docker-compose -f "$deploy/docker-compose.yml" config -q ||
    av_fail "docker-compose rejects deploy/docker-compose.yml"
mutant_tree
sed -i 's/condition: service_completed_successfully/condition: service_finished/' "$AV_TMP/src/deploy/docker-compose.yml"
! env -i PATH=/usr/bin:/bin docker-compose -f "$AV_TMP/src/deploy/docker-compose.yml" config -q >/dev/null 2>&1 ||
    av_fail "docker-compose accepted an invalid depends_on condition: config -q proves nothing"

echo "3. promtool check config deploy/prometheus.yml"
promtool check config "$deploy/prometheus.yml" || av_fail "promtool rejects deploy/prometheus.yml"

echo "4. the build stage's commands on exactly the files it copies"
# No engine to run `docker build`, but the build stage is plain Debian 12:
# run its COPY and cmake RUN lines here, in a folder holding only what the
# stage copies, so a dependency on tests/, schemas/... would fail here.
ctx="$AV_TMP/context"
mkdir -p "$ctx"
stage=$(awk '/^FROM .* AS build$/{s=1;next} /^FROM /{s=0} s' "$deploy/Dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
copies=$(echo "$stage" | grep '^COPY ' || true)
[ -n "$copies" ] || av_fail "the build stage copies nothing"
while read -r _ from to; do
    [ -e "$src/$from" ] || av_fail "the build stage copies $from, which does not exist"
    cp -r "$src/$from" "$ctx/$to"
done <<<"$copies"
run=$(echo "$stage" | grep '^RUN .*cmake -S' | sed 's/^RUN //')
[ -n "$run" ] || av_fail "the build stage has no cmake RUN line"
run=${run//\/out\//$ctx/out/}
echo "   $run"
(cd "$ctx" && bash -ec "$run") >"$AV_TMP/context-build.log" 2>&1 || {
    tail -30 "$AV_TMP/context-build.log" >&2
    av_fail "the build stage's commands fail on the files it copies"
}
"$ctx/out/apivector" version | grep -q '^apivector ' || av_fail "the binary built like the image's does not run"
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$ctx/build/CMakeCache.txt" || av_fail "the image build is not Release"
[ ! -e "$ctx/build/tests" ] || av_fail "the image build configured the test suite"

echo "4b. Dockerfile and Compose structure"
# With the binary built like the image's: its NEEDED libraries are what the
# runtime stage must install (the project's build may carry sanitizer runtimes).
AV_APIVECTOR="$ctx/out/apivector" "$py" "$src/tests/integration/check_container.py" || av_fail "check_container.py"
mutant_tree
sed -i 's/librdkafka1 libhiredis0.14 /librdkafka1 /' "$AV_TMP/src/deploy/Dockerfile"
cmp -s "$deploy/Dockerfile" "$AV_TMP/src/deploy/Dockerfile" && av_fail "the Dockerfile mutation changed nothing"
if out=$(AV_SOURCE_DIR="$AV_TMP/src" AV_APIVECTOR="$ctx/out/apivector" "$py" "$src/tests/integration/check_container.py" 2>&1); then
    av_fail "check_container.py accepted a runtime stage without libhiredis0.14"
fi
echo "$out" | grep -q "runtime stage misses the packages of {'libhiredis.so.0.14': 'libhiredis0.14'}" ||
    av_fail "check_container.py failed for another reason: $out"
echo "   rejected as expected: runtime stage without libhiredis0.14"

echo "5. Kubernetes manifests"
"$py" "$src/tests/integration/check_k8s.py" || av_fail "check_k8s.py"
mutate_k8s() {
    local file=$1 expr=$2 expect=$3 out
    mutant_tree
    sed -i "$expr" "$AV_TMP/src/deploy/k8s/$file"
    cmp -s "$deploy/k8s/$file" "$AV_TMP/src/deploy/k8s/$file" && av_fail "mutation '$expr' changed nothing in $file"
    if out=$(AV_SOURCE_DIR="$AV_TMP/src" "$py" "$src/tests/integration/check_k8s.py" 2>&1); then
        av_fail "check_k8s.py accepted $file with '$expr'"
    fi
    echo "$out" | grep -q "$expect" || av_fail "check_k8s.py rejected '$expr' for another reason: $out"
    echo "   rejected as expected: $expr"
}
mutate_k8s scaledobject.yaml 's/consumerGroup: apivector$/consumerGroup: apivector-old/' "consumerGroup 'apivector-old' differs"
mutate_k8s deployment.yaml 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' "readOnlyRootFilesystem must be true"
mutate_k8s deployment.yaml 's#path: /readyz#path: /ready#' "readinessProbe path '/ready'"
mutate_k8s scaledobject.yaml 's/maxReplicaCount: 6/maxReplicaCount: 12/' "maxReplicaCount 12"
mutate_k8s deployment.yaml 's/key: redis-password/key: redis-pass/' "missing Secret key apivector-secrets/redis-pass"

echo "6. systemd-analyze verify and security"
unit_dir="$AV_TMP/unit"
mkdir -p "$unit_dir/bad"
# verify fails when ExecStart's binary is missing, and --root would need a
# whole systemd tree (sysinit.target...): test a copy whose only change is
# the binary's path, and prove that it is the only change.
sed "s#^ExecStart=/usr/local/bin/apivector #ExecStart=$bin #" "$deploy/systemd/apivector.service" >"$unit_dir/apivector.service"
changed=$(diff "$deploy/systemd/apivector.service" "$unit_dir/apivector.service" | grep -c '^[<>]' || true)
[ "$changed" -eq 2 ] || av_fail "the unit copy differs in $changed lines, expected only ExecStart"
vout=$(systemd-analyze verify "$unit_dir/apivector.service" 2>&1) || av_fail "systemd-analyze verify failed: $vout"
if echo "$vout" | grep -q 'apivector.service'; then
    av_fail "systemd-analyze verify complains: $vout"
fi
[ -z "$vout" ] || echo "   (messages about other units: $vout)"
# verify exits 0 even for an unknown directive; only its message tells.
sed 's/^ProtectSystem=strict/ProtectSytem=strict/' "$unit_dir/apivector.service" >"$unit_dir/bad/apivector.service"
bad=$(systemd-analyze verify "$unit_dir/bad/apivector.service" 2>&1 || true)
echo "$bad" | grep -q "Unknown key 'ProtectSytem'" ||
    av_fail "systemd-analyze verify did not report a misspelt directive: the check proves nothing ($bad)"
systemd-analyze security --offline=yes "$unit_dir/apivector.service" | tail -1
systemd-analyze security --offline=yes --threshold=15 "$unit_dir/apivector.service" >/dev/null ||
    av_fail "the unit's exposure level is above 1.5"

echo "7. config keys and APIVECTOR_* variables"
"$py" "$src/tests/integration/check_deploy_config.py" || av_fail "check_deploy_config.py"
mutant_tree
sed -i 's/^    APIVECTOR_WORKERS: "2"$/    APIVECTOR_WORKER: "2"/' "$AV_TMP/src/deploy/docker-compose.yml"
cmp -s "$deploy/docker-compose.yml" "$AV_TMP/src/deploy/docker-compose.yml" && av_fail "the Compose mutation changed nothing"
if out=$(AV_SOURCE_DIR="$AV_TMP/src" "$py" "$src/tests/integration/check_deploy_config.py" 2>&1); then
    av_fail "check_deploy_config.py accepted APIVECTOR_WORKER"
fi
echo "$out" | grep -q 'APIVECTOR_WORKER' || av_fail "check_deploy_config.py failed for another reason: $out"
echo "   rejected as expected: APIVECTOR_WORKER in docker-compose.yml"
# A name only mentioned in prose is checked too.
mutant_tree
echo 'Set APIVECTOR_REDIS_PASSWD in the env file.' >>"$AV_TMP/src/deploy/README.md"
if out=$(AV_SOURCE_DIR="$AV_TMP/src" "$py" "$src/tests/integration/check_deploy_config.py" 2>&1); then
    av_fail "check_deploy_config.py accepted APIVECTOR_REDIS_PASSWD in README.md"
fi
echo "$out" | grep -q 'README.md: APIVECTOR_REDIS_PASSWD is not a configuration variable' ||
    av_fail "check_deploy_config.py failed for another reason: $out"
echo "   rejected as expected: APIVECTOR_REDIS_PASSWD mentioned in README.md"
# The Service's name matters: with service links on, "apivector-metrics" would
# inject APIVECTOR_METRICS_PORT=tcp://..., which collides with metrics_port.
mutant_tree
sed -i 's/^  name: apivector$/  name: apivector-metrics/' "$AV_TMP/src/deploy/k8s/service.yaml"
cmp -s "$deploy/k8s/service.yaml" "$AV_TMP/src/deploy/k8s/service.yaml" && av_fail "the Service mutation changed nothing"
if out=$(AV_SOURCE_DIR="$AV_TMP/src" "$py" "$src/tests/integration/check_deploy_config.py" 2>&1); then
    av_fail "check_deploy_config.py accepted a Service named apivector-metrics"
fi
echo "$out" | grep -q 'APIVECTOR_METRICS_PORT' || av_fail "check_deploy_config.py failed for another reason: $out"
echo "   rejected as expected: Service apivector-metrics (injects APIVECTOR_METRICS_PORT=tcp://...)"

echo "PASS test_deploy"
