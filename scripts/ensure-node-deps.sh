#!/usr/bin/env bash
# The npm projects of the Node tests: `npm ci` (exactly the lock file) where
# node_modules is missing or older than package-lock.json. Called by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
for dir in tests/js; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
