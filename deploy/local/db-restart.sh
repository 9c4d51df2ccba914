#!/usr/bin/env bash
# Restarts the local PostgreSQL cluster in place, for integration tests (connection-loss / recovery).
#   db-restart.sh [DOWN_SECONDS]   fast restart (DOWN_SECONDS=0, default) or stop, wait, start
# Returns when pg_isready answers. Prints timings.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OT_LOG_PREFIX=db-restart
# shellcheck source=common.sh
. "$HERE/common.sh"

down="${1:-0}"
v="$(pg_version)"
[ -n "$v" ] || die "no PostgreSQL 'main' cluster (pg_lsclusters)"
pg_ready "$v" || die "postgresql $v is not running (run deploy/local/servers.sh)"

t0=$(now_ms)
if [ "$down" = 0 ]; then
  without_fds "${SUDO[@]}" pg_ctlcluster "$v" main restart -m fast
else
  as_root pg_ctlcluster "$v" main stop -m fast
  log "stopped in $(( $(now_ms) - t0 )) ms"
  sleep "$down"; log "was down ${down}s"
  without_fds "${SUDO[@]}" pg_ctlcluster "$v" main start
fi
wait_for "$OT_WAIT" "postgresql $v" pg_ready "$v"
log "postgresql $v restarted, ready in $(( $(now_ms) - t0 )) ms"
