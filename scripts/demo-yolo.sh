#!/usr/bin/env bash
# Part of README command (1), called by scripts/demo.sh (also runnable alone): train one tiny real YOLO job
# through the broker on the local Slurm cluster and print its final metrics line and weights path.
#
#   - the project's YOLO image (scripts/images/build-yolo.sh: cached by input hash, ~10 min the first time)
#     converted once to a SIF by the broker's image pipeline (cached by digest; runtime sif-bwrap)
#   - the synthetic dataset at /var/tmp/dualtrack-datasets/synthetic, mounted at /datasets/synthetic
#   - a broker of its own on examples/config/slurm-yolo.yaml (127.0.0.1:50052, store /var/tmp/dualtrack-demo-yolo)
#   - examples/yolo-cpu-tiny.yaml: yolov8n.yaml, 2 epochs on CPU; weights in the job's output_dir
# Needs root (sif-bwrap), the Slurm cluster running (scripts/slurm/start.sh). The broker stops at the end.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
DT=.venv/bin/dualtrack
PY=.venv/bin/python
DATA_DIR=/var/tmp/dualtrack-demo-yolo
export DUALTRACK_ADDRESS=127.0.0.1:50052   # examples/config/slurm-yolo.yaml's server.address

echo "building the YOLO image (a cache hit after the first time) and its SIF"
layout="$(scripts/images/build-yolo.sh)"
$DT image convert localhost/dualtrack-yolo:cpu --source "$layout" -c examples/config/yolo-images.yaml
$PY -m dualtrack.sim.datasets.yolo_synthetic /var/tmp/dualtrack-datasets/synthetic --images 16 >/dev/null
mkdir -p /var/tmp/dualtrack-checkpoints "$DATA_DIR"
rm -f "$DATA_DIR"/dualtrack.sqlite*

$DT serve --config examples/config/slurm-yolo.yaml --log-level warning >"$DATA_DIR/broker.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if $DT backends -o json >/dev/null 2>&1; then break; fi
  if ! kill -0 $broker 2>/dev/null; then cat "$DATA_DIR/broker.log"; exit 1; fi
  sleep 0.2
done
sleep 2  # one reconciler cycle: the cluster's capacity snapshot

started=$(date +%s)
job_id=$($DT submit examples/yolo-cpu-tiny.yaml -o json | $PY -c 'import json,sys; print(json.load(sys.stdin)["job"]["id"])')
$DT watch "$job_id"
$DT get "$job_id"
state=$($DT get "$job_id" -o json | $PY -c 'import json,sys; print(json.load(sys.stdin)["state"])')
out_dir=$($DT get "$job_id" -o json | $PY -c 'import json,sys; print(json.load(sys.stdin)["output_dir"])')
echo
echo "submit to $state in $(( $(date +%s) - started )) s"
if [ "$state" != SUCCEEDED ]; then
  echo "the YOLO job did not succeed; broker log: $DATA_DIR/broker.log" >&2
  exit 1
fi
echo "final metrics (results.csv, last epoch):"
$PY - "$out_dir/results.csv" <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
last = {k.strip(): v.strip() for k, v in rows[-1].items()}
keys = ["epoch", "train/box_loss", "train/cls_loss", "metrics/precision(B)", "metrics/recall(B)",
        "metrics/mAP50(B)", "metrics/mAP50-95(B)"]
print("  " + "  ".join(f"{k}={last[k]}" for k in keys if k in last))
PYEOF
echo "weights: $out_dir/weights/best.pt (and last.pt)"
