#!/usr/bin/env bash
# Start the Kubernetes API simulator (python -m dualtrack.sim.kubeapi) in the background on 127.0.0.1:$PORT
# (default 16443) with 4 nodes x 8 A100 under 2 switches, unless it already answers there.
# State folder ${DUALTRACK_KUBESIM_DIR:-/var/tmp/dualtrack-kubesim}: kubesim.pid, kubesim.log, kubeconfig.
# Extra arguments go to the simulator (e.g. --cluster FILE --run-seconds 5). Waits until /healthz answers
# and the kubeconfig exists; exits non-zero with the log tail otherwise. Stop it with scripts/kubesim/stop.sh.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${DUALTRACK_KUBESIM_DIR:-/var/tmp/dualtrack-kubesim}"
PORT="${DUALTRACK_KUBESIM_PORT:-16443}"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
mkdir -p "$DIR"

healthy() { "$PYTHON" - "$PORT" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1).read()
PY
}

if [ -f "$DIR/kubesim.pid" ] && kill -0 "$(cat "$DIR/kubesim.pid")" 2>/dev/null && healthy; then
  echo "start.sh: already running (pid $(cat "$DIR/kubesim.pid")), kubeconfig $DIR/kubeconfig"
  exit 0
fi
rm -f "$DIR/kubeconfig"
cd "$REPO"
nohup "$PYTHON" -m dualtrack.sim.kubeapi --port "$PORT" --kubeconfig-out "$DIR/kubeconfig" "$@" \
  >"$DIR/kubesim.log" 2>&1 &
echo $! >"$DIR/kubesim.pid"
for _ in $(seq 1 200); do
  if healthy && [ -s "$DIR/kubeconfig" ]; then
    echo "start.sh: kubesim on http://127.0.0.1:$PORT (pid $(cat "$DIR/kubesim.pid")), kubeconfig $DIR/kubeconfig"
    exit 0
  fi
  if ! kill -0 "$(cat "$DIR/kubesim.pid")" 2>/dev/null; then break; fi
  sleep 0.1
done
echo "start.sh: FAILED: kubesim did not come up on port $PORT" >&2
tail -n 25 "$DIR/kubesim.log" >&2 || true
exit 1
