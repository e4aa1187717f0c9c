#!/usr/bin/env bash
# scripts/deps.sh - install the Debian 12 packages apivector needs to build,
# test and run its demo. As root it runs apt-get; otherwise it prints the
# exact apt-get line and exits 1. Installs only what is missing.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config git
    librdkafka-dev libhiredis-dev libjansson-dev libcurl4-openssl-dev libssl-dev
    libcmocka-dev libmicrohttpd-dev
    redis-server kcat iproute2 curl openssl
    python3 python3-jsonschema python3-yaml
    clang libclang-rt-14-dev clang-format
    yamllint prometheus docker-compose systemd
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "apivector needs these Debian packages: ${missing[*]}" >&2
    echo "run as root:  $line" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts redis-server as a service on install; the tests start their own.
if command -v systemctl >/dev/null 2>&1; then
    systemctl stop redis-server >/dev/null 2>&1 || true
fi
