#!/usr/bin/env bash
# Stop the cluster of scripts/postgres/start.sh by its postmaster pid (fast shutdown: SIGINT), waiting up to
# 30 s, then SIGQUIT. The data folder stays (start.sh reuses it); remove $DIR to start from scratch.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! pid="$(running_pid)"; then
  echo "stop.sh: not running"
  exit 0
fi
kill -INT "$pid"
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || { echo "stop.sh: stopped (pid $pid)"; exit 0; }
  sleep 0.1
done
kill -QUIT "$pid" 2>/dev/null
sleep 1
if kill -0 "$pid" 2>/dev/null; then echo "stop.sh: pid $pid still running" >&2; exit 1; fi
echo "stop.sh: stopped (pid $pid, immediate shutdown)"
