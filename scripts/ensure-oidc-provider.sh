#!/usr/bin/env bash
# The tests' OpenID provider (tests/oidc/provider.mjs: Node's oidc-provider,
# pinned in tests/oidc/package-lock.json): installed once with `npm ci`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$HERE/tests/oidc/node_modules/oidc-provider/package.json" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "The SSO tests need Node.js 20+ and npm (tests/oidc); install them and run 'make test' again." >&2
  exit 1
fi
npm ci --prefix "$HERE/tests/oidc" --no-audit --no-fund --loglevel=error
