# Shared by start.sh, stop.sh and status.sh: where the local PostgreSQL cluster lives and how to reach it.
# State folder ${DUALTRACK_PG_DIR:-/var/tmp/dualtrack-pg}: data/ (the cluster, owned by postgres), sock/ (the
# Unix socket), password (the dualtrack role's password), postgres.log, env (DUALTRACK_TEST_PG_URL).
DIR="${DUALTRACK_PG_DIR:-/var/tmp/dualtrack-pg}"
PORT="${DUALTRACK_PG_PORT:-55432}"
PGBIN="${DUALTRACK_PG_BIN:-/usr/lib/postgresql/15/bin}"
DATA="$DIR/data"
SOCK="$DIR/sock"
LOG="$DIR/postgres.log"

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

# The postmaster's pid when it runs (first line of postmaster.pid and alive), else nothing and status 1.
running_pid() {
  local pid
  [ -f "$DATA/postmaster.pid" ] || return 1
  pid="$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

answers() {
  "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2
}
