#!/usr/bin/env bash
# Say whether the cluster of scripts/postgres/start.sh runs and answers on 127.0.0.1:$PORT.
# Exit status: 0 when it answers, 1 otherwise.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if pid="$(running_pid)"; then echo "postgres     running  pid $pid (data $DATA)"; else echo "postgres     STOPPED  (log: $LOG)"; fi
if answers; then
  echo "answers on 127.0.0.1:$PORT; env file: $DIR/env"
  exit 0
fi
echo "does not answer on 127.0.0.1:$PORT"
exit 1
