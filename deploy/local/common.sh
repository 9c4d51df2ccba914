# shellcheck shell=bash
# Helpers shared by deploy/local/*.sh (sourced).
OT_T0="${OT_T0:-$SECONDS}"
OT_WAIT="${OT_WAIT_SECONDS:-60}"
OT_LOG_PREFIX="${OT_LOG_PREFIX:-$(basename "$0" .sh)}"

log() { printf '[%s %3ds] %s\n' "$OT_LOG_PREFIX" "$((SECONDS - OT_T0))" "$*"; }
die() { printf '[%s] ERROR: %s\n' "$OT_LOG_PREFIX" "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
as_root() { "${SUDO[@]}" "$@"; }
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && sudo -u postgres "$@"); fi
}
# rabbitmqctl must run as root or rabbitmq (it reads the node's Erlang cookie).
rmqctl() { as_root rabbitmqctl "$@"; }

# wait_for SECONDS DESCRIPTION CMD...  — polls CMD every 0.5 s, dies after SECONDS.
wait_for() {
  local limit="$1" what="$2"; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what: not ready after ${limit}s"
    sleep 0.5
  done
}

# Milliseconds since the epoch (timings).
now_ms() { date +%s%3N; }

# PostgreSQL: version of the 'main' cluster (highest installed), its port, readiness.
pg_version() {
  if [ -n "${OT_PG_VERSION:-}" ]; then echo "$OT_PG_VERSION"; return; fi
  pg_lsclusters -h 2>/dev/null | awk '$2=="main" {print $1}' | sort -V | tail -n1
}
pg_port()  { pg_conftool -s "$1" main show port 2>/dev/null || echo 5432; }
pg_ready() { pg_isready -q -h 127.0.0.1 -p "$(pg_port "$1")"; }

rmq_ping() { as_root rabbitmq-diagnostics -q ping; }
# The broker accepts work: app running, every vhost up, AMQP listener reachable.
rmq_ready() {
  as_root rabbitmq-diagnostics -q check_running >/dev/null 2>&1 &&
  as_root rabbitmq-diagnostics -q check_virtual_hosts >/dev/null 2>&1 &&
  as_root rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1
}
