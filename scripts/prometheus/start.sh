#!/usr/bin/env bash
# Start (or reconfigure) a local Prometheus on 127.0.0.1 that scrapes the given dualtrack /metrics targets
# every second and evaluates charts/alerts/dualtrack-rules.yaml.
#
#   scripts/prometheus/start.sh 127.0.0.1:9464 [HOST:PORT ...]
#
# Environment:
#   DUALTRACK_PROM_DIR    config, data, log and pid file (default /var/tmp/dualtrack-prom)
#   DUALTRACK_PROM_PORT   Prometheus' own port on 127.0.0.1 (default 9090)
#   DUALTRACK_PROM_RULES  rules file to load (default: the repository's charts/alerts/dualtrack-rules.yaml)
# Prints the Prometheus URL. When a Prometheus started here is already running it is given the new
# configuration (SIGHUP) instead of a second process. Stop it with scripts/prometheus/stop.sh.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 HOST:PORT [HOST:PORT ...]  (the broker's metrics endpoints)" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${DUALTRACK_PROM_DIR:-/var/tmp/dualtrack-prom}
port=${DUALTRACK_PROM_PORT:-9090}
rules=${DUALTRACK_PROM_RULES:-$repo/charts/alerts/dualtrack-rules.yaml}

"$here/install.sh"
mkdir -p "$dir/data"

targets=""
for target in "$@"; do
    if [[ ! $target =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]]; then
        echo "target: '$target' is not HOST:PORT" >&2
        exit 2
    fi
    targets+="'$target', "
done
cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - '$rules'
scrape_configs:
  - job_name: dualtrack
    static_configs:
      - targets: [${targets%, }]
YAML
promtool check config "$dir/prometheus.yml" >/dev/null

url="http://127.0.0.1:$port"
pid_file="$dir/prometheus.pid"
if [[ -s $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    kill -HUP "$(cat "$pid_file")"
else
    nohup prometheus \
        --config.file="$dir/prometheus.yml" \
        --storage.tsdb.path="$dir/data" \
        --storage.tsdb.retention.time=1d \
        --web.listen-address="127.0.0.1:$port" \
        >"$dir/prometheus.log" 2>&1 &
    echo $! >"$pid_file"
fi

for _ in $(seq 1 60); do
    if curl -fsS "$url/-/ready" >/dev/null 2>&1; then
        echo "$url"
        exit 0
    fi
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        echo "prometheus exited; last lines of $dir/prometheus.log:" >&2
        tail -20 "$dir/prometheus.log" >&2
        exit 1
    fi
    sleep 0.5
done
echo "prometheus did not become ready on $url within 30 s (log: $dir/prometheus.log)" >&2
exit 1
