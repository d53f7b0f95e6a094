#!/usr/bin/env bash
# Stop the local Slurm cluster, or some of its daemons, by the PIDs in their pid files (never by name).
# Usage: stop.sh                      every daemon, in reverse start order
#        stop.sh slurmctld            just the controller (start.sh brings it back)
#        stop.sh slurmd-n3 slurmrestd some daemons; `slurmd` means all four slurmd
# Components: munged mariadb slurmdbd slurmctld slurmd slurmd-n1..n4 slurmrestd. State is kept; remove
# ${DUALTRACK_SLURM_DIR:-/var/tmp/dualtrack-slurm} by hand for a clean slate.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_one() {
  local name="$1" pid
  if ! pid="$(running_pid "$name")"; then
    echo "stop.sh: $name not running"
    rm -f "$(pid_file "$name")"
    return
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop.sh: $name (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
  echo "stop.sh: $name stopped (pid $pid)"
}

targets=()
if [ "$#" -eq 0 ]; then
  for ((i = ${#ALL_COMPONENTS[@]} - 1; i >= 0; i--)); do targets+=("${ALL_COMPONENTS[$i]}"); done
else
  for arg in "$@"; do
    case "$arg" in
      slurmd) targets+=(slurmd-n1 slurmd-n2 slurmd-n3 slurmd-n4) ;;
      n[1-4]) targets+=("slurmd-$arg") ;;
      munge) targets+=(munged) ;;
      mysql|mysqld|mariadbd) targets+=(mariadb) ;;
      munged|mariadb|slurmdbd|slurmctld|slurmd-n[1-4]|slurmrestd) targets+=("$arg") ;;
      *) echo "stop.sh: unknown component '$arg' (one of: ${ALL_COMPONENTS[*]} slurmd)" >&2; exit 2 ;;
    esac
  done
fi
for name in "${targets[@]}"; do stop_one "$name"; done
