#!/usr/bin/env bash
# Install Debian's prometheus package (prometheus + promtool) when missing. Idempotent; needs root and apt.
# The package's init script would start a Prometheus on 0.0.0.0:9090: a temporary policy-rc.d stops that,
# so the only Prometheus running is the one start.sh starts on 127.0.0.1.
set -euo pipefail

if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    exit 0
fi
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
fi
cleanup() { if [[ $created_policy == 1 ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v prometheus >/dev/null && command -v promtool >/dev/null
