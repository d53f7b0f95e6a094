#!/usr/bin/env bash
# Start the local Slurm cluster: munged, MariaDB (127.0.0.1:3307) + slurmdbd, slurmctld, slurmd n1..n4
# (8 fake a100 GPUs each, topology/tree leaf1=n[1-2] leaf2=n[3-4] under spine) and slurmrestd with JWT on
# 127.0.0.1:6820. Idempotent: a component already running is left alone, a missing one is (re)started, so
# `stop.sh slurmctld && start.sh` brings back only the controller. Waits until the 4 nodes serve jobs and
# sbatch answers, then writes $DIR/env. Exits non-zero with the log tail of the failing daemon.
# Needs root and the packages of install.sh. State folder: ${DUALTRACK_SLURM_DIR:-/var/tmp/dualtrack-slurm}.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

say() { echo "start.sh: $*"; }

fail() {  # fail <message> [log file]
  echo "start.sh: FAILED: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    echo "---- last lines of $2 ----" >&2
    tail -n 25 "$2" >&2
  fi
  exit 1
}

wait_for() {  # wait_for <seconds> <description> <log> <command...>
  local limit="$1" what="$2" log="$3"
  shift 3
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what did not come up within ${limit}s" "$log"
    sleep 0.1
  done
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (daemons, mknod, munge)"
for bin in munged slurmctld slurmd slurmdbd slurmrestd mariadbd; do
  command -v "$bin" >/dev/null || [ -x "/usr/sbin/$bin" ] || fail "$bin is not installed: run scripts/slurm/install.sh"
done
export PATH="$PATH:/usr/sbin:/sbin"

# ---------------------------------------------------------------- folders, secrets, configs
prepare() {
  mkdir -p "$DIR"/{etc,run,log,spool/slurmctld,dev,output}
  chmod 0755 "$DIR" "$DIR/run" "$DIR/log"
  chmod 1777 "$DIR/output"   # jobs of any user (the REST user included) may write their output here
  for node in "${NODES[@]}"; do mkdir -p "$DIR/spool/$node"; done

  # munge: key, socket and pid belong to the munge user; the socket folder stays world-readable for clients
  install -d -o munge -g munge -m 0755 "$DIR/munge" "$DIR/run/munge"
  if [ ! -s "$DIR/munge/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  fi
  chown munge:munge "$DIR/munge/munge.key"
  chmod 0400 "$DIR/munge/munge.key"
  touch "$DIR/log/munged.log" && chown munge:munge "$DIR/log/munged.log" && chmod 0640 "$DIR/log/munged.log"

  # fake GPUs: character devices with NVIDIA's major number
  for i in 0 1 2 3 4 5 6 7; do
    [ -c "$DIR/dev/nvidia$i" ] || { rm -f "$DIR/dev/nvidia$i"; mknod "$DIR/dev/nvidia$i" c 195 "$i"; }
  done

  [ -s "$DIR/etc/jwt_hs256.key" ] || dd if=/dev/urandom of="$DIR/etc/jwt_hs256.key" bs=32 count=1 status=none
  chmod 0600 "$DIR/etc/jwt_hs256.key"
  [ -s "$DIR/etc/db.pass" ] || (umask 077 && head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$DIR/etc/db.pass")

  local host ports before
  host="$(hostname)"
  before="$( (cat "$DIR"/etc/*.conf 2>/dev/null || true) | md5sum)"
  ports="$SLURMD_BASE_PORT-$((SLURMD_BASE_PORT + ${#NODES[@]} - 1))"
  for name in slurm.conf gres.conf topology.conf slurmdbd.conf; do
    sed -e "s|@DIR@|$DIR|g" -e "s|@HOST@|$host|g" -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
        -e "s|@DBD_PORT@|$DBD_PORT|g" -e "s|@DB_PORT@|$DB_PORT|g" -e "s|@SLURMD_PORTS@|$ports|g" \
        -e "s|@DB_PASS@|$(cat "$DIR/etc/db.pass")|g" \
        "$SCRIPTS/templates/$name.in" > "$DIR/etc/$name.new"
    mv "$DIR/etc/$name.new" "$DIR/etc/$name"
  done
  chmod 0644 "$DIR/etc/slurm.conf" "$DIR/etc/gres.conf" "$DIR/etc/topology.conf"
  chmod 0600 "$DIR/etc/slurmdbd.conf"
  CONFIG_CHANGED=0
  [ "$before" = "$(cat "$DIR"/etc/*.conf | md5sum)" ] || CONFIG_CHANGED=1

  id "$REST_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$REST_USER"
}

# ---------------------------------------------------------------- daemons
start_munged() {
  if running_pid munged >/dev/null; then say "munged already running"; return; fi
  rm -f "$DIR/munge/munge.socket.2" "$DIR/munge/munge.socket.2.lock"
  runuser -u munge -- /usr/sbin/munged --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket.2" \
    --pid-file="$(pid_file munged)" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed" \
    || fail "munged refused to start" "$DIR/log/munged.log"
  wait_for 10 munged "$DIR/log/munged.log" test -S "$DIR/munge/munge.socket.2"
  say "munged started"
}

mysql_cli() { mariadb --no-defaults -S "$DIR/mysql/mysqld.sock" -u root "$@"; }

start_mariadb() {
  if running_pid mariadb >/dev/null; then say "mariadb already running"; return; fi
  install -d -o mysql -g mysql -m 0750 "$DIR/mysql" "$DIR/run/mariadb"
  touch "$DIR/log/mariadb.log" && chown mysql:mysql "$DIR/log/mariadb.log"
  if [ ! -d "$DIR/mysql/data/mysql" ]; then
    say "initialising MariaDB data in $DIR/mysql/data"
    mariadb-install-db --no-defaults --user=mysql --datadir="$DIR/mysql/data" --skip-test-db \
      --auth-root-authentication-method=socket >> "$DIR/log/mariadb.log" 2>&1 \
      || fail "mariadb-install-db failed" "$DIR/log/mariadb.log"
  fi
  rm -f "$DIR/mysql/mysqld.sock"
  setsid mariadbd --no-defaults --user=mysql --datadir="$DIR/mysql/data" --socket="$DIR/mysql/mysqld.sock" \
    --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$(pid_file mariadb)" \
    --log-error="$DIR/log/mariadb.log" --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
    --performance-schema=OFF < /dev/null >> "$DIR/log/mariadb.log" 2>&1 &
  wait_for 60 mariadb "$DIR/log/mariadb.log" mysql_cli -e "SELECT 1"
  local pass
  pass="$(cat "$DIR/etc/db.pass")"
  mysql_cli <<SQL || fail "could not create the accounting database user" "$DIR/log/mariadb.log"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL
  say "mariadb started on 127.0.0.1:$DB_PORT"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_slurmdbd() {
  if running_pid slurmdbd >/dev/null; then say "slurmdbd already running"; return; fi
  slurmdbd || fail "slurmdbd refused to start" "$DIR/log/slurmdbd.log"
  wait_for 60 slurmdbd "$DIR/log/slurmdbd.log" port_open "$DBD_PORT"
  say "slurmdbd started on 127.0.0.1:$DBD_PORT"
}

ensure_cluster_registered() {
  if ! sacctmgr -n -P list cluster format=cluster 2>/dev/null | grep -qx dualtrack; then
    sacctmgr -i add cluster dualtrack >/dev/null || fail "could not register the cluster in slurmdbd" "$DIR/log/slurmdbd.log"
    say "registered cluster dualtrack in slurmdbd"
  fi
}

start_slurmctld() {
  if running_pid slurmctld >/dev/null; then
    if [ "$CONFIG_CHANGED" -eq 1 ]; then
      scontrol reconfigure || fail "scontrol reconfigure failed" "$DIR/log/slurmctld.log"
      say "slurmctld already running; configuration changed: reconfigured"
    else
      say "slurmctld already running"
    fi
    return
  fi
  slurmctld -f "$SLURM_CONF" || fail "slurmctld refused to start" "$DIR/log/slurmctld.log"
  wait_for 30 slurmctld "$DIR/log/slurmctld.log" scontrol ping
  say "slurmctld started on $(hostname):$CTLD_PORT"
}

start_slurmd() {
  local node="$1"
  if running_pid "slurmd-$node" >/dev/null; then say "slurmd $node already running"; return; fi
  slurmd -f "$SLURM_CONF" -N "$node" || fail "slurmd $node refused to start" "$DIR/log/slurmd-$node.log"
  wait_for 15 "slurmd $node" "$DIR/log/slurmd-$node.log" running_pid "slurmd-$node"
  say "slurmd $node started"
}

root_token() { scontrol token username=root lifespan=31536000 | sed -n 's/^SLURM_JWT=//p'; }

start_slurmrestd() {
  if running_pid slurmrestd >/dev/null; then say "slurmrestd already running"; return; fi
  (
    export SLURM_JWT=daemon
    # in the state folder, as slurmctld and slurmd chdir themselves: slurmrestd does not, and inheriting the
    # caller's folder (a checkout that may be deleted while the cluster runs) made every submit fail getcwd
    cd "$DIR/log"
    exec setsid slurmrestd -f "$SLURM_CONF" -u "$REST_USER" -g "$REST_USER" -a rest_auth/jwt \
      -s openapi/v0.0.38,openapi/dbv0.0.38 "127.0.0.1:$REST_PORT" < /dev/null >> "$DIR/log/slurmrestd.log" 2>&1
  ) &
  echo $! > "$(pid_file slurmrestd)"
  wait_for 15 slurmrestd "$DIR/log/slurmrestd.log" port_open "$REST_PORT"
  say "slurmrestd started on 127.0.0.1:$REST_PORT (JWT)"
}

# ---------------------------------------------------------------- readiness
nodes_ready() {  # every node answers and is idle/mixed/allocated (not down, drained or not responding)
  local states
  states="$(sinfo -h -N -p gpu -o '%N %T' 2>/dev/null)" || return 1
  [ "$(wc -l <<<"$states")" -eq "${#NODES[@]}" ] || return 1
  ! grep -qvE '^n[0-9]+ (idle|mixed|allocated|completing)$' <<<"$states"
}

resume_stuck_nodes() {  # a node left down/drained by an earlier crash of this very cluster is resumed
  local stuck
  stuck="$(sinfo -h -N -p gpu -t down,drain,drained,draining,fail -o '%N' 2>/dev/null | sort -u | paste -sd, -)"
  if [ -n "$stuck" ]; then
    scontrol update nodename="$stuck" state=resume 2>/dev/null || true
    say "resumed nodes $stuck"
  fi
}

wait_nodes() {
  local deadline=$((SECONDS + 30)) resumed=0
  until nodes_ready; do
    if [ "$resumed" -eq 0 ] && [ "$SECONDS" -ge $((deadline - 27)) ]; then resume_stuck_nodes; resumed=1; fi
    [ "$SECONDS" -lt "$deadline" ] || { sinfo -N -p gpu >&2 || true; fail "nodes not idle within 30s" "$DIR/log/slurmctld.log"; }
    sleep 0.2
  done
  say "nodes ready: $(sinfo -h -N -p gpu -o '%N=%T' | paste -sd' ' -)"
}

write_env() {
  local token_file="$DIR/etc/root.jwt" token
  token="$(root_token)" || fail "scontrol token failed" "$DIR/log/slurmctld.log"
  [ -n "$token" ] || fail "scontrol token printed no token (is auth/jwt configured?)" "$DIR/log/slurmctld.log"
  (umask 077 && printf '%s\n' "$token" > "$token_file.new" && mv "$token_file.new" "$token_file")
  wait_for 15 "slurmrestd ping" "$DIR/log/slurmrestd.log" \
    curl -fsS -H "X-SLURM-USER-NAME: root" -H "X-SLURM-USER-TOKEN: $token" "http://127.0.0.1:$REST_PORT/slurm/v0.0.38/ping"
  cat > "$DIR/env.new" <<ENV
# Written by scripts/slurm/start.sh; source it: . $DIR/env
export DUALTRACK_SLURM_DIR=$DIR
export SLURM_CONF=$SLURM_CONF
export DUALTRACK_SLURM_CONF=$SLURM_CONF
export DUALTRACK_SLURM_PARTITION=gpu
export DUALTRACK_SLURM_OUTPUT_DIR=$DIR/output
export DUALTRACK_SLURM_REST_URL=http://127.0.0.1:$REST_PORT
export DUALTRACK_SLURM_REST_USER=root
export DUALTRACK_SLURM_REST_TOKEN_FILE=$token_file
export DUALTRACK_SLURM_REST_API_VERSION=v0.0.38
export DUALTRACK_SLURM_JOBCOMP=$DIR/log/jobcomp.txt
ENV
  mv "$DIR/env.new" "$DIR/env"
}

started=$SECONDS
prepare
start_munged
start_mariadb
start_slurmdbd
ensure_cluster_registered
start_slurmctld
for node in "${NODES[@]}"; do start_slurmd "$node"; done
wait_nodes
sbatch --test-only -p gpu -N1 --gres=gpu:a100:1 -o /dev/null --wrap true >/dev/null 2>&1 \
  || { sbatch --test-only -p gpu -N1 --wrap true >&2 || true; fail "sbatch --test-only is refused" "$DIR/log/slurmctld.log"; }
start_slurmrestd
write_env
say "cluster ready in $((SECONDS - started))s; state in $DIR; run: . $DIR/env"
