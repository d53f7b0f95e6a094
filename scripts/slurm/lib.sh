# Shared by start.sh, stop.sh and status.sh (sourced, not executed).
# Every piece of state lives under one folder: ${DUALTRACK_SLURM_DIR:-/var/tmp/dualtrack-slurm}.
#   etc/   rendered configs, munge-less secrets (jwt key, db password, root token)
#   run/   pid files (run/munge and run/mariadb belong to the munge and mysql users)
#   log/   every daemon's log, plus jobcomp.txt
#   spool/ slurmctld state and one slurmd spool per node
#   dev/   the fake GPU device files; munge/ the munge key and socket; mysql/ the MariaDB data
#   output/ default folder for jobs' slurm-%j.out; env  the exports tests and the broker config use

DIR="${DUALTRACK_SLURM_DIR:-/var/tmp/dualtrack-slurm}"
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CTLD_PORT="${DUALTRACK_SLURM_CTLD_PORT:-6817}"
DBD_PORT="${DUALTRACK_SLURM_DBD_PORT:-6819}"
DB_PORT="${DUALTRACK_SLURM_DB_PORT:-3307}"
REST_PORT="${DUALTRACK_SLURM_REST_PORT:-6820}"
SLURMD_BASE_PORT="${DUALTRACK_SLURM_SLURMD_BASE_PORT:-17001}"
NODES=(n1 n2 n3 n4)
REST_USER="dualtrack-rest"
export SLURM_CONF="$DIR/etc/slurm.conf"

# component -> pid file and the process name /proc/<pid>/comm must show
pid_file() {
  case "$1" in
    munged) echo "$DIR/run/munge/munged.pid" ;;
    mariadb) echo "$DIR/run/mariadb/mariadb.pid" ;;
    slurmd-*) echo "$DIR/run/$1.pid" ;;
    *) echo "$DIR/run/$1.pid" ;;
  esac
}

proc_name() {
  case "$1" in
    slurmd-*) echo "slurmd" ;;
    mariadb) echo "mariadbd" ;;
    *) echo "$1" ;;
  esac
}

# Prints the pid of a running component, or nothing (exit 1) when it is not running.
running_pid() {
  local file pid
  file="$(pid_file "$1")"
  [ -s "$file" ] || return 1
  pid="$(tr -dc '0-9' < "$file")"
  [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  grep -qx "$(proc_name "$1")" "/proc/$pid/comm" 2>/dev/null || return 1
  echo "$pid"
}

ALL_COMPONENTS=(munged mariadb slurmdbd slurmctld slurmd-n1 slurmd-n2 slurmd-n3 slurmd-n4 slurmrestd)

log_file() {
  case "$1" in
    mariadb) echo "$DIR/log/mariadb.log" ;;
    *) echo "$DIR/log/$1.log" ;;
  esac
}
