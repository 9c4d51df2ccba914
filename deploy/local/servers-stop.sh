#!/usr/bin/env bash
# Stops the local RabbitMQ node and PostgreSQL cluster started by servers.sh. Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OT_LOG_PREFIX=servers-stop
# shellcheck source=common.sh
. "$HERE/common.sh"

t=$(now_ms)
if rmq_ping >/dev/null 2>&1; then
  as_root rabbitmqctl -q shutdown >/dev/null || die "rabbitmq: shutdown failed"
  log "rabbitmq: stopped in $(( $(now_ms) - t )) ms"
else
  log "rabbitmq: not running"
fi
# epmd outlives the node; harmless if absent.
as_root epmd -kill >/dev/null 2>&1 || true

t=$(now_ms)
v="$(pg_version)"
if [ -n "$v" ] && pg_ready "$v"; then
  as_root pg_ctlcluster "$v" main stop -m fast
  log "postgresql $v: stopped in $(( $(now_ms) - t )) ms"
else
  log "postgresql ${v:-?}: not running"
fi
