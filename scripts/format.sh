#!/usr/bin/env bash
# scripts/format.sh - format the C sources with the repository's .clang-format.
#   scripts/format.sh           rewrite files in place
#   scripts/format.sh --check   fail (exit 1) listing files that are not formatted
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h')
if [ "${1:-}" = "--check" ]; then
    bad=0
    for f in "${files[@]}"; do
        if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
            echo "not formatted: $f (run scripts/format.sh)" >&2
            bad=1
        fi
    done
    [ "$bad" -eq 0 ] && echo "format: ${#files[@]} files ok"
    exit "$bad"
fi
clang-format -i "${files[@]}"
