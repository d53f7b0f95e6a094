#!/usr/bin/env bash
# Start a private PostgreSQL 15 cluster for the tests (and for HA brokers): initdb as the postgres user under
# ${DUALTRACK_PG_DIR:-/var/tmp/dualtrack-pg}, listening only on 127.0.0.1:${DUALTRACK_PG_PORT:-55432}, with a
# role and database "dualtrack" (password in $DIR/password, CREATEDB so the tests can make scratch databases).
# Writes $DIR/env exporting DUALTRACK_TEST_PG_URL. Idempotent: a running cluster is left alone.
# Stop it with scripts/postgres/stop.sh; scripts/postgres/status.sh exits 0 when it answers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ ! -x "$PGBIN/postgres" ]; then
  echo "start.sh: no PostgreSQL binaries in $PGBIN (apt-get install postgresql-15)" >&2
  exit 1
fi
mkdir -p "$DIR"
chmod 755 "$DIR"
if [ ! -s "$DIR/password" ]; then
  (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$DIR/password")
fi
PASSWORD="$(cat "$DIR/password")"

if [ ! -f "$DATA/PG_VERSION" ]; then
  mkdir -p "$DATA"
  chown postgres: "$DATA"
  chmod 700 "$DATA"
  as_postgres "$PGBIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $PORT"
    echo "unix_socket_directories = '$SOCK'"
    echo "max_connections = 300"
    echo "shared_buffers = 128MB"
  } | as_postgres tee -a "$DATA/postgresql.conf" >/dev/null
fi
mkdir -p "$SOCK"
chown postgres: "$SOCK"
touch "$LOG" && chown postgres: "$LOG"

if pid="$(running_pid)" && answers; then
  echo "start.sh: already running (pid $pid) on 127.0.0.1:$PORT"
else
  as_postgres "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -o "-p $PORT -k $SOCK" start >/dev/null || {
    echo "start.sh: FAILED: PostgreSQL did not start" >&2; tail -n 25 "$LOG" >&2; exit 1; }
fi

PSQL="$PGBIN/psql"
[ -x "$PSQL" ] || PSQL="$(command -v psql)"
psql_admin() { as_postgres "$PSQL" -X -q -h "$SOCK" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'dualtrack'")" != 1 ]; then
  psql_admin -c "CREATE ROLE dualtrack LOGIN CREATEDB PASSWORD '$PASSWORD'"
else
  psql_admin -c "ALTER ROLE dualtrack LOGIN CREATEDB PASSWORD '$PASSWORD'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'dualtrack'")" != 1 ]; then
  psql_admin -c "CREATE DATABASE dualtrack OWNER dualtrack"
fi

URL="postgresql+psycopg://dualtrack:$PASSWORD@127.0.0.1:$PORT/dualtrack"
(umask 077; printf 'export DUALTRACK_TEST_PG_URL=%q\n' "$URL" >"$DIR/env")
echo "start.sh: PostgreSQL on 127.0.0.1:$PORT (pid $(running_pid)); source $DIR/env for DUALTRACK_TEST_PG_URL"
