#!/usr/bin/env bash
# Set up and run every test: README command (2), and what CI runs (.ci/run).
#   scripts/setup.sh -> start the local Slurm cluster and PostgreSQL -> build the YOLO image and its SIF
#   -> lint, types, generated-file checks
#   -> pytest over tests/ (unit, contract, integration against the real services, end-to-end).
# Services the tests need and this script started are stopped at the end. Extra arguments go to pytest.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
started=()
cleanup() {
  local rc=$?
  for service in "${started[@]}"; do "scripts/$service/stop.sh" >/dev/null 2>&1 || true; done
  exit "$rc"
}
trap cleanup EXIT

section() { printf '\n==> %s\n' "$*"; }

section "setup"
scripts/setup.sh

section "services"
if ! scripts/slurm/status.sh >/dev/null 2>&1; then started+=(slurm); fi
scripts/slurm/start.sh
if [ -x scripts/postgres/start.sh ]; then
  if ! scripts/postgres/status.sh >/dev/null 2>&1; then started+=(postgres); fi
  scripts/postgres/start.sh
  # shellcheck disable=SC1091
  . "${DUALTRACK_PG_DIR:-/var/tmp/dualtrack-pg}/env"
fi

section "YOLO image"
# images/yolo/Dockerfile -> OCI layout (cached by input hash; ~10 min cold, <1 s warm), then its SIF (cached by
# digest) for the YOLO tests on Slurm (tests/integration/yolo, docs/yolo.md)
yolo_layout="$(scripts/images/build-yolo.sh)"
.venv/bin/dualtrack image convert localhost/dualtrack-yolo:cpu --source "$yolo_layout" \
  -c examples/config/yolo-images.yaml

section "lint and types"
.venv/bin/ruff check .
scripts/typecheck.sh
.venv/bin/python scripts/prometheus/gen_prometheusrule.py --check
promtool check rules charts/alerts/dualtrack-rules.yaml

# Two passes (docs/testing.md): most tests wait on daemons, subprocesses and virtual clusters rather than the
# CPU, so they run in DUALTRACK_TEST_WORKERS processes (pytest-xdist, one test file per worker at a time);
# the tests marked `exclusive` stop or down part of the shared Slurm cluster, or measure latency, so they run
# afterwards one at a time. Exit code 5 ("no tests collected", e.g. under a -k filter) is not a failure.
section "tests (parallel pass: ${DUALTRACK_TEST_WORKERS:-4} workers)"
rc=0
.venv/bin/pytest -p no:cacheprovider -n "${DUALTRACK_TEST_WORKERS:-4}" --dist loadfile -m "not exclusive" "$@" || rc=$?
[ "$rc" -eq 5 ] && rc=0
section "tests (exclusive pass)"
rc2=0
.venv/bin/pytest -p no:cacheprovider -m exclusive "$@" || rc2=$?
[ "$rc2" -eq 5 ] && rc2=0
[ "$rc" -eq 0 ] && [ "$rc2" -eq 0 ]
