#!/usr/bin/env bash
# Restarts the local RabbitMQ in place, for integration tests (connection-loss / recovery).
#   broker-restart.sh [DOWN_SECONDS]     stop_app, stay down DOWN_SECONDS (default 0), start_app
#   broker-restart.sh --hard [DOWN]      whole node: rabbitmqctl shutdown, then rabbitmq-server -detached
# Returns when the app runs, every vhost is up and the AMQP port accepts connections. Prints timings.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OT_LOG_PREFIX=broker-restart
# shellcheck source=common.sh
. "$HERE/common.sh"

hard=0
if [ "${1:-}" = --hard ]; then hard=1; shift; fi
down="${1:-0}"

rmq_ping >/dev/null 2>&1 || die "rabbitmq is not running (run deploy/local/servers.sh)"
t0=$(now_ms)
if [ "$hard" = 1 ]; then
  as_root rabbitmqctl -q shutdown >/dev/null
else
  as_root rabbitmqctl -q stop_app >/dev/null
fi
t1=$(now_ms); log "stopped ($([ "$hard" = 1 ] && echo node || echo app)) in $((t1 - t0)) ms"
[ "$down" = 0 ] || { sleep "$down"; log "was down ${down}s"; }

t2=$(now_ms)
if [ "$hard" = 1 ]; then
  without_fds "${SUDO[@]}" rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for "$OT_WAIT" "rabbitmq (ping)" rmq_ping
  as_root rabbitmqctl -q await_startup --timeout "$OT_WAIT" >/dev/null
else
  as_root rabbitmqctl -q start_app >/dev/null
fi
wait_for "$OT_WAIT" "rabbitmq vhosts/listener" rmq_ready
t3=$(now_ms)
log "started and vhosts answer in $((t3 - t2)) ms (total $((t3 - t0)) ms)"
