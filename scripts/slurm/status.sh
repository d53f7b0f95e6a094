#!/usr/bin/env bash
# Show which daemons of the local Slurm cluster run (by pid file) and, when slurmctld answers, the nodes.
# Exit status: 0 when every daemon runs and the controller answers, 1 otherwise.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ok=0
for name in "${ALL_COMPONENTS[@]}"; do
  if pid="$(running_pid "$name")"; then
    printf '%-12s running  pid %s\n' "$name" "$pid"
  else
    printf '%-12s STOPPED  (log: %s)\n' "$name" "$(log_file "$name")"
    ok=1
  fi
done
echo "state folder: $DIR"
if [ -f "$SLURM_CONF" ] && scontrol ping >/dev/null 2>&1; then
  sinfo -N -p gpu -o '%N %T %G %C' 2>/dev/null
  squeue -h -o '%i %j %T' 2>/dev/null | awk 'END { print NR " job(s) in squeue" }'
else
  echo "slurmctld does not answer"
  ok=1
fi
exit "$ok"
