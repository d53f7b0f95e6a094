#!/usr/bin/env bash
# Part of README command (1), run by scripts/demo.sh: one real YOLO job on the Kubernetes track.
#   - the YOLO image as an OCI layout (scripts/images/build-yolo.sh; cached, ~10 min cold) and a synthetic dataset
#   - a second Kubernetes API simulator whose node runs pods as processes (examples/sim/kube-process-yolo.yaml)
#   - a broker on examples/config/kube-yolo.yaml (127.0.0.1:50053): submit examples/yolo-cpu-tiny.yaml on the
#     kubernetes track, follow it, then `kubectl logs` of its pod and the run directory it wrote.
# The first run on a machine unpacks the image for the kubelet (a few minutes); later runs reuse it.
# Stops its broker and simulator at the end.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
DEMO=/var/tmp/dualtrack-demo-kube-yolo
export DUALTRACK_KUBESIM_DIR="$DEMO/kubesim" DUALTRACK_KUBESIM_PORT="${DUALTRACK_KUBE_YOLO_PORT:-16453}"
DT=".venv/bin/dualtrack"
ADDR=127.0.0.1:50053
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
py() { .venv/bin/python -c "$1"; }

step "the YOLO image (OCI layout) and the synthetic dataset"
scripts/images/build-yolo.sh
[ -f /var/tmp/dualtrack-datasets/synthetic/data.yaml ] || \
  .venv/bin/python -m dualtrack.sim.datasets.yolo_synthetic /var/tmp/dualtrack-datasets/synthetic
mkdir -p /var/tmp/dualtrack-checkpoints "$DEMO"
rm -f "$DEMO"/dualtrack.sqlite*

step "a Kubernetes API simulator whose node runs pods as processes (port $DUALTRACK_KUBESIM_PORT)"
scripts/kubesim/start.sh --cluster examples/sim/kube-process-yolo.yaml
$DT serve -c examples/config/kube-yolo.yaml --log-level warning >"$DEMO/broker.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null || true; scripts/kubesim/stop.sh >/dev/null' EXIT
for _ in $(seq 1 100); do
  if $DT backends -a $ADDR -o json >/dev/null 2>&1; then break; fi
  if ! kill -0 $broker 2>/dev/null; then cat "$DEMO/broker.log"; exit 1; fi
  sleep 0.2
done

step "a 2-epoch YOLO job on the Kubernetes track (it trains for real in the pod)"
id=$($DT submit examples/yolo-cpu-tiny.yaml --track kubernetes -a $ADDR -o json \
  | py 'import json,sys; print(json.load(sys.stdin)["job"]["id"])')
$DT watch "$id" -a $ADDR
$DT get "$id" -a $ADDR
object=$($DT get "$id" -a $ADDR -o json | py 'import json,sys; print(json.load(sys.stdin)["object_name"])')
out=$($DT get "$id" -a $ADDR -o json | py 'import json,sys; print(json.load(sys.stdin).get("output_dir", ""))')

step "kubectl logs $object-worker-0 (the last lines)"
kubectl --kubeconfig "$DUALTRACK_KUBESIM_DIR/kubeconfig" logs "$object-worker-0" | tail -n 12

step "the run directory it wrote: $out"
ls "$out" "$out/weights"
state=$($DT get "$id" -a $ADDR -o json | py 'import json,sys; print(json.load(sys.stdin)["state"])')
[ "$state" = "SUCCEEDED" ] || { echo "the YOLO job on Kubernetes ended $state; broker log: $DEMO/broker.log" >&2; exit 1; }
