#!/usr/bin/env bash
# Make sure Debian's Chromium is present for the browser tests (Playwright drives
# /usr/bin/chromium; it cannot download its own browser here).
set -euo pipefail
CHROMIUM=${PROCTOR_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium not found: installing Debian's chromium package for the browser tests…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
cat >&2 <<MSG
The browser tests need Chromium at $CHROMIUM and it is missing.
Install it with:   sudo apt-get install -y chromium
(or point PROCTOR_CHROMIUM at another Chromium binary), then run 'make test' again.
MSG
exit 1
