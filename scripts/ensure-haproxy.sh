#!/usr/bin/env bash
# Make sure Debian's HAProxy is present for `proctor cluster` / `make cluster`
# and the multi-process tests (the load balancer in front of the web processes).
# The cluster runs its own haproxy with its own configuration, as this user:
# the package's service is not used.
set -euo pipefail
HAPROXY=${PROCTOR_HAPROXY:-/usr/sbin/haproxy}
if [ -x "$HAPROXY" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "HAProxy not found: installing Debian's haproxy package for the multi-process deployment…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
  exit 0
fi
cat >&2 <<MSG
The multi-process deployment (proctor cluster) needs HAProxy at $HAPROXY and it is missing.
Install it with:   sudo apt-get install -y haproxy
(or point PROCTOR_HAPROXY at another haproxy binary), then run the command again.
MSG
exit 1
