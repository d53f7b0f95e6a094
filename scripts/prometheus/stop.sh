#!/usr/bin/env bash
# Stop the Prometheus that start.sh started (its pid file in ${DUALTRACK_PROM_DIR:-/var/tmp/dualtrack-prom}).
# Idempotent. Keeps the data directory; pass --purge to delete it too.
set -euo pipefail

dir=${DUALTRACK_PROM_DIR:-/var/tmp/dualtrack-prom}
pid_file="$dir/prometheus.pid"
if [[ -s $pid_file ]]; then
    pid=$(cat "$pid_file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid"
        fi
    fi
    rm -f "$pid_file"
fi
if [[ ${1:-} == --purge ]]; then
    rm -rf "$dir"
fi
