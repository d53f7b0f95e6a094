#!/usr/bin/env bash
# Stop the simulator started by scripts/kubesim/start.sh (by the pid in its pid file); no-op when not running.
set -euo pipefail
DIR="${DUALTRACK_KUBESIM_DIR:-/var/tmp/dualtrack-kubesim}"
PIDFILE="$DIR/kubesim.pid"
if [ ! -f "$PIDFILE" ]; then echo "stop.sh: not running"; exit 0; fi
PID="$(cat "$PIDFILE")"
if kill -0 "$PID" 2>/dev/null; then
  kill -TERM "$PID"
  for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID"; fi
  echo "stop.sh: stopped pid $PID"
else
  echo "stop.sh: pid $PID was not running"
fi
rm -f "$PIDFILE"
