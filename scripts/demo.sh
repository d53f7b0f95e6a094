#!/usr/bin/env bash
# README command (1): set up, start both local clusters and the broker on its embedded defaults, submit the
# example jobs, and show where each went, why, and its progress to the end.
#
#   - the local Slurm cluster (scripts/slurm/start.sh): 4 nodes x 8 fake a100 GPUs under 2 leaf switches;
#     jobs run for real there (container runtime "none": on the host)
#   - the Kubernetes API simulator (scripts/kubesim/start.sh): 4 nodes x 8 a100 behind the official
#     kubernetes client and a Volcano-like gang scheduler; its pods are simulated (no containers run)
#   - scripts/demo-kube-yolo.sh: a second simulator whose node runs pods for real (the process kubelet) and
#     a real 2-epoch YOLO job on it, with `kubectl logs` of its pod
#   - dualtrack serve with no config file: SQLite in $DUALTRACK_DATA_DIR, both clusters as backends
#   - scripts/demo-yolo.sh: one real ultralytics YOLO training inside the SIF of the project's image on Slurm
#
# The clusters keep running afterwards (stop them with scripts/slurm/stop.sh and scripts/kubesim/stop.sh);
# the broker is stopped at the end.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export DUALTRACK_DATA_DIR="${DUALTRACK_DATA_DIR:-/var/tmp/dualtrack-demo}"
export DUALTRACK_ADDRESS="${DUALTRACK_ADDRESS:-127.0.0.1:50051}"
export COLUMNS="${COLUMNS:-160}"
DT=.venv/bin/dualtrack

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "setup (Debian packages, .venv)"
scripts/setup.sh

step "start the local Slurm cluster and the Kubernetes API simulator"
scripts/slurm/start.sh
scripts/kubesim/start.sh

step "start the broker on its embedded defaults (store: $DUALTRACK_DATA_DIR/dualtrack.sqlite)"
mkdir -p "$DUALTRACK_DATA_DIR"
rm -f "$DUALTRACK_DATA_DIR"/dualtrack.sqlite*
$DT serve --log-level warning >"$DUALTRACK_DATA_DIR/broker.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if $DT backends -o json >/dev/null 2>&1; then break; fi
  if ! kill -0 $broker 2>/dev/null; then cat "$DUALTRACK_DATA_DIR/broker.log"; exit 1; fi
  sleep 0.2
done
sleep 2  # one reconciler cycle: both clusters' capacity snapshots
cat "$DUALTRACK_DATA_DIR/broker.log" | grep -v "^20" || true

step "what both clusters hold"
$DT backends

step "validate the example specs"
$DT validate examples/*.yaml

step "where would the 4 x 2-GPU training gang go, and why? (dry run: every backend's filters and scores)"
$DT explain examples/yolo-4x2-gang.yaml

step "submit it and follow it to the end"
yolo_id=$($DT submit examples/yolo-4x2-gang.yaml -o json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["job"]["id"])')
$DT watch "$yolo_id"
$DT get "$yolo_id"
echo
echo "the Volcano Job the broker created for it:"
$DT render examples/yolo-4x2-gang.yaml --track kubernetes 2>/dev/null | sed -n '1,30p'
echo "  ..."

step "a 2-node gang pinned to Slurm: it runs for real and prints what each worker sees"
check_id=$($DT submit examples/gpu-check.yaml -o json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["job"]["id"])')
$DT watch "$check_id"
slurm_id=$($DT get "$check_id" -o json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["backend_job_id"])')
echo "output of Slurm job $slurm_id:"
sed 's/^/  /' "${DUALTRACK_SLURM_DIR:-/var/tmp/dualtrack-slurm}/output/slurm-$slurm_id.out"

step "a job no backend could ever run is refused at submit, with each backend's reason"
sed 's/gpusPerWorker: 8/gpusPerWorker: 16/' examples/yolo-8gpu-node.yaml >"$DUALTRACK_DATA_DIR/too-big.yaml"
$DT submit "$DUALTRACK_DATA_DIR/too-big.yaml" || echo "(refused, as it should be: exit code $?)"

step "a tiny real YOLO training on Slurm: the project's image as a SIF, a synthetic dataset, 2 epochs on CPU"
scripts/demo-yolo.sh

step "a real YOLO job on the Kubernetes track: pods run as processes in the YOLO image (scripts/demo-kube-yolo.sh)"
scripts/demo-kube-yolo.sh

step "every job of the demo broker (the two YOLO runs above had brokers of their own, each checked to SUCCEED)"
$DT list
failed=$($DT list -o json | .venv/bin/python -c 'import json,sys; print(sum(j["state"] != "SUCCEEDED" for j in json.load(sys.stdin)))')
echo
if [ "$failed" -eq 0 ]; then
  echo "demo finished: every job SUCCEEDED. The clusters keep running; the broker stops now."
else
  echo "demo finished with $failed job(s) not SUCCEEDED; broker log: $DUALTRACK_DATA_DIR/broker.log" >&2
  exit 1
fi
