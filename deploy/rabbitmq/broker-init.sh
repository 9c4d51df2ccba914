#!/usr/bin/env bash
# One-shot init for docker-compose (service `broker-init`, image rabbitmq:3.13-management):
# waits for the broker container, then creates the vhost, users and permissions from users.sh —
# the same list deploy/local/servers.sh applies. Definitions (exchanges, queues, bindings,
# policies) are loaded by the broker itself at boot (rabbitmq.conf: load_definitions).
#
# Needs: the broker's data volume mounted at /var/lib/rabbitmq (for the Erlang cookie) and
# RABBITMQ_NODE (default rabbit@rabbitmq: the broker container's hostname must be `rabbitmq`).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="${RABBITMQ_NODE:-rabbit@rabbitmq}"
WAIT="${OT_WAIT_SECONDS:-120}"
ot_log() { printf '[broker-init] %s\n' "$*"; }

# The CLI authenticates with ~/.erlang.cookie: copy the broker's (shared volume), never print it.
cookie_src=/var/lib/rabbitmq/.erlang.cookie
deadline=$((SECONDS + WAIT))
until [ -s "$cookie_src" ]; do
  [ "$SECONDS" -lt "$deadline" ] || { ot_log "ERROR: no Erlang cookie at $cookie_src after ${WAIT}s"; exit 1; }
  sleep 1
done
umask 077
cp "$cookie_src" "$HOME/.erlang.cookie"
chmod 400 "$HOME/.erlang.cookie"

rmqctl() { rabbitmqctl -n "$NODE" "$@"; }

until rabbitmq-diagnostics -n "$NODE" -q ping >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || { ot_log "ERROR: $NODE does not answer ping after ${WAIT}s"; exit 1; }
  sleep 1
done
rmqctl -q await_startup --timeout "$WAIT" >/dev/null
ot_log "$NODE is up"

# shellcheck source=users.sh
. "$HERE/users.sh"
ot_rmq_apply_users
