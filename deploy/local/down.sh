#!/usr/bin/env bash
# Stops the services started by deploy/local/up.sh (SIGTERM: they drain and exit cleanly).
# --servers also stops RabbitMQ and PostgreSQL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
STATE=.build/local-run
quiet=false; servers=false
for a in "$@"; do case "$a" in --quiet) quiet=true ;; --servers) servers=true ;; esac; done
shopt -s nullglob
for f in "$STATE"/*.pid; do
  pid=$(cat "$f"); name=$(basename "$f" .pid)
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    $quiet || echo "stopped $name (pid $pid)"
  fi
  rm -f "$f"
done
if $servers; then bash deploy/local/servers-stop.sh; fi
